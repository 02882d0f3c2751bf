// Issue 2 §5, issue 9 §6: the bus contract (test/contracts/bus.ts) on the embedded bus (in-process Aedes), the
// machine's Mosquitto (external bus, anonymous, $share) and RabbitMQ's MQTT listener (external bus, no $share in
// 3.10, QoS 2 served as QoS 1), the latter also with shared subscriptions on AMQP queues; then what only one
// implementation does.
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import net from 'node:net'
import { after, before, describe, test } from 'node:test'
import { promisify } from 'node:util'
import amqp from 'amqplib'
import type { MqttClient } from 'mqtt'
import { ExternalBus, type ExternalBusOptions } from '../../src/core/bus/external.ts'
import type { BusMessage, QoS } from '../../src/core/bus/types.ts'
import { busContract, sleep, until, type OpenBus } from '../contracts/bus.ts'
import { connect, requireService, startTestHerald, type TestHerald } from '../helpers.ts'
import { connectPacket, packet, raw } from './raw.ts'
import { RABBIT_GUEST, RABBIT_MQTT_URL, rabbitMqttAvailable } from '../rabbitmq.ts'

const MOSQUITTO_URL = process.env.HERALD_TEST_MOSQUITTO_URL ?? 'mqtt://127.0.0.1:1883'
const AMQP_URL = process.env.HERALD_TEST_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672'
const run = promisify(execFile)

function portOpen(url: string): Promise<boolean> {
  const u = new URL(url)
  return new Promise((resolve) => {
    const s = net.connect({ host: u.hostname, port: Number(u.port) })
    const done = (ok: boolean) => { clearTimeout(t); s.destroy(); resolve(ok) }
    const t = setTimeout(() => done(false), 3000)
    s.once('connect', () => done(true))
    s.once('error', () => done(false))
  })
}

/** RabbitMQ's queues whose names start with one of `prefixes`, with their unacknowledged counts. */
async function rabbitQueues(prefixes: string[]): Promise<{ name: string; unacked: number }[]> {
  const { stdout } = await run('rabbitmqctl', ['-q', 'list_queues', '--no-table-headers', 'name', 'messages_unacknowledged'], { timeout: 30_000 })
  return stdout.trim().split('\n').map((l) => l.split('\t')).filter(([name]) => prefixes.some((p) => name.startsWith(p)))
    .map(([name, n]) => ({ name, unacked: Number(n) }))
}

/** An external bus to RabbitMQ (guest); with `amqp`, shared subscriptions consume AMQP queues of a test group. */
function rabbitBus(amqpGroup?: string): () => Promise<OpenBus> {
  return async () => {
    const clientId = `herald-test-${process.pid}-${Math.random().toString(36).slice(2, 8)}`
    const o: ExternalBusOptions = { url: RABBIT_MQTT_URL, ...RABBIT_GUEST, clientId, sharedSubscriptions: false }
    const bus = await ExternalBus.connect(amqpGroup ? { ...o, amqpUrl: AMQP_URL, sharedGroup: amqpGroup } : o)
    // the MQTT plugin's queue of each subscription is mqtt-subscription-<client id>qos1
    const prefixes = [`mqtt-subscription-${clientId}`, ...(amqpGroup ? [`herald.${amqpGroup}.`] : [])]
    return {
      bus,
      close: () => bus.close(),
      unacked: async () => (await rabbitQueues(prefixes)).reduce((sum, q) => sum + q.unacked, 0),
    }
  }
}

// checked before any Herald starts: generating its development certificate blocks the event loop for a while
const [mosquittoUp, rabbitUp, amqpUp] = await Promise.all([portOpen(MOSQUITTO_URL), rabbitMqttAvailable(), portOpen(AMQP_URL)])

busContract('embedded (Aedes, in-process)', async () => {
  const h = await startTestHerald()
  return { bus: h.bus, close: () => h.close() }
}, { maxQos: 2, sharedSubscriptions: null, orderedPerSubscription: true, orderedShared: true, ackAfterHandler: 'publisher', retain: false })

busContract(`Mosquitto (${MOSQUITTO_URL}, external)`, async () => {
  const bus = await ExternalBus.connect({ url: MOSQUITTO_URL, sharedGroup: `herald-test-${process.pid}` })
  return { bus, close: () => bus.close() }
}, { maxQos: 2, sharedSubscriptions: 'split', orderedPerSubscription: true, orderedShared: true, ackAfterHandler: 'broker', retain: true },
requireService(mosquittoUp, `Mosquitto at ${MOSQUITTO_URL}`))

busContract(`RabbitMQ (${RABBIT_MQTT_URL}, external, no $share)`, rabbitBus(),
  { maxQos: 1, sharedSubscriptions: 'every', orderedPerSubscription: true, orderedShared: true, ackAfterHandler: 'broker', retain: true },
  requireService(rabbitUp, `RabbitMQ MQTT at ${RABBIT_MQTT_URL}`))

const amqpGroup = `bt${process.pid}${Math.random().toString(36).slice(2, 6)}`
busContract(`RabbitMQ (${RABBIT_MQTT_URL}, external, shared subscriptions on AMQP queues)`, rabbitBus(amqpGroup),
  { maxQos: 1, sharedSubscriptions: 'split', orderedPerSubscription: true, orderedShared: false, ackAfterHandler: 'broker', retain: true },
  requireService(rabbitUp && amqpUp, `RabbitMQ MQTT at ${RABBIT_MQTT_URL} and AMQP at ${AMQP_URL}`))

// the AMQP mode's queues are durable: remove this run's
after(async () => {
  if (!(rabbitUp && amqpUp)) return
  const conn = await amqp.connect(AMQP_URL)
  try {
    const ch = await conn.createChannel()
    for (const q of await rabbitQueues([`herald.${amqpGroup}.`])) await ch.deleteQueue(q.name)
  } finally {
    await conn.close()
  }
})

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
