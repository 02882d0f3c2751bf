// Security hole 7: /metrics was public on the API port and showed who messages whom. Metrics are served on a
// listener of their own (HERALD_METRICS_PORT, bound to loopback by default), and on the public port only to a
// request carrying HERALD_METRICS_TOKEN as a bearer token.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { startTestHerald } from '../helpers.ts'

describe('security 7: where /metrics is served', () => {
  test('not on the public port by default; on the metrics listener, bound to loopback', async () => {
    const h = await startTestHerald()
    try {
      const pub = await fetch(`${h.httpUrl}/metrics`)
      assert.equal(pub.status, 404)
      assert.doesNotMatch(await pub.text(), /herald_/)
      const res = await fetch(`${h.metricsUrl}/metrics`)
      assert.equal(res.status, 200)
      assert.match(await res.text(), /herald_mqtt_connections/)
      assert.equal(h.config['metrics.host'], '127.0.0.1', 'the default binds to loopback')
      // the API stays where it was
      assert.equal((await fetch(`${h.httpUrl}/healthz`)).status, 200)
    } finally {
      await h.close()
    }
  })

  test('with HERALD_METRICS_TOKEN the public port serves them to the bearer of the token only', async () => {
    const h = await startTestHerald({ overrides: { 'metrics.token': 'scrape-me', 'metrics.port': 'off' } })
    try {
      assert.equal(h.ports.metrics, undefined, 'the listener can be turned off')
      const anon = await fetch(`${h.httpUrl}/metrics`)
      assert.equal(anon.status, 401)
      assert.deepEqual(await anon.json(), { error: 'metrics need a bearer token' })
      assert.equal((await fetch(`${h.httpUrl}/metrics`, { headers: { authorization: 'Bearer wrong' } })).status, 401)
      const ok = await fetch(`${h.httpUrl}/metrics`, { headers: { authorization: 'Bearer scrape-me' } })
      assert.equal(ok.status, 200)
      assert.match(await ok.text(), /herald_mqtt_connections/)
    } finally {
      await h.close()
    }
  })
})
