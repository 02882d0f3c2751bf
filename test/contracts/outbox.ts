// The outbox contract (issue 9 §4, §6): every database the outbox runs on passes it, the way aedes-persistence
// ships one abstract suite for its backends. Time moves only on ManualClocks: leases and back-off need no sleeps.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { Registry } from 'prom-client'
import { ManualClock } from '../../src/core/clock.ts'
import { exponentialBackoff, Outbox, type Consumer, type ConsumeOptions, type Handler, type Outcome } from '../../src/core/queue/outbox.ts'
import type { Store } from '../../src/core/store/db.ts'
import { eventually } from '../helpers.ts'

export interface OutboxFixture {
  /** a new connection (pool) to the one database of this suite, core migrations applied */
  open(): Promise<Store>
  /** drop the database (the suite has closed what it opened) */
  close(): Promise<void>
}

const until = eventually

type Seen = { type: 'settled'; id: number; attempts: number; outcome: Outcome; recorded: boolean } | { type: 'idle' }

/** A consumer and what it did, in order. */
function watch(c: Consumer) {
  const events: Seen[] = []
  c.on('settled', (row, outcome, recorded) => events.push({ type: 'settled', id: row.id, attempts: row.attempts, outcome, recorded }))
  c.on('idle', () => events.push({ type: 'idle' }))
  const settled = () => events.filter((e) => e.type === 'settled')
  return {
    c, events, settled,
    /** wait for the n-th attempt's outcome */
    nth: (n: number) => until(() => settled()[n - 1], `attempt ${n} settled`),
    /** wait until the consumer has gone to sleep after event number `from` (it then holds no claim in flight) */
    idleAfter: (from: number) => until(() => events.slice(from).some((e) => e.type === 'idle'), 'consumer idle'),
  }
}

/** A handler that holds each job until released. */
function latch() {
  const held: { payload: unknown; release: () => void; fail: (e: Error) => void }[] = []
  const handler: Handler = (job) => new Promise<void>((release, fail) => held.push({ payload: job.payload, release, fail }))
  return { held, handler }
}

let seq = 0

