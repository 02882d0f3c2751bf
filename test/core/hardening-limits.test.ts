// Issue 11 §4: the broker's limits, each from a real socket and each counted in herald_mqtt_limited_total{limit}:
// connections in total and per address (closed at accept), CONNECT rate per address (CONNACK 3 / 0x9F), in-flight
// inbound QoS 2 under 3.1.1 (GHSA-5jvp-3p2v-5qgf), topic length and levels (PUBLISH and SUBSCRIBE, 3.1.1 and 5),
// keep-alive (MQTT-3.1.2-24, and a v5 keep-alive 0 under mqtt.keepaliveLimit), the CONNECT timeout.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import mqttPacket, { type Packet } from 'mqtt-packet'
import { connect, eventually, silence, startTestHerald, subackCodes, type TestHerald } from '../helpers.ts'
import { connected, limitedCount, wire, type Wire } from './hardening-wire.ts'

const admin = { username: 'limits-admin', password: 'pw-limits' }
const code = (p: Packet) => (p as { returnCode?: number; reasonCode?: number }).returnCode ?? (p as { reasonCode?: number }).reasonCode

async function herald(overrides: Record<string, unknown>): Promise<TestHerald> {
  const h = await startTestHerald({ overrides })
  await h.users.add(admin.username, admin.password, true)
  return h
}

describe('connections in total and per address', () => {
  let h: TestHerald
  before(async () => { h = await herald({ 'mqtt.maxConnections': 5, 'mqtt.maxConnectionsPerAddress': 3 }) })
  after(() => h.close())

  test('a 4th connection from one address is closed at accept, before any CONNACK; one closing makes room', async () => {
    const open: Wire[] = []
    for (let i = 0; i < 3; i++) {
      const { w, connack } = await connected(h, `per-addr-${i}`, admin, { localAddress: '127.0.0.2' })
      assert.equal(code(connack), 0)
      open.push(w)
    }
    const over = await wire(h.ports.mqtt, { localAddress: '127.0.0.2' })
    await over.closed()
    assert.equal(over.bytes, 0, 'nothing answered')
    assert.equal(await limitedCount(h, 'connections-per-address'), 1)
    // another address is not affected
    const other = await connected(h, 'other-addr', admin, { localAddress: '127.0.0.3' })
    assert.equal(code(other.connack), 0)
    open[0].socket.destroy()
    await eventually(async () => {
      const w = await wire(h.ports.mqtt, { localAddress: '127.0.0.2' })
      w.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: 'per-addr-again', keepalive: 0, username: admin.username, password: Buffer.from(admin.password) })
      const ok = await w.next('connack', 2000).then((p) => code(p) === 0, () => false)
      if (ok) open.push(w)
      else w.socket.destroy()
      return ok
    }, 'room for a new connection from 127.0.0.2')
    for (const w of [...open, other.w]) w.socket.destroy()
    await eventually(async () => (await h.metrics.connections.get()).values[0]?.value === 0, 'all closed')
  })

  test('a 6th connection in total is closed at accept, whichever the address', async () => {
    const open: Wire[] = []
    for (let i = 0; i < 5; i++) {
      const { w, connack } = await connected(h, `total-${i}`, admin, { localAddress: `127.0.0.${10 + (i % 2)}` })
      assert.equal(code(connack), 0)
      open.push(w)
    }
    const over = await wire(h.ports.mqtt, { localAddress: '127.0.0.20' })
    await over.closed()
    assert.equal(over.bytes, 0)
    assert.equal(await limitedCount(h, 'connections'), 1)
    for (const w of open) w.socket.destroy()
  })
})

describe('CONNECT rate per address', () => {
  let h: TestHerald
  before(async () => { h = await herald({ 'mqtt.connectRatePerAddress': 2 }) })
  after(() => h.close())

  test('a burst over the rate: CONNACK 3 under 3.1.1, 0x9F (connection rate exceeded) under 5; other addresses go on', async () => {
    const codes: number[] = []
    for (let i = 0; i < 3; i++) {
      const { w, connack } = await connected(h, `rate-${i}`, admin, { localAddress: '127.0.0.30' })
      codes.push(code(connack)!)
      w.socket.destroy()
    }
    assert.deepEqual(codes, [0, 0, 3])
    const v5 = await connected(h, 'rate-v5', admin, { localAddress: '127.0.0.30', protocolVersion: 5 })
    assert.equal(code(v5.connack), 0x9f)
    v5.w.socket.destroy()
    const other = await connected(h, 'rate-other', admin, { localAddress: '127.0.0.31' })
    assert.equal(code(other.connack), 0)
    other.w.socket.destroy()
    assert.equal(await limitedCount(h, 'connect-rate'), 2)
    // the bucket refills: a second later the address may connect again
    await new Promise((r) => setTimeout(r, 1100))
    const again = await connected(h, 'rate-again', admin, { localAddress: '127.0.0.30' })
    assert.equal(code(again.connack), 0)
    again.w.socket.destroy()
  })
})

