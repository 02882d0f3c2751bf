// The bus contract (ARCHITECTURE "bus"; issue 9 §6): one suite every Bus implementation runs, the way
// aedes-persistence ships abstract.js. What differs between implementations is declared as capabilities and
// asserted as declared.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { Bus, BusMessage, QoS } from '../../src/core/bus/types.ts'

export interface BusCapabilities {
  /** the highest QoS the broker delivers with */
  maxQos: QoS
  /**
   * What two buses on one broker see of a `shared: true` subscription: 'split' (each message handled by one of
   * them), 'every' (both handle every message: a broker without `$share`), null (one node only: embedded).
   */
  sharedSubscriptions: 'split' | 'every' | null
  /** a plain subscription's handler is awaited before its next message is handed over, in order */
  orderedPerSubscription: boolean
  /** the same for a `shared: true` subscription (false: RabbitMQ's AMQP consumers run up to the prefetch at once) */
  orderedShared: boolean
  /**
   * Who waits for the handler before the message counts as delivered: 'publisher' (embedded, beforeAck: the
   * publishing client's PUBACK) or 'broker' (external: Herald's acknowledgement to the broker).
   */
  ackAfterHandler: 'publisher' | 'broker'
  /**
   * a retained message reaches a later bus subscription, flagged retained (false on the embedded bus: Aedes hands
   * retained messages to its clients' subscriptions only; clients still get what Herald retains)
   */
  retain: boolean
}

export interface OpenBus {
  bus: Bus
  close(): Promise<void>
  /** the broker's count of messages handed to this bus and not yet acknowledged, where the broker tells */
  unacked?(): Promise<number>
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Wait until `pred` holds (bounded in time), then return what `value` says. */
export async function until<T>(pred: () => boolean, value: () => T, ms = 5000, what = 'condition'): Promise<T> {
  const end = Date.now() + ms
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await sleep(10)
  }
  return value()
}

/** A handler that records each message and holds it until released. */
function holding() {
  const seen: string[] = []
  const gates: (() => void)[] = []
  let open = false
  return {
    seen,
    handler: async (m: BusMessage) => {
      seen.push(m.payload.toString())
      if (!open) await new Promise<void>((r) => gates.push(r))
    },
    releaseAll: () => { open = true; for (const r of gates.splice(0)) r() },
  }
}

