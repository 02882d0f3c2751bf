// Issue 11 §4: a frozen subscriber (subscribed QoS 0 and QoS 1 to a busy topic, then reads nothing) does not slow the
// other subscribers of that topic, what the broker queues for it is bounded (PUBLISHes past mqtt.maxQueuedBytes are not
// written, counted in herald_mqtt_limited_total), and it is disconnected after mqtt.drainTimeoutMs.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { MqttClient } from 'mqtt'
import mqttPacket, { type Packet } from 'mqtt-packet'
import WebSocket from 'ws'
import { collect, connect, eventually, startTestHerald, type TestHerald } from '../helpers.ts'
import { connected, limitedCount, type Wire } from './hardening-wire.ts'

const admin = { username: 'frozen-admin', password: 'pw-frozen' }
/** enough to fill the loopback socket buffers of the frozen client many times over (about 48 MB) */
const N = 1200
const PAYLOAD = Buffer.alloc(20_000, 0x61)
const QUEUE = 64 * 1024

/** a raw 3.1.1 subscriber of busy/q0 (QoS 0) and busy/q1 (QoS 1) that stops reading once subscribed */
async function frozen(h: TestHerald, id: string): Promise<Wire> {
  const { w, connack } = await connected(h, id, admin)
  assert.equal((connack as { returnCode: number }).returnCode, 0)
  w.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'busy/q0', qos: 0 }, { topic: 'busy/q1', qos: 1 }] })
  assert.deepEqual((await w.next('suback') as { granted: number[] }).granted, [0, 1])
  w.socket.pause()
  return w
}

/** a well-behaved subscriber counting the messages of both topics */
async function reader(h: TestHerald, id: string, version: 4 | 5): Promise<{ c: MqttClient; all: Promise<unknown[]> }> {
  const c = await connect(h.mqttUrl, { ...admin, clientId: id, protocolVersion: version })
  await c.subscribeAsync({ 'busy/q0': { qos: 0 }, 'busy/q1': { qos: 1 } })
  // generous, and far below the drain timeout: a broker that waits for the frozen socket would stall them until then
  return { c, all: collect(c, 2 * N, 60_000) }
}

async function publishAll(p: MqttClient): Promise<void> {
  for (let i = 0; i < N; i += 100) {
    const sent: Promise<unknown>[] = []
    for (let j = i; j < i + 100; j++) sent.push(p.publishAsync('busy/q0', PAYLOAD, { qos: 0 }), p.publishAsync('busy/q1', PAYLOAD, { qos: 1 }))
    await Promise.all(sent)
  }
}

describe('a frozen subscriber, drain timeout far away', () => {
  let h: TestHerald
  before(async () => {
    h = await startTestHerald({ overrides: { 'mqtt.maxQueuedBytes': QUEUE, 'mqtt.drainTimeoutMs': 600_000 } })
    await h.users.add(admin.username, admin.password, true)
  })
  after(() => h.close())

  test('the other subscribers (3.1.1 and 5) get every message; the frozen one is sent far less than was published', async () => {
    const ice = await frozen(h, 'frozen-1')
    const a = await reader(h, 'reader-311', 4)
    const b = await reader(h, 'reader-5', 5)
    const p = await connect(h.mqttUrl, { ...admin, clientId: 'busy-publisher' })
    await publishAll(p)
    assert.equal((await a.all).length, 2 * N)
    assert.equal((await b.all).length, 2 * N)
    const published = 2 * N * PAYLOAD.length
    // both kinds were dropped for it, not queued: the broker held no more than its bound for the frozen socket
    assert.ok(await limitedCount(h, 'queue-qos0') > 0, 'QoS 0 PUBLISHes to the frozen client dropped')
    assert.ok(await limitedCount(h, 'queue-qos') > 0, 'QoS 1 PUBLISHes to the frozen client not queued')
    // let it read: it gets what the kernel buffers and the broker's bounded queue held, not the 48 MB published
    ice.socket.resume()
    await eventually(async () => {
      const before = ice.bytes
      await new Promise((r) => setTimeout(r, 300))
      return ice.bytes === before
    }, 'the frozen client to have read everything queued for it', 30_000)
    assert.ok(ice.bytes < published / 2, `the frozen client was sent ${ice.bytes} of ${published} bytes`)
    assert.equal(ice.isClosed, false, 'not disconnected: its socket drained well within the drain timeout')
    // and it is still served once it reads again
    const got = ice.packets.length
    await p.publishAsync('busy/q0', 'after', { qos: 0 })
    await eventually(() => ice.packets.slice(got).some((q) => q.cmd === 'publish' && (q as { payload: Buffer }).payload.toString() === 'after'), 'a message after it woke up')
    const text = await (await fetch(`${h.metricsUrl}/metrics`)).text()
    assert.match(text, /herald_mqtt_limited_total\{limit="queue-qos0"\} [1-9]/)
    for (const c of [a.c, b.c, p]) await c.endAsync()
    ice.socket.destroy()
  })
})

