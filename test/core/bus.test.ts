// Issue 2 §5: one bus suite against the embedded bus (in-process Aedes), the machine's Mosquitto (external bus,
// anonymous, $share) and RabbitMQ's MQTT listener (external bus, no $share in 3.10, QoS 2 served as QoS 1).
import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import net from 'node:net'
import { after, before, describe, test } from 'node:test'
import type { MqttClient } from 'mqtt'
import { ExternalBus } from '../../src/core/bus/external.ts'
import type { Bus, BusMessage, QoS } from '../../src/core/bus/types.ts'
import { connect, requireService, startTestHerald, type TestHerald } from '../helpers.ts'
import { connectPacket, packet, raw } from './raw.ts'
import { RABBIT_GUEST, RABBIT_MQTT_URL, rabbitMqttAvailable } from '../rabbitmq.ts'

const MOSQUITTO_URL = process.env.HERALD_TEST_MOSQUITTO_URL ?? 'mqtt://127.0.0.1:1883'

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port })
    const done = (ok: boolean) => { clearTimeout(t); s.destroy(); resolve(ok) }
    const t = setTimeout(() => done(false), 3000)
    s.once('connect', () => done(true))
    s.once('error', () => done(false))
  })
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Wait until `pred` holds (bounded in time), then return what `value` says. */
async function until<T>(pred: () => boolean, value: () => T, ms = 5000, what = 'condition'): Promise<T> {
  const end = Date.now() + ms
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await sleep(10)
  }
  return value()
}

interface Target {
  name: string
  available: () => Promise<boolean>
  /** a connected bus; `close` disposes of anything behind it */
  open(): Promise<{ bus: Bus; close(): Promise<void> }>
  /** the highest QoS the broker delivers with */
  maxQos: QoS
}

let herald: TestHerald | undefined
const targets: Target[] = [
  {
    name: 'embedded (Aedes, in-process)',
    available: async () => true,
    maxQos: 2,
    async open() {
      herald = herald ?? await startTestHerald()
      return { bus: herald.bus, close: async () => {} }
    },
  },
  {
    name: `Mosquitto (${MOSQUITTO_URL}, external)`,
    available: () => portOpen(Number(new URL(MOSQUITTO_URL).port || 1883)),
    maxQos: 2,
    async open() {
      const bus = await ExternalBus.connect({ url: MOSQUITTO_URL, sharedGroup: `herald-test-${process.pid}` })
      return { bus, close: () => bus.close() }
    },
  },
  {
    name: `RabbitMQ (${RABBIT_MQTT_URL}, external, no $share)`,
    available: rabbitMqttAvailable,
    maxQos: 1,
    async open() {
      const bus = await ExternalBus.connect({ url: RABBIT_MQTT_URL, ...RABBIT_GUEST, sharedSubscriptions: false })
      return { bus, close: () => bus.close() }
    },
  },
]

after(async () => { await herald?.close() })

// checked before any Herald starts: generating its development certificate blocks the event loop for a while
const availability = await Promise.all(targets.map((t) => t.available()))