describe('in-flight inbound, topic limits, CONNECT timeout', () => {
  let h: TestHerald
  before(async () => {
    h = await herald({ 'mqtt.maxInflightIn': 5, 'mqtt.receiveMaximum': 3, 'mqtt.maxTopicLength': 64, 'mqtt.maxTopicLevels': 5, 'mqtt.connectTimeoutMs': 500 })
  })
  after(() => h.close())

  test('3.1.1: QoS 2 PUBLISHes never released (GHSA-5jvp-3p2v-5qgf): the 6th unanswered one closes the connection', async () => {
    const { w } = await connected(h, 'no-pubrel', admin)
    for (let id = 1; id <= 5; id++) w.send({ cmd: 'publish', topic: 'inflight/t', payload: 'x', qos: 2, messageId: id })
    for (let id = 1; id <= 5; id++) assert.equal((await w.next('pubrec')).messageId, id)
    assert.equal(w.isClosed, false)
    w.send({ cmd: 'publish', topic: 'inflight/t', payload: 'x', qos: 2, messageId: 6 })
    await w.closed()
    assert.equal(await limitedCount(h, 'inflight-in'), 1)
  })

  test('3.1.1: a client that completes its QoS 2 exchanges is never limited, however many', async () => {
    const { w } = await connected(h, 'with-pubrel', admin)
    for (let id = 1; id <= 30; id++) {
      w.send({ cmd: 'publish', topic: 'inflight/t', payload: 'x', qos: 2, messageId: id })
      await w.next('pubrec')
      w.send({ cmd: 'pubrel', messageId: id })
      assert.equal((await w.next('pubcomp')).messageId, id)
    }
    assert.equal(w.isClosed, false)
    w.socket.destroy()
  })

  test('MQTT 5: the Receive Maximum is the in-flight limit: a 4th QoS 2 PUBLISH never released gets DISCONNECT 0x93', async () => {
    const { w } = await connected(h, 'no-pubrel-5', admin, { protocolVersion: 5 })
    const before = await limitedCount(h, 'inflight-in')
    for (let id = 1; id <= 3; id++) w.send({ cmd: 'publish', topic: 'inflight/t', payload: 'x', qos: 2, messageId: id })
    for (let id = 1; id <= 3; id++) await w.next('pubrec')
    w.send({ cmd: 'publish', topic: 'inflight/t', payload: 'x', qos: 2, messageId: 4 })
    assert.equal(code(await w.next('disconnect')), 0x93)
    await w.closed()
    assert.equal(await limitedCount(h, 'inflight-in'), before + 1)
  })

  test('3.1.1: QoS 1 is not counted: 3000 PUBLISHes in one write (a pipelining publisher) all get their PUBACK', async () => {
    const { w } = await connected(h, 'pipelining', admin)
    const burst = Buffer.concat(Array.from({ length: 3000 }, (_, i) => mqttPacket.generate({ cmd: 'publish', topic: 'inflight/q1', payload: Buffer.from('x'), qos: 1, messageId: i + 1, retain: false, dup: false })))
    w.socket.write(burst)
    await eventually(() => w.packets.filter((p) => p.cmd === 'puback').length === 3000 || w.isClosed, '3000 PUBACKs', 30_000)
    assert.equal(w.isClosed, false)
    w.socket.destroy()
  })

  test('3.1.1: a PUBLISH to a topic over the length or levels limit is acknowledged and dropped; at the limit it goes', async () => {
    const sub = await connect(h.mqttUrl, { ...admin, clientId: 'topic-sub' })
    await sub.subscribeAsync('#', { qos: 1 })
    const pub = await connect(h.mqttUrl, { ...admin, clientId: 'topic-pub' })
    const long = `t/${'x'.repeat(63)}`
    await pub.publishAsync(long, 'long', { qos: 1 })
    await pub.publishAsync('a/b/c/d/e/f', 'deep', { qos: 1 })
    assert.equal(await silence(sub, 300), true, 'neither was published')
    assert.equal(pub.connected, true)
    const atLimit = `t/${'x'.repeat(62)}`
    const got = new Promise<string>((r) => sub.once('message', (t) => r(t)))
    await pub.publishAsync(atLimit, 'ok', { qos: 1 })
    assert.equal(await got, atLimit)
    const deep = new Promise<string>((r) => sub.once('message', (t) => r(t)))
    await pub.publishAsync('a/b/c/d/e', 'ok', { qos: 1 })
    assert.equal(await deep, 'a/b/c/d/e')
    assert.equal(await limitedCount(h, 'topic-length'), 1)
    assert.equal(await limitedCount(h, 'topic-levels'), 1)
    await sub.endAsync()
    await pub.endAsync()
  })

  test('SUBSCRIBE over the limits: SUBACK 0x80 under 3.1.1, 0x8F (topic filter invalid) under 5; the connection stays', async () => {
    const c4 = await connect(h.mqttUrl, { ...admin, clientId: 'filter-311' })
    assert.deepEqual(await subackCodes(c4, [`f/${'x'.repeat(63)}`, 'a/b/c/d/e/#', 'a/b/c/d/e/f', 'ok/+'], 1), [0x80, 0x80, 0x80, 1])
    const c5 = await connect(h.mqttUrl, { ...admin, clientId: 'filter-5', protocolVersion: 5 })
    assert.deepEqual(await subackCodes(c5, [`f/${'x'.repeat(63)}`, '+/+/+/+/+/+', 'ok/#'], 1), [0x8f, 0x8f, 1])
    assert.equal(c4.connected && c5.connected, true)
    await c4.endAsync()
    await c5.endAsync()
  })

  test('MQTT 5: a PUBLISH to a topic over the limit is answered DISCONNECT 0x90 (topic name invalid)', async () => {
    const c = await connect(h.mqttUrl, { ...admin, clientId: 'topic-5', protocolVersion: 5 })
    const disconnect = new Promise<number | undefined>((r) => c.once('disconnect', (p) => r(p.reasonCode)))
    c.publish('a/b/c/d/e/f/g', 'deep', { qos: 1 })
    assert.equal(await disconnect, 0x90)
    c.end(true)
  })

  test('a socket that sends no CONNECT is closed after mqtt.connectTimeoutMs', async () => {
    const w = await wire(h.ports.mqtt)
    await w.closed(10_000)
    assert.equal(w.bytes, 0)
    await eventually(async () => await limitedCount(h, 'connect-timeout') >= 1, 'the connect-timeout count')
  })
})