describe('a client that sends but does not read', () => {
  let h: TestHerald
  before(async () => {
    h = await startTestHerald({ overrides: { 'mqtt.maxQueuedBytes': QUEUE, 'mqtt.drainTimeoutMs': 600_000 } })
    await h.users.add(admin.username, admin.password, true)
  })
  after(() => h.close())

  test('is not read either once its socket is over the bound (its own writes back up), and is read again once it reads', async () => {
    const { w } = await connected(h, 'echo', admin)
    w.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'echo/#', qos: 0 }] })
    await w.next('suback')
    w.socket.pause()
    for (let i = 0; i < N; i++) w.send({ cmd: 'publish', topic: 'echo/x', payload: PAYLOAD, qos: 0, retain: false, dup: false })
    // the broker took what it could answer, then stopped: the rest waits in this client's socket
    await new Promise((r) => setTimeout(r, 1000))
    assert.ok(w.socket.writableLength > 0, 'the broker stopped reading')
    w.socket.resume()
    await eventually(() => w.socket.writableLength === 0, 'the broker to read the rest', 30_000)
    assert.equal(w.isClosed, false)
    w.socket.destroy()
  })
})

describe('a frozen subscriber over WebSocket', () => {
  let h: TestHerald
  before(async () => {
    h = await startTestHerald({ overrides: { 'mqtt.maxQueuedBytes': QUEUE, 'mqtt.drainTimeoutMs': 600_000 } })
    await h.users.add(admin.username, admin.password, true)
  })
  after(() => h.close())

  test('slows no subscriber either, and its PUBLISHes past the bound are dropped', async () => {
    const ws = new WebSocket(`${h.wsUrl}/mqtt`, 'mqtt')
    const parser = mqttPacket.parser({ protocolVersion: 4 })
    const got: Packet[] = []
    parser.on('packet', (p: Packet) => got.push(p))
    ws.on('message', (d: Buffer) => parser.parse(d))
    ws.on('error', () => {})
    await new Promise((ok, fail) => { ws.once('open', ok); ws.once('error', fail) })
    ws.send(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: 'frozen-ws', keepalive: 0, username: admin.username, password: Buffer.from(admin.password) } as Packet))
    ws.send(mqttPacket.generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'busy/q0', qos: 0 }, { topic: 'busy/q1', qos: 1 }] } as Packet))
    await eventually(() => got.some((p) => p.cmd === 'suback'), 'the SUBACK')
    ws.pause()
    const a = await reader(h, 'reader-ws', 4)
    const p = await connect(h.mqttUrl, { ...admin, clientId: 'busy-publisher-ws' })
    await publishAll(p)
    assert.equal((await a.all).length, 2 * N)
    assert.ok(await limitedCount(h, 'queue-qos0') + await limitedCount(h, 'queue-qos') > 0, 'PUBLISHes to the frozen WebSocket dropped')
    await a.c.endAsync()
    await p.endAsync()
    ws.terminate()
  })
})

