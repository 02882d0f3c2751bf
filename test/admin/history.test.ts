// The console's per-second samples (issue 15 item 2): rates and latency quantiles from Herald's own registry.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { History, quantileOf, type Sample } from '../../src/core/admin/history.ts'
import { createMetrics } from '../../src/core/http/metrics.ts'

describe('admin history', () => {
  test('quantileOf interpolates inside the bucket of the requests between two snapshots', () => {
    const prev = new Map([[0.001, 0], [0.01, 10], [0.1, 10], [Infinity, 10]])
    // since prev: 10 requests in (0.001, 0.01], none faster, 10 in (0.01, 0.1]
    const cur = new Map([[0.001, 0], [0.01, 20], [0.1, 30], [Infinity, 30]])
    assert.ok(Math.abs(quantileOf(prev, cur, 0.5)! - 10) < 1e-9, 'the median sits at the top of the first bucket')
    const p99 = quantileOf(prev, cur, 0.99)!
    assert.ok(p99 > 10 && p99 <= 100, `p99 ${p99} in the second bucket`)
    assert.equal(quantileOf(cur, cur, 0.5), null, 'no requests: no latency')
  })

  test('a sample carries the message rate, auth failures, HTTP latency, event-loop delay and RSS of its second', async () => {
    const m = createMetrics(false)
    const h = new History(m)
    const got: Sample[] = []
    h.onSample((s) => { got.push(s) })
    await h.start(50)
    try {
      m.messagesIn.value += 40
      m.messagesOut.value += 80
      m.authFailures.inc({ reason: 'bad-credentials' }, 3)
      for (let i = 0; i < 10; i++) m.httpDuration.observe({ method: 'GET', route: '/x', status: '200' }, 0.004)
      m.connections.set(7)
      while (got.length === 0) await new Promise((r) => setTimeout(r, 10))
      const s = got[0]
      assert.equal(s.connections, 7)
      assert.ok(s.messagesIn > 0 && s.messagesOut > s.messagesIn, 'out twice in')
      assert.ok(s.authFailures > 0)
      assert.ok(s.httpP50! > 2.5 && s.httpP50! <= 5, `p50 ${s.httpP50} in the 2.5–5 ms bucket`)
      assert.ok(s.rss > 0)
      assert.equal(typeof s.eventLoopP99, 'number')
      assert.deepEqual(h.all()[0], s)
    } finally {
      h.stop()
    }
  })

  test('the history keeps at most its limit, oldest dropped', async () => {
    const h = new History(createMetrics(false), 3)
    const got: Sample[] = []
    h.onSample((s) => { got.push(s) })
    await h.start(5)
    try {
      while (got.length < 5) await new Promise((r) => setTimeout(r, 5))
      const kept = h.all()
      assert.equal(kept.length, 3)
      assert.deepEqual(kept, got.slice(got.length - 3))
    } finally {
      h.stop()
    }
  })
})