describe('keep-alive', () => {
  let h: TestHerald
  before(async () => { h = await herald({ 'mqtt.keepaliveLimit': 1 }) })
  after(() => h.close())

  test('3.1.1: a client silent after a CONNECT with keep-alive 1 is disconnected (1.5 × keep-alive, MQTT-3.1.2-24)', async () => {
    const { w, connack } = await connected(h, 'silent', admin, { connect: { keepalive: 1 } })
    assert.equal(code(connack), 0)
    await w.closed(10_000)
    await eventually(async () => await limitedCount(h, 'keepalive') >= 1, 'the keepalive count')
  })

  test('3.1.1: one that sends PINGREQ within its keep-alive stays connected', async () => {
    const { w } = await connected(h, 'pinging', admin, { connect: { keepalive: 1 } })
    for (let i = 0; i < 6; i++) {
      w.send({ cmd: 'pingreq' })
      await w.next('pingresp')
      await new Promise((r) => setTimeout(r, 400))
    }
    assert.equal(w.isClosed, false)
    w.socket.destroy()
  })

  test('MQTT 5: keep-alive 0 under mqtt.keepaliveLimit 1: CONNACK Server Keep Alive 1, then disconnected when silent', async () => {
    const { w, connack } = await connected(h, 'silent-5', admin, { protocolVersion: 5, connect: { keepalive: 0 } })
    assert.equal(code(connack), 0)
    assert.equal((connack as { properties?: { serverKeepAlive?: number } }).properties?.serverKeepAlive, 1)
    await w.closed(10_000)
  })
})