/** Run the bus contract against the bus `open` connects; `open` may be called twice (two nodes on one broker). */
export function busContract(name: string, open: () => Promise<OpenBus>, caps: BusCapabilities, opts: { skip?: string | false } = {}): void {
  describe(`bus contract: ${name}`, { skip: opts.skip }, () => {
    let bus: Bus
    let node: OpenBus | undefined
    const root = `herald-test/${process.pid}-${Math.random().toString(36).slice(2, 8)}`
    let n = 0
    const fresh = () => `${root}/${++n}`

    before(async () => {
      node = await open()
      bus = node.bus
    })
    after(async () => { await node?.close() })

    /** a second node on the same broker, closed after `fn` */
    async function withSecond(fn: (second: Bus) => Promise<void>) {
      const second = await open()
      try { await fn(second.bus) } finally { await second.close() }
    }

    test('publish and subscribe at QoS 0, 1 and 2: delivered at min(publish, subscription, broker) QoS', async () => {
      const base = fresh()
      const got: BusMessage[] = []
      const unsubs = await Promise.all(([0, 1, 2] as const).map((q) =>
        bus.subscribe(`${base}/sub${q}`, (m) => { got.push(m) }, { qos: q })))
      for (const sq of [0, 1, 2] as const) {
        for (const pq of [0, 1, 2] as const) await bus.publish(`${base}/sub${sq}`, `p${pq}`, { qos: pq })
      }
      const msgs = await until(() => got.length >= 9, () => got, 5000, '9 messages')
      const seen = msgs.map((m) => `${m.topic.slice(base.length + 1)}:${m.payload}:${m.qos}`).sort()
      const expected = ([0, 1, 2] as const).flatMap((sq) => ([0, 1, 2] as const).map((pq) =>
        `sub${sq}:p${pq}:${Math.min(sq, pq, caps.maxQos)}`)).sort()
      assert.deepEqual(seen, expected)
      for (const u of unsubs) await u()
    })

    test('wildcard filters: + matches one level, # any number; others are not delivered', async () => {
      const base = fresh()
      const plus: string[] = []
      const hash: string[] = []
      const u1 = await bus.subscribe(`${base}/+/status`, (m) => { plus.push(m.topic.slice(base.length)) }, { qos: 1 })
      const u2 = await bus.subscribe(`${base}/devices/#`, (m) => { hash.push(m.topic.slice(base.length)) }, { qos: 1 })
      for (const t of ['/a/status', '/a/b/status', '/devices/x', '/devices/x/y/z', '/other']) await bus.publish(base + t, 'x', { qos: 1 })
      // an end marker for each: subscriptions are not ordered with each other
      await bus.publish(`${base}/done/status`, 'end', { qos: 1 })
      await bus.publish(`${base}/devices/done`, 'end', { qos: 1 })
      await until(() => plus.includes('/done/status') && hash.includes('/devices/done'), () => null, 5000, 'the end markers')
      assert.deepEqual(plus, ['/a/status', '/done/status'])
      assert.deepEqual(hash, ['/devices/x', '/devices/x/y/z', '/devices/done'])
      await u1()
      await u2()
    })

    for (const shared of [false, true]) {
      const ordered = shared ? caps.orderedShared : caps.orderedPerSubscription
      const kind = shared ? 'shared' : 'plain'
      test(`${kind} subscription: ${ordered ? 'a handler is awaited before the next message is handed over, in order' : 'handlers run at once, each message once'}`, async () => {
        const t = fresh()
        let active = 0
        let maxActive = 0
        const order: number[] = []
        const unsub = await bus.subscribe(t, async (m) => {
          active++
          maxActive = Math.max(maxActive, active)
          await sleep(15)
          order.push(Number(m.payload.toString()))
          active--
        }, { qos: 1, shared })
        for (let i = 0; i < 10; i++) await bus.publish(t, String(i), { qos: 1 })
        await until(() => order.length >= 10, () => null, 5000, '10 handled messages')
        if (ordered) {
          assert.equal(maxActive, 1)
          assert.deepEqual(order, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
        } else {
          assert.ok(maxActive > 1, `at most ${maxActive} handler at once`)
          assert.deepEqual([...order].sort((a, b) => a - b), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
        }
        await unsub()
      })

      test(`${kind} subscriptions: a held handler on one does not hold back another's messages`, async () => {
        const base = fresh()
        const slow = holding()
        const other: string[] = []
        const u1 = await bus.subscribe(`${base}/slow`, slow.handler, { qos: 1, shared })
        const u2 = await bus.subscribe(`${base}/other`, (m) => { other.push(m.payload.toString()) }, { qos: 1, shared })
        try {
          await bus.publish(`${base}/slow`, 'held', { qos: 1 })
          await until(() => slow.seen.length === 1, () => null, 5000, 'the held handler')
          for (let i = 0; i < 5; i++) await bus.publish(`${base}/other`, String(i), { qos: 1 })
          await until(() => other.length >= 5, () => null, 5000, "the other subscription's 5 messages while one handler is held")
          assert.deepEqual(other, ['0', '1', '2', '3', '4'])
        } finally {
          slow.releaseAll()
          await u1()
          await u2()
        }
      })
    }

    test(`the ${caps.ackAfterHandler} waits for the handler: the message counts as delivered once it has settled`, async (tc) => {
      if (!node?.unacked) return tc.skip('this broker does not count unacknowledged messages; beforeAck has its own tests')
      const t = fresh()
      const hold = holding()
      const unsub = await bus.subscribe(t, hold.handler, { qos: 1, shared: true })
      try {
        await bus.publish(t, 'held', { qos: 1 })
        await until(() => hold.seen.length === 1, () => null, 5000, 'the handler')
        assert.equal(await node.unacked(), 1, 'unacknowledged while the handler runs')
        hold.releaseAll()
        const end = Date.now() + 10_000
        let left = 1
        while (left > 0 && Date.now() < end) left = await node.unacked()
        assert.equal(left, 0, 'acknowledged once the handler settled')
      } finally {
        hold.releaseAll()
        await unsub()
      }
    })

    test('a throwing handler does not stop the subscription', async () => {
      const t = fresh()
      const got: string[] = []
      const unsub = await bus.subscribe(t, (m) => {
        if (m.payload.toString() === 'boom') throw new Error('handler failure (expected in this test)')
        got.push(m.payload.toString())
      }, { qos: 1 })
      await bus.publish(t, 'boom', { qos: 1 })
      await bus.publish(t, 'after', { qos: 1 })
      assert.deepEqual(await until(() => got.length >= 1, () => got), ['after'])
      await unsub()
    })

    test('overlapping subscriptions: each handler runs once per message', async () => {
      const t = fresh()
      let wide = 0
      let exact = 0
      const u1 = await bus.subscribe(`${t}/#`, () => { wide++ }, { qos: 1 })
      const u2 = await bus.subscribe(`${t}/y`, () => { exact++ }, { qos: 1 })
      await bus.publish(`${t}/y`, 'once', { qos: 1 })
      await bus.publish(`${t}/z`, 'marker', { qos: 1 })
      await until(() => wide >= 2 && exact >= 1, () => null)
      await sleep(100)
      assert.deepEqual([wide, exact], [2, 1])
      await u1()
      await u2()
    })

    test('unsubscribe stops delivery to that handler only', async () => {
      const t = fresh()
      const a: string[] = []
      const b: string[] = []
      const ua = await bus.subscribe(t, (m) => { a.push(m.payload.toString()) }, { qos: 1 })
      const ub = await bus.subscribe(t, (m) => { b.push(m.payload.toString()) }, { qos: 1 })
      await bus.publish(t, 'one', { qos: 1 })
      await until(() => a.length >= 1 && b.length >= 1, () => null)
      await ua()
      await bus.publish(t, 'two', { qos: 1 })
      await until(() => b.includes('two'), () => null)
      await sleep(100)
      assert.deepEqual(a, ['one'])
      await ub()
      await bus.publish(t, 'three', { qos: 1 })
      await sleep(200)
      assert.deepEqual(b, ['one', 'two'])
    })

    // mqtt.js holds a connection's incoming stream until its handler is done: the external bus publishes over a
    // connection of its own so that the PUBACK a handler's publish awaits can still arrive.
    test('handlers that publish and await it do not deadlock under a burst', async () => {
      const t = fresh()
      let relayed = 0
      const u1 = await bus.subscribe(`${t}/in/#`, async (m) => { await bus.publish(`${t}/out`, m.payload, { qos: 1 }) }, { qos: 1 })
      const u2 = await bus.subscribe(`${t}/out`, () => { relayed++ }, { qos: 1 })
      await Promise.all(Array.from({ length: 300 }, (_, i) => bus.publish(`${t}/in/${i}`, String(i), { qos: 1 })))
      await until(() => relayed >= 300, () => null, 10_000, '300 relayed messages')
      await u1()
      await u2()
    })

    test('a burst of 100 QoS 2 publishes (above Mosquitto\'s max_inflight_messages 20) all arrive, once each', { skip: caps.maxQos < 2 && 'the broker serves QoS 2 as QoS 1' }, async () => {
      const t = fresh()
      const got = new Map<string, number>()
      const unsub = await bus.subscribe(t, (m) => { got.set(m.payload.toString(), (got.get(m.payload.toString()) ?? 0) + 1) }, { qos: 2 })
      await Promise.all(Array.from({ length: 100 }, (_, i) => bus.publish(t, String(i), { qos: 2 })))
      await until(() => got.size >= 100, () => null, 15_000, '100 messages')
      await sleep(100)
      assert.equal(got.size, 100)
      assert.ok([...got.values()].every((c) => c === 1))
      await unsub()
    })

    test(`retained messages ${caps.retain ? 'reach' : 'do not reach'} a later subscription`, async () => {
      const t = fresh()
      await bus.publish(t, 'kept', { qos: 1, retain: true })
      const got: BusMessage[] = []
      const unsub = await bus.subscribe(t, (m) => { got.push(m) }, { qos: 1 })
      try {
        if (caps.retain) {
          const [m] = await until(() => got.length >= 1, () => got, 5000, 'the retained message')
          assert.deepEqual([m.payload.toString(), m.retain], ['kept', true])
        } else {
          await sleep(300)
          assert.deepEqual(got, [])
        }
      } finally {
        await unsub()
        await bus.publish(t, '', { qos: 1, retain: true }) // clears it
      }
    })

    const split = caps.sharedSubscriptions
    const what = split === 'split' ? ': each message handled exactly once, by either' : split === 'every' ? ': both handle every message' : ''
    test(`two nodes' shared subscriptions${what}`, { skip: split === null && 'one node only' }, () => withSecond(async (second) => {
      const t = fresh()
      const handled: string[][] = [[], []]
      const u0 = await bus.subscribe(t, (m) => { handled[0].push(m.payload.toString()) }, { qos: 1, shared: true })
      const u1 = await second.subscribe(t, (m) => { handled[1].push(m.payload.toString()) }, { qos: 1, shared: true })
      const all = Array.from({ length: 40 }, (_, i) => i)
      try {
        for (const i of all) await bus.publish(t, String(i), { qos: 1 })
        const want = split === 'split' ? 40 : 80
        await until(() => handled[0].length + handled[1].length >= want, () => null, 10_000, `${want} handled messages`)
        await sleep(200)
        const sorted = (xs: string[]) => xs.map(Number).sort((x, y) => x - y)
        if (split === 'split') {
          assert.deepEqual(sorted([...handled[0], ...handled[1]]), all)
          assert.ok(handled[0].length > 0 && handled[1].length > 0, `split ${handled[0].length}/${handled[1].length}`)
        } else {
          assert.deepEqual([sorted(handled[0]), sorted(handled[1])], [all, all])
        }
      } finally {
        await u0()
        await u1()
      }
    }))
  })
}
