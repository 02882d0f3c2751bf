// Issue 11 items 1–2: MQTT 5 with raw packets (mqtt-packet over a plain socket), for what mqtt.js hides or will not
// send: DISCONNECT 0x95 (packet too large), 0x93 (Receive Maximum exceeded), 0x94 (topic alias invalid), 0x90 (topic
// name invalid), 0x87 (HERALD_MQTT_DENIED_PUBLISH=disconnect), 0x8E (session taken over), 0x8B (server shutting
// down); a zero-length client id
// with Clean Start 0 (allowed in MQTT 5, refused in 3.1.1).
import assert from 'node:assert/strict'
import net from 'node:net'
import { after, before, describe, test } from 'node:test'
import mqttPacket, { type Packet } from 'mqtt-packet'
import { eventually, startTestHerald, type TestHerald } from '../helpers.ts'

const creds = { username: 'raw5', password: 'raw5-pw' }
const MAX = 2048
const RECEIVE_MAXIMUM = 4

interface Raw5 {
  socket: net.Socket
  packets: Packet[]
  send(p: object): void
  /** the first packet (from the start) that `pred` accepts */
  waitFor<T extends Packet>(pred: (p: Packet) => boolean, what: string): Promise<T>
  closed(): Promise<void>
}

function raw5(port: number, protocolVersion: 4 | 5 = 5): Promise<Raw5> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port })
    const parser = mqttPacket.parser({ protocolVersion })
    const packets: Packet[] = []
    let isClosed = false
    parser.on('packet', (p) => packets.push(p))
    socket.on('data', (d) => parser.parse(d))
    socket.on('error', () => {})
    socket.on('close', () => { isClosed = true })
    socket.once('connect', () => resolve({
      socket,
      packets,
      send: (p) => socket.write(mqttPacket.generate(p as Packet, { protocolVersion })),
      waitFor: <T extends Packet>(pred: (p: Packet) => boolean, what: string) =>
        eventually(() => packets.find(pred), what) as Promise<T>,
      closed: () => eventually(() => isClosed, 'the server closing the connection').then(() => undefined),
    }))
    socket.once('error', reject)
  })
}

const all: Raw5[] = []
async function connected(h: TestHerald, clientId: string, extra: object = {}): Promise<Raw5> {
  const r = await raw5(h.ports.mqtt)
  all.push(r)
  r.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clean: true, clientId, keepalive: 30, ...creds, ...extra })
  const ack = await r.waitFor<mqttPacket.IConnackPacket>((p) => p.cmd === 'connack', 'CONNACK')
  assert.equal(ack.reasonCode, 0)
  return r
}

const disconnectOf = (r: Raw5) => r.waitFor<mqttPacket.IDisconnectPacket>((p) => p.cmd === 'disconnect', 'DISCONNECT')
const publish = (topic: string, messageId: number, extra: object = {}) =>
  ({ cmd: 'publish', topic, payload: Buffer.from('x'), qos: 1, messageId, retain: false, dup: false, ...extra })

let h: TestHerald
before(async () => {
  h = await startTestHerald({ overrides: { 'mqtt.maxPacketSize': MAX, 'mqtt.receiveMaximum': RECEIVE_MAXIMUM, 'auth.allowAnonymous': false } })
  await h.users.add(creds.username, creds.password, true)
})
after(async () => {
  for (const r of all) r.socket.destroy()
  await h.close()
})