export function outboxContract(name: string, fixture: () => Promise<OutboxFixture | { skip: string }>): void {
  describe(`outbox contract: ${name}`, () => {
    let fx: OutboxFixture | undefined
    let skip: string | false = false
    const stores: Store[] = []
    const outboxes: Outbox[] = []
    const open = async () => { const s = await fx!.open(); stores.push(s); return s }
    let main: Store
    let other: Store

    before(async () => {
      const f = await fixture()
      if ('skip' in f) { skip = f.skip; return }
      fx = f
      main = await open()
      other = await open()
    })
    after(async () => {
      await Promise.all(outboxes.map((o) => o.stop(1000)))
      for (const s of stores) await s.close()
      await fx?.close()
    })

    /** an outbox on `store` with its own clock, metrics registry and queue name */
    const setup = (store = main, clock = new ManualClock()) => {
      const registry = new Registry()
      const outbox = new Outbox({ db: store.db, kind: store.kind, clock, registry })
      outboxes.push(outbox)
      return { outbox, clock, registry }
    }
    const queue = () => `test.${process.pid}.${++seq}`
    const consume = (outbox: Outbox, q: string, handler: Handler, o: ConsumeOptions = {}) =>
      watch(outbox.consume(q, handler, { pollMs: 60_000, ...o }))
    const metric = async (registry: Registry, name: string, q: string) =>
      (await registry.getSingleMetric(name)!.get()).values.find((v) => v.labels.queue === q)?.value

    test('a job enqueued in a transaction exists only if the transaction commits', async (t) => {
      if (skip) return t.skip(skip)
      const { outbox, registry } = setup()
      const q = queue()
      await assert.rejects(main.db.transaction().execute(async (trx) => {
        await outbox.enqueue(q, { n: 'rolled back' }, { trx })
        throw new Error('caller fails')
      }), /caller fails/)
      assert.equal(await outbox.depth(q), 0)
      await main.db.transaction().execute(async (trx) => {
        await outbox.enqueue(q, { n: 'committed' }, { trx })
      })
      assert.equal(await outbox.depth(q), 1)
      const got: unknown[] = []
      const w = consume(outbox, q, async (job) => { got.push(job.payload) })
      const first = await w.nth(1)
      assert.deepEqual(first.type === 'settled' && [first.attempts, first.outcome, first.recorded], [1, 'done', true])
      assert.deepEqual(got, [{ n: 'committed' }])
      assert.equal(await outbox.depth(q), 0)
      assert.equal(await metric(registry, 'herald_outbox_completed_total', q), 1)
    })

    test('a key makes enqueue idempotent while the job is pending', async (t) => {
      if (skip) return t.skip(skip)
      const { outbox } = setup()
      const q = queue()
      const id = await outbox.enqueue(q, { v: 1 }, { key: 'k1' })
      assert.equal(typeof id, 'number')
      assert.equal(await outbox.enqueue(q, { v: 2 }, { key: 'k1' }), undefined)
      assert.equal(typeof (await outbox.enqueue(queue(), { v: 3 }, { key: 'k1' })), 'number', 'keys are per queue')
      assert.deepEqual((await outbox.pending(q)).map((j) => j.payload), [{ v: 1 }])
    })

    test('jobs run in run_at order, ties in enqueue order', async (t) => {
      if (skip) return t.skip(skip)
      const { outbox, clock } = setup()
      const q = queue()
      const t0 = clock.now()
      for (const [name, at] of [['a', 300], ['b1', 100], ['b2', 100], ['c', 200], ['d', 0]] as const) {
        await outbox.enqueue(q, name, { runAt: t0 + at })
      }
      await clock.advance(300)
      const order: unknown[] = []
      const w = consume(outbox, q, async (job) => { order.push(job.payload) }, { concurrency: 1 })
      await w.nth(5)
      assert.deepEqual(order, ['d', 'b1', 'b2', 'c', 'a'])
    })

    test('two consumers on the same database never run one job twice', async (t) => {
      if (skip) return t.skip(skip)
      const clock = new ManualClock()
      const a = setup(main, clock).outbox
      const b = setup(other, clock).outbox
      const q = queue()
      await a.enqueueMany(Array.from({ length: 60 }, (_, i) => ({ queue: q, payload: i })))
      const runs = new Map<number, number>()
      const handler: Handler = async (job) => {
        runs.set(job.payload as number, (runs.get(job.payload as number) ?? 0) + 1)
        await new Promise((r) => setImmediate(r))
      }
      const wa = consume(a, q, handler, { concurrency: 4 })
      const wb = consume(b, q, handler, { concurrency: 4 })
      await until(() => wa.settled().length + wb.settled().length >= 60, '60 jobs done')
      assert.equal(runs.size, 60)
      assert.ok([...runs.values()].every((n) => n === 1), 'each job ran once')
      assert.ok([...wa.settled(), ...wb.settled()].every((e) => e.type === 'settled' && e.recorded && e.outcome === 'done'))
      assert.equal(await a.depth(q), 0)
    })

    test('a job whose lease ran out (its node died) is claimed again, and only then', async (t) => {
      if (skip) return t.skip(skip)
      const clock = new ManualClock()
      const a = setup(main, clock).outbox
      const b = setup(other, clock).outbox
      const q = queue()
      const t0 = clock.now()
      await a.enqueue(q, 'job')
      const hung = latch()
      const wa = consume(a, q, hung.handler, { leaseMs: 10_000 })
      await until(() => hung.held.length === 1, 'node A runs the job')
      const [leased] = await a.pending(q)
      assert.equal(leased.leaseOwner, a.owner)
      assert.equal(leased.runAt, t0 + 10_000)
      const ranOnB: number[] = []
      const wb = consume(b, q, async (job) => { ranOnB.push(job.attempts) }, { leaseMs: 10_000 })
      await wb.idleAfter(0)
      await clock.advance(9_999)
      const mark = wb.events.length
      b.wake(q)
      await wb.idleAfter(mark)
      assert.deepEqual(ranOnB, [], 'the lease still holds')
      await clock.advance(1)
      await wb.nth(1)
      assert.deepEqual(ranOnB, [2], 'taken again as its second attempt')
      assert.equal(await a.depth(q), 0)
      hung.held[0].release()
      const late = await wa.nth(1)
      assert.equal(late.type === 'settled' && late.recorded, false, 'the late outcome of node A changes nothing')
      assert.equal(hung.held.length, 1)
    })

    test('a failed job is retried after an exponential back-off with jitter (clock advanced, no sleeps)', async (t) => {
      if (skip) return t.skip(skip)
      const { outbox, clock, registry } = setup()
      const q = queue()
      const t0 = clock.now()
      await outbox.enqueue(q, 'flaky')
      let calls = 0
      const backoff = exponentialBackoff({ baseMs: 1000, maxMs: 60_000, jitter: 0.5, random: () => 0.5 })
      const w = consume(outbox, q, async () => { if (++calls < 3) throw new Error(`fail ${calls}`) }, { backoff })
      await w.nth(1)
      await w.idleAfter(w.events.length - 1)
      let [job] = await outbox.pending(q)
      assert.deepEqual([job.attempts, job.runAt, job.lastError, job.leaseOwner], [1, t0 + 750, 'fail 1', null])
      await clock.advance(749)
      const mark = w.events.length
      outbox.wake(q)
      await w.idleAfter(mark)
      assert.equal(calls, 1, 'not before its time')
      await clock.advance(1)
      await w.nth(2)
      ;[job] = await outbox.pending(q)
      assert.deepEqual([job.attempts, job.runAt, job.lastError], [2, t0 + 750 + 1500, 'fail 2'])
      await w.idleAfter(w.events.length - 1)
      await clock.advance(1500)
      assert.equal((await w.nth(3)).type === 'settled' && (await w.nth(3)).outcome, 'done')
      assert.equal(calls, 3)
      assert.equal(await outbox.depth(q), 0)
      assert.equal(await metric(registry, 'herald_outbox_retried_total', q), 2)
    })

    test('exponential back-off: doubles, capped, jitter only shortens', () => {
      const exact = exponentialBackoff({ baseMs: 100, maxMs: 1000, jitter: 0 })
      assert.deepEqual([1, 2, 3, 4, 5, 50].map(exact), [100, 200, 400, 800, 1000, 1000])
      for (const r of [0, 0.3, 0.999]) {
        const d = exponentialBackoff({ baseMs: 100, maxMs: 1000, jitter: 0.2, random: () => r })(3)
        assert.ok(d <= 400 && d >= 320, `${d}`)
      }
    })

    test('after maxAttempts a job is dead-lettered: kept, listed, re-queueable', async (t) => {
      if (skip) return t.skip(skip)
      const { outbox, clock, registry } = setup()
      const q = queue()
      await outbox.enqueue(q, { to: 'nowhere' })
      let broken = true
      const w = consume(outbox, q, async () => { if (broken) throw new Error('boom') }, { maxAttempts: 3, backoff: () => 100 })
      for (let n = 1; n <= 2; n++) {
        assert.equal((await w.nth(n)).type === 'settled' && (await w.nth(n)).outcome, 'retry')
        await w.idleAfter(w.events.length - 1)
        await clock.advance(100)
      }
      const third = await w.nth(3)
      assert.equal(third.type === 'settled' && third.outcome, 'dead')
      assert.equal(await outbox.depth(q), 0)
      const [dead] = await outbox.dead(q)
      assert.deepEqual([dead.payload, dead.attempts, dead.lastError, dead.deadAt, dead.leaseOwner], [{ to: 'nowhere' }, 3, 'boom', clock.now(), null])
      await w.idleAfter(w.events.length - 1)
      await clock.advance(60_000)
      const mark = w.events.length
      outbox.wake(q)
      await w.idleAfter(mark)
      assert.equal(w.settled().length, 3, 'a dead job is not run')
      assert.equal(await metric(registry, 'herald_outbox_dead_total', q), 1)
      assert.equal(await metric(registry, 'herald_outbox_dead_jobs', q), 1)
      broken = false
      assert.equal(await outbox.requeue(q), 1)
      const fourth = await w.nth(4)
      assert.deepEqual([fourth.type === 'settled' && fourth.outcome, fourth.type === 'settled' && fourth.attempts], ['done', 1])
      assert.deepEqual(await outbox.dead(q), [])
      assert.equal(await metric(registry, 'herald_outbox_depth', q), 0)
    })

    test('stop: claims no more, waits for running jobs, leaves an unfinished one leased', async (t) => {
      if (skip) return t.skip(skip)
      const { outbox, clock } = setup()
      const q = queue()
      await outbox.enqueue(q, 'first')
      const l = latch()
      const w = consume(outbox, q, l.handler, { concurrency: 2 })
      await until(() => l.held.length === 1, 'first job running')
      let stopped = false
      const stopping = w.c.stop(5_000).then(() => { stopped = true })
      await outbox.enqueue(q, 'second')
      for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r))
      assert.equal(stopped, false, 'waits for the running job')
      l.held[0].release()
      await stopping
      assert.equal(l.held.length, 1, 'the second job was not claimed')
      const [second] = await outbox.pending(q)
      assert.deepEqual([second.payload, second.attempts, second.leaseOwner], ['second', 0, null])
      assert.equal(await outbox.depth(q), 1)

      // bounded: a job that does not finish in time keeps its lease, for another node to take when it ends
      const w2 = consume(outbox, q, l.handler, { leaseMs: 30_000 })
      await until(() => l.held.length === 2, 'second job running')
      const bounded = w2.c.stop(1_000)
      await clock.advance(1_000)
      await bounded
      const [left] = await outbox.pending(q)
      assert.deepEqual([left.payload, left.attempts, left.leaseOwner], ['second', 1, outbox.owner])
      l.held[1].release()
    })
  })
}