describe('a frozen subscriber, drain timeout 2 s', () => {
  let h: TestHerald
  before(async () => {
    h = await startTestHerald({ overrides: { 'mqtt.maxQueuedBytes': QUEUE, 'mqtt.drainTimeoutMs': 2000 } })
    await h.users.add(admin.username, admin.password, true)
  })
  after(() => h.close())

  test('is disconnected once its socket has not drained for the drain timeout; the others stay', async () => {
    const ice = await frozen(h, 'frozen-2')
    const a = await reader(h, 'reader-2', 4)
    const p = await connect(h.mqttUrl, { ...admin, clientId: 'busy-publisher-2' })
    await publishAll(p)
    assert.equal((await a.all).length, 2 * N)
    await eventually(async () => await limitedCount(h, 'drain-timeout') === 1, 'the drain timeout', 30_000)
    // the broker let it go (the connections gauge no longer counts it), and the socket is closed once read
    await eventually(async () => (await h.metrics.connections.get()).values[0]?.value === 2, 'the frozen client to be disconnected')
    ice.socket.resume()
    await ice.closed(30_000)
    assert.equal(a.c.connected, true)
    assert.equal(p.connected, true)
    await a.c.endAsync()
    await p.endAsync()
  })
})

for (const persistence of ['memory', 'store']) describe(`a frozen persistent subscriber (mqtt.persistence ${persistence})`, () => {
  let h: TestHerald
  before(async () => {
    h = await startTestHerald({ overrides: { 'mqtt.maxQueuedBytes': QUEUE, 'mqtt.drainTimeoutMs': 2000, 'mqtt.persistence': persistence } })
    await h.users.add(admin.username, admin.password, true)
  })
  after(() => h.close())

  test('the QoS 1 messages not written to it are kept in its session and sent when it connects again', async () => {
    const { w } = await connected(h, 'frozen-durable', admin, { connect: { clean: false } })
    w.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'busy/q1', qos: 1 }] })
    await w.next('suback')
    w.socket.pause()
    const p = await connect(h.mqttUrl, { ...admin, clientId: 'busy-publisher-durable' })
    const M = 600
    for (let i = 0; i < M; i += 100) {
      await Promise.all(Array.from({ length: 100 }, (_, j) => p.publishAsync('busy/q1', Buffer.concat([Buffer.from(`${i + j}:`), PAYLOAD]), { qos: 1 })))
    }
    assert.ok(await limitedCount(h, 'queue-qos') > 0, 'QoS 1 PUBLISHes not written to it')
    await eventually(async () => await limitedCount(h, 'drain-timeout') === 1, 'the drain timeout', 30_000)
    w.socket.destroy()
    const back = await connect(h.mqttUrl, { ...admin, clientId: 'frozen-durable', clean: false })
    const seen = new Set<string>()
    back.on('message', (_t, payload) => seen.add(payload.subarray(0, payload.indexOf(':')).toString()))
    await eventually(() => seen.size === M, `all ${M} messages (got ${seen.size})`, 30_000)
    await back.endAsync()
    await p.endAsync()
  })
})

describe('a QoS 1 subscriber of MQTT 5 that acknowledges nothing', () => {
  let h: TestHerald
  before(async () => {
    h = await startTestHerald({ overrides: { 'mqtt.maxQueuedBytes': QUEUE, 'mqtt.drainTimeoutMs': 600_000 } })
    await h.users.add(admin.username, admin.password, true)
  })
  after(() => h.close())

  test('Receive Maximum 1: what waits for its PUBACK is bounded too (closed past the queue bound), the others get all', async () => {
    const { w, connack } = await connected(h, 'silent-5', admin, { protocolVersion: 5, connect: { properties: { receiveMaximum: 1 } } })
    assert.equal((connack as { reasonCode: number }).reasonCode, 0)
    w.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'busy/q1', qos: 1 }] })
    await w.next('suback')
    const a = await reader(h, 'reader-3', 5)
    const p = await connect(h.mqttUrl, { ...admin, clientId: 'busy-publisher-3' })
    await publishAll(p)
    assert.equal((await a.all).length, 2 * N)
    await w.closed(30_000)
    assert.ok(await limitedCount(h, 'queue-qos') >= 1)
    assert.equal(w.packets.filter((q) => q.cmd === 'publish').length, 1, 'one PUBLISH in flight, as its Receive Maximum says')
    await a.c.endAsync()
    await p.endAsync()
  })
})