describe('MQTT 5 DISCONNECT reason codes', () => {
  test('a PUBLISH over HERALD_MQTT_MAX_PACKET_SIZE: DISCONNECT 0x95 (packet too large), only its header sent', async () => {
    const r = await connected(h, 'raw5-size')
    const ack = r.packets[0] as mqttPacket.IConnackPacket
    assert.equal(ack.properties?.maximumPacketSize, 1 + 2 + MAX)
    // fixed header of a PUBLISH announcing MAX + 1 bytes, and no body
    r.socket.write(Buffer.from([0x32, (MAX + 1) % 128 | 0x80, Math.floor((MAX + 1) / 128)]))
    assert.equal((await disconnectOf(r)).reasonCode, 0x95)
    await r.closed()
  })

  test('a PUBLISH of exactly the limit is taken', async () => {
    const r = await connected(h, 'raw5-exact')
    // remaining length: topic (2 + 6), packet id 2, properties length 1, payload
    r.send(publish('size/t', 7, { payload: Buffer.alloc(MAX - 11, 0x61) }))
    const ack = await r.waitFor<mqttPacket.IPubackPacket>((p) => p.cmd === 'puback', 'PUBACK')
    assert.equal(ack.messageId, 7)
    assert.ok(!ack.reasonCode, 'success')
  })

  test('more unacknowledged QoS 1 PUBLISHes than the Receive Maximum: DISCONNECT 0x93; as many as it: all PUBACKed', async () => {
    const ok = await connected(h, 'raw5-window-ok')
    ok.socket.write(Buffer.concat(Array.from({ length: RECEIVE_MAXIMUM }, (_, i) => mqttPacket.generate(publish('w/ok', i + 1) as Packet, { protocolVersion: 5 }))))
    await eventually(() => ok.packets.filter((p) => p.cmd === 'puback').length === RECEIVE_MAXIMUM, 'every PUBACK')
    // the window is free again once acknowledged
    ok.send(publish('w/ok', 99))
    await ok.waitFor((p) => p.cmd === 'puback' && p.messageId === 99, 'PUBACK 99')
    assert.ok(!ok.packets.some((p) => p.cmd === 'disconnect'))

    const over = await connected(h, 'raw5-window-over')
    over.socket.write(Buffer.concat(Array.from({ length: RECEIVE_MAXIMUM + 1 }, (_, i) => mqttPacket.generate(publish('w/over', i + 1) as Packet, { protocolVersion: 5 }))))
    assert.equal((await disconnectOf(over)).reasonCode, 0x93)
    await over.closed()
  })

  test('a topic alias above the Topic Alias Maximum: DISCONNECT 0x94; an unknown alias too', async () => {
    const r = await connected(h, 'raw5-alias')
    r.send(publish('a/t', 1, { properties: { topicAlias: 11 } }))
    assert.equal((await disconnectOf(r)).reasonCode, 0x94)
    const u = await connected(h, 'raw5-alias-unknown')
    u.send(publish('', 1, { properties: { topicAlias: 2 } }))
    assert.equal((await disconnectOf(u)).reasonCode, 0x94)
  })

  test('a topic with U+0000: DISCONNECT 0x90 (topic name invalid) with a Reason String, nothing acknowledged', async () => {
    const r = await connected(h, 'raw5-topic')
    r.send(publish('bad\u0000topic', 1))
    const d = await disconnectOf(r)
    assert.equal(d.reasonCode, 0x90)
    assert.match(String(d.properties?.reasonString), /invalid topic/)
    assert.ok(!r.packets.some((p) => p.cmd === 'puback'))
  })

  test('a second connection with the same client id: the first gets DISCONNECT 0x8E (session taken over)', async () => {
    const first = await connected(h, 'raw5-takeover')
    await connected(h, 'raw5-takeover')
    assert.equal((await disconnectOf(first)).reasonCode, 0x8e)
  })
})

test('a zero-length client id with Clean Start 0: accepted under MQTT 5 with an Assigned Client Identifier (refused under 3.1.1)', async () => {
  const r = await raw5(h.ports.mqtt)
  all.push(r)
  // mqtt-packet will not write it: Clean Start 1 written, then cleared (connect flags: after the 2-byte fixed header,
  // the protocol name and the level)
  const withoutCleanStart = (p: object, v: 4 | 5) => {
    const b = mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', clean: true, clientId: '', keepalive: 30, ...creds, ...p } as unknown as Packet, { protocolVersion: v })
    b[9] &= ~0x02
    return b
  }
  r.socket.write(withoutCleanStart({ protocolVersion: 5, properties: { sessionExpiryInterval: 5 } }, 5))
  const ack = await r.waitFor<mqttPacket.IConnackPacket>((p) => p.cmd === 'connack', 'CONNACK')
  assert.equal(ack.reasonCode, 0)
  assert.match(String(ack.properties?.assignedClientIdentifier), /^aedes_/)
  const old = await raw5(h.ports.mqtt, 4)
  all.push(old)
  old.socket.write(withoutCleanStart({ protocolVersion: 4 }, 4))
  assert.equal((await old.waitFor<mqttPacket.IConnackPacket>((p) => p.cmd === 'connack', 'CONNACK')).returnCode, 2)
})

test('HERALD_MQTT_DENIED_PUBLISH=disconnect under MQTT 5: DISCONNECT 0x87, no PUBACK', async () => {
  const d = await startTestHerald({ overrides: { 'mqtt.deniedPublish': 'disconnect' } })
  try {
    await d.users.add('limited', 'limited-pw')
    const r = await raw5(d.ports.mqtt)
    all.push(r)
    r.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clean: true, clientId: 'raw5-denied', keepalive: 30, username: 'limited', password: 'limited-pw' })
    await r.waitFor((p) => p.cmd === 'connack', 'CONNACK')
    r.send(publish('not/mine', 1))
    const dis = await disconnectOf(r)
    assert.equal(dis.reasonCode, 0x87)
    assert.equal(dis.properties?.reasonString, 'not authorized to publish to not/mine')
    assert.ok(!r.packets.some((p) => p.cmd === 'puback'))
    await r.closed()
    // a v5 client still connected when Herald stops is told so
    const last = await raw5(d.ports.mqtt)
    all.push(last)
    last.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clean: true, clientId: 'raw5-last', keepalive: 30, username: 'limited', password: 'limited-pw' })
    await last.waitFor((p) => p.cmd === 'connack', 'CONNACK')
    const stopping = d.close()
    assert.equal((await disconnectOf(last)).reasonCode, 0x8b)
    await stopping
  } catch (err) {
    await d.close()
    throw err
  }
})