for (const [i, target] of targets.entries()) {
  describe(`bus: ${target.name}`, () => {
    const opts = requireService(availability[i], target.name)
    let bus: Bus
    let close: () => Promise<void> = async () => {}
    const root = `herald-test/${process.pid}-${Math.random().toString(36).slice(2, 8)}`
    let n = 0
    const fresh = () => `${root}/${++n}`

    before(async () => {
      if (opts.skip) return
      ;({ bus, close } = await target.open())
    })
    after(async () => { await close() })

    test('publish and subscribe at QoS 0, 1 and 2: delivered at min(publish, subscription, broker) QoS', opts, async () => {
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
        `sub${sq}:p${pq}:${Math.min(sq, pq, target.maxQos)}`)).sort()
      assert.deepEqual(seen, expected)
      for (const u of unsubs) await u()
    })

    test('wildcard filters: + matches one level, # any number; others are not delivered', opts, async () => {
      const base = fresh()
      const plus: string[] = []
      const hash: string[] = []
      const u1 = await bus.subscribe(`${base}/+/status`, (m) => { plus.push(m.topic.slice(base.length)) }, { qos: 1 })
      const u2 = await bus.subscribe(`${base}/devices/#`, (m) => { hash.push(m.topic.slice(base.length)) }, { qos: 1 })
      for (const t of ['/a/status', '/a/b/status', '/devices/x', '/devices/x/y/z', '/other']) await bus.publish(base + t, 'x', { qos: 1 })
      await bus.publish(`${base}/done/status`, 'end', { qos: 1 })
      await until(() => plus.includes('/done/status'), () => null, 5000, 'the end marker')
      assert.deepEqual(plus, ['/a/status', '/done/status'])
      assert.deepEqual(hash, ['/devices/x', '/devices/x/y/z'])
      await u1()
      await u2()
    })

    test('a handler is awaited before the next message is handed over, in order', opts, async () => {
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
      }, { qos: 1 })
      for (let i = 0; i < 10; i++) await bus.publish(t, String(i), { qos: 1 })
      await until(() => order.length >= 10, () => null, 5000, '10 handled messages')
      assert.equal(maxActive, 1)
      assert.deepEqual(order, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
      await unsub()
    })

    test('a throwing handler does not stop the subscription', opts, async () => {
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

    test('overlapping subscriptions: each handler runs once per message', opts, async () => {
      const t = fresh()
      let wide = 0
      let exact = 0
      const u1 = await bus.subscribe(`${t}/#`, () => { wide++ }, { qos: 1 })
      const u2 = await bus.subscribe(`${t}/y`, () => { exact++ }, { qos: 1 })
      await bus.publish(`${t}/y`, 'once', { qos: 1 })
      await bus.publish(`${t}/z`, 'marker', { qos: 1 })
      await until(() => wide >= 2, () => null)
      await sleep(100)
      assert.deepEqual([wide, exact], [2, 1])
      await u1()
      await u2()
    })

    test('unsubscribe stops delivery to that handler only', opts, async () => {
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

    // mqtt.js holds the incoming stream until a handler is done: the external bus publishes over a second
    // connection so that the PUBACK a handler's publish awaits can still arrive.
    test('handlers that publish and await it do not deadlock under a burst', opts, async () => {
      const t = fresh()
      let relayed = 0
      const u1 = await bus.subscribe(`${t}/in/#`, async (m) => { await bus.publish(`${t}/out`, m.payload, { qos: 1 }) }, { qos: 1 })
      const u2 = await bus.subscribe(`${t}/out`, () => { relayed++ }, { qos: 1 })
      await Promise.all(Array.from({ length: 300 }, (_, i) => bus.publish(`${t}/in/${i}`, String(i), { qos: 1 })))
      await until(() => relayed >= 300, () => null, 10_000, '300 relayed messages')
      await u1()
      await u2()
    })

    if (target.name.startsWith('Mosquitto')) {
      test('a burst of 100 QoS 2 publishes (above max_inflight_messages) all arrive, once each', opts, async () => {
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

      test('two buses with shared subscriptions split the messages: each handled exactly once', opts, async () => {
        const t = fresh()
        const second = await target.open()
        try {
          const handled: string[][] = [[], []]
          const u0 = await bus.subscribe(t, (m) => { handled[0].push(m.payload.toString()) }, { qos: 1, shared: true })
          const u1 = await second.bus.subscribe(t, (m) => { handled[1].push(m.payload.toString()) }, { qos: 1, shared: true })
          for (let i = 0; i < 40; i++) await bus.publish(t, String(i), { qos: 1 })
          await until(() => handled[0].length + handled[1].length >= 40, () => null, 10_000, '40 messages')
          await sleep(200)
          const all = [...handled[0], ...handled[1]].map(Number).sort((x, y) => x - y)
          assert.deepEqual(all, Array.from({ length: 40 }, (_, i) => i))
          assert.ok(handled[0].length > 0 && handled[1].length > 0, `split ${handled[0].length}/${handled[1].length}`)
          await u0()
          await u1()
        } finally {
          await second.close()
        }
      })
    }
  })
}

describe('external bus against a broker that refuses a subscription', () => {
  test('subscribe rejects, and the refused handler never sees messages of another subscription', async () => {
    const h = await startTestHerald({ overrides: { 'auth.aclFile': aclFile() } })
    const bus = await ExternalBus.connect({ url: h.mqttUrl, username: 'limited', password: 'pw' }).catch(async () => {
      await h.users.add('limited', 'pw')
      return ExternalBus.connect({ url: h.mqttUrl, username: 'limited', password: 'pw' })
    })
    try {
      const refused: string[] = []
      const allowed: string[] = []
      await assert.rejects(bus.subscribe('#', (m) => { refused.push(m.topic) }, { qos: 1 }), /refused subscription to #/)
      const unsub = await bus.subscribe('limited/#', (m) => { allowed.push(m.topic) }, { qos: 1 })
      await bus.publish('limited/x', 'hello', { qos: 1 })
      await until(() => allowed.length >= 1, () => null)
      assert.deepEqual(refused, [])
      await unsub()
    } finally {
      await bus.close()
      await h.close()
    }
  })
})

function aclFile(): string {
  const f = `${process.env.TMPDIR ?? '/tmp'}/herald-bus-acl-${process.pid}.conf`
  writeFileSync(f, 'user limited\ntopic readwrite limited/#\n')
  return f
}

describe('embedded bus: beforeAck subscriptions acknowledge a client only once its message is handled', () => {
  let h: TestHerald
  let n = 0
  const fresh = () => `ack-test/${process.pid}-${++n}`
  const login = () => ({ username: 'herald', password: h.servicePassword })
  before(async () => { h = await startTestHerald() })
  after(async () => { await h?.close() })

  /** a handler that records each message and holds it until `release(payload)` */
  function holding() {
    const seen: string[] = []
    const gates = new Map<string, () => void>()
    const waits = new Map<string, Promise<void>>()
    const gate = (p: string) => {
      if (!waits.has(p)) waits.set(p, new Promise<void>((r) => gates.set(p, r)))
      return waits.get(p)!
    }
    return {
      seen,
      handler: async (m: BusMessage) => { seen.push(m.payload.toString()); await gate(m.payload.toString()) },
      release: (p: string) => { void gate(p); gates.get(p)!() },
      /** let every handler finish (in `finally`, so that a failed assertion does not leave the client hanging) */
      releaseAll: () => { for (const r of gates.values()) r() },
    }
  }

  /** A holding beforeAck subscription on `<fresh base><suffix>` and a connected client, both disposed of after `fn`. */
  async function held(suffix: string, qos: QoS, fn: (o: { base: string; hold: ReturnType<typeof holding>; c: MqttClient }) => Promise<void>) {
    const base = fresh()
    const hold = holding()
    const unsub = await h.bus.subscribe(`${base}${suffix}`, hold.handler, { qos, beforeAck: true })
    const c = await connect(h.mqttUrl, login())
    try {
      await fn({ base, hold, c })
    } finally {
      hold.releaseAll() // a failed assertion must not leave the client waiting for an acknowledgement
      await c.endAsync(true)
      await unsub()
    }
  }

  /** `p`, or a failure naming `what` after `ms` */
  async function within<T>(ms: number, p: Promise<T>, what: string): Promise<T> {
    let timer: NodeJS.Timeout | undefined
    const late = new Promise<never>((_r, reject) => { timer = setTimeout(() => reject(new Error(what)), ms) })
    try {
      return await Promise.race([p, late])
    } finally {
      clearTimeout(timer)
    }
  }

  for (const qos of [1, 2] as const) {
    test(`QoS ${qos}: the publisher's acknowledgement waits for the handler, which runs once`, () => held('/+', 2, async ({ base, hold, c }) => {
      let acked = false
      const pub = c.publishAsync(`${base}/x`, 'm1', { qos }).then(() => { acked = true })
      await until(() => hold.seen.length === 1, () => null, 5000, 'the handler')
      await sleep(300)
      assert.equal(acked, false, 'acknowledged before the handler settled')
      hold.release('m1')
      await pub
      await sleep(100)
      assert.deepEqual(hold.seen, ['m1'])
    }))
  }

  test('one client\'s acknowledgements keep its publish order, whatever order the handlers finish in', () => held('/+', 1, async ({ base, hold, c }) => {
    const acks: string[] = []
    const pubs = ['a', 'b', 'c'].map((p) => c.publishAsync(`${base}/x`, p, { qos: 1 }).then(() => { acks.push(p) }))
    await until(() => hold.seen.length === 3, () => null, 5000, 'three handler calls')
    assert.deepEqual(hold.seen, ['a', 'b', 'c'], 'handlers are called in arrival order')
    hold.release('c')
    hold.release('b')
    await sleep(300)
    assert.deepEqual(acks, [], 'b and c were acknowledged before a')
    hold.release('a')
    await Promise.all(pubs)
    assert.deepEqual(acks, ['a', 'b', 'c'])
  }))

  test('QoS 0 acknowledges nothing and holds nothing: the client goes on while its handler runs', () => held('/held/+', 1, async ({ base, hold, c }) => {
    await c.publishAsync(`${base}/held/x`, 'q0', { qos: 0 })
    await until(() => hold.seen.length === 1, () => null, 5000, 'the handler')
    await sleep(100)
    assert.deepEqual(hold.seen, ['q0'], 'handled once')
    // a QoS 1 message on another topic right after is acknowledged although the QoS 0 handler still runs
    await within(3000, c.publishAsync(`${base}/other`, 'next', { qos: 1 }), 'the QoS 1 PUBACK waited for the QoS 0 handler')
  }))

  test('QoS 0 and QoS 1 messages of one client reach the handler in publish order', () => held('/+', 1, async ({ base, hold, c }) => {
    const sent = ['a0', 'b1', 'c0', 'd1', 'e0']
    for (const p of sent) c.publish(`${base}/x`, p, { qos: p.endsWith('1') ? 1 : 0 })
    await until(() => hold.seen.length === sent.length, () => null, 5000, 'every handler call')
    assert.deepEqual(hold.seen, sent)
  }))

  test('a handler that throws still lets the message be acknowledged; the connection stays', async () => {
    const base = fresh()
    const unsub = await h.bus.subscribe(`${base}/+`, () => { throw new Error('handler failure') }, { qos: 1, beforeAck: true })
    const c = await connect(h.mqttUrl, login())
    try {
      await c.publishAsync(`${base}/x`, 'boom', { qos: 1 })
      await c.publishAsync(`${base}/x`, 'again', { qos: 1 })
      assert.equal(c.connected, true)
    } finally {
      await c.endAsync(true)
      await unsub()
    }
  })

  test("Herald's own publishes and a vanished client's will reach the handler once each", async () => {
    const base = fresh()
    const seen: string[] = []
    const unsub = await h.bus.subscribe(`${base}/+`, (m) => { seen.push(m.payload.toString()) }, { qos: 1, beforeAck: true })
    try {
      await h.bus.publish(`${base}/own`, 'own', { qos: 1 })
      const c = await connect(h.mqttUrl, { ...login(), will: { topic: `${base}/will`, payload: Buffer.from('will'), qos: 1, retain: false } })
      c.stream.destroy()
      await until(() => seen.length === 2, () => null, 5000, 'own publish and will')
      await sleep(200)
      assert.deepEqual(seen.sort(), ['own', 'will'])
    } finally {
      await unsub()
    }
  })

  test('a QoS 2 PUBLISH retransmitted after its PUBREC is acknowledged again but not handled twice', async () => {
    const base = fresh()
    const seen: string[] = []
    const unsub = await h.bus.subscribe(`${base}/+`, (m) => { seen.push(m.payload.toString()) }, { qos: 2, beforeAck: true })
    const conn = await raw(h.ports.mqtt)
    try {
      conn.socket.write(connectPacket({ clientId: `qos2-${process.pid}`, ...login() }))
      assert.equal((await conn.bytes(4)).readUInt8(3), 0, 'CONNACK accepted')
      const topic = Buffer.from(`${base}/q2`)
      const body = Buffer.concat([Buffer.from([topic.length >> 8, topic.length & 255]), topic, Buffer.from([0, 7]), Buffer.from('once')])
      conn.socket.write(packet(0x34, body)) // PUBLISH QoS 2, id 7
      const pubrec = Buffer.from([0x50, 0x02, 0, 7])
      assert.deepEqual((await conn.bytes(8)).subarray(4, 8), pubrec)
      conn.socket.write(packet(0x3c, body)) // the same PUBLISH again, DUP set (as if the PUBREC was lost)
      assert.deepEqual((await conn.bytes(12)).subarray(8, 12), pubrec)
      conn.socket.write(Buffer.from([0x62, 0x02, 0, 7])) // PUBREL
      assert.deepEqual((await conn.bytes(16)).subarray(12, 16), Buffer.from([0x70, 0x02, 0, 7]))
      await sleep(200)
      assert.deepEqual(seen, ['once'])
    } finally {
      conn.socket.destroy()
      await unsub()
    }
  })
})
