// Issue 2 bar: malformed input closes only the offending connection; the broker keeps serving everyone else.
import assert from 'node:assert/strict'
import net from 'node:net'
import { after, before, test } from 'node:test'
import type { MqttClient } from 'mqtt'
import { WebSocket } from 'ws'
import { collect, connect, startTestHerald, type TestHerald } from '../helpers.ts'
import { connectPacket, packet, publishPacket, raw } from './raw.ts'

const MAX_PACKET = 4096
let h: TestHerald
let bystander: MqttClient
const creds = { username: 'svc-test', password: 'pw-test' }

before(async () => {
  h = await startTestHerald({ overrides: { 'mqtt.maxPacketSize': MAX_PACKET } })
  await h.users.add(creds.username, creds.password, true)
  bystander = await connect(h.mqttUrl, { ...creds, clientId: 'bystander' })
  await bystander.subscribeAsync('still/#', { qos: 1 })
})

after(async () => {
  bystander.end(true)
  await h.close()
})

let n = 0
/** The already-connected client still publishes and receives, and a new client can still connect. */
async function othersUnaffected(): Promise<void> {
  const got = collect(bystander, 1)
  await bystander.publishAsync(`still/${++n}`, 'alive', { qos: 1 })
  assert.equal((await got)[0].topic, `still/${n}`)
  assert.ok(bystander.connected)
  const fresh = await connect(h.mqttUrl, creds)
  await fresh.endAsync()
}

/** Connect a raw socket and wait for CONNACK 0. */
async function rawConnected(clientId: string) {
  const r = await raw(h.ports.mqtt)
  r.socket.write(connectPacket({ clientId, ...creds }))
  const ack = await r.bytes(4)
  assert.deepEqual([...ack.subarray(0, 4)], [0x20, 2, 0, 0], 'CONNACK accepted')
  return r
}

test('garbage bytes close that connection', async () => {
  const r = await raw(h.ports.mqtt)
  r.socket.write(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n\xff\xfe\x00garbage', 'binary'))
  await r.closed()
  await othersUnaffected()
})

test('reserved packet type 0 and 15 close the connection', async () => {
  for (const type of [0x00, 0xf0]) {
    const r = await raw(h.ports.mqtt)
    r.socket.write(Buffer.from([type, 0]))
    await r.closed()
  }
  await othersUnaffected()
})

test('a CONNECT with a bad protocol name closes the connection', async () => {
  const r = await raw(h.ports.mqtt)
  r.socket.write(connectPacket({ clientId: 'bad-proto', ...creds, protocol: 'HTTP' }))
  await r.closed()
  await othersUnaffected()
})

test('a packet over mqtt.maxPacketSize closes the connection before it is buffered', async () => {
  const r = await rawConnected('oversize')
  // announce a 1 MiB PUBLISH, send only a few bytes: the announced length alone must close it
  r.socket.write(Buffer.from([0x30, 0x80, 0x80, 0x40, 0x00, 0x01, 0x61]))
  await r.closed()
  // and a complete one just over the limit, before CONNECT even
  const r2 = await raw(h.ports.mqtt)
  r2.socket.write(connectPacket({ clientId: 'o'.repeat(MAX_PACKET + 10), ...creds }))
  await r2.closed()
  await othersUnaffected()
})

test('a packet at the limit is still accepted', async () => {
  const c = await connect(h.mqttUrl, creds)
  const got = collect(bystander, 1)
  await c.publishAsync('still/big', Buffer.alloc(MAX_PACKET - 20, 0x61), { qos: 0 })
  assert.equal((await got)[0].payload.length, MAX_PACKET - 20)
  await c.endAsync()
})

test('a second CONNECT on the same connection closes it', async () => {
  const r = await rawConnected('twice')
  r.socket.write(connectPacket({ clientId: 'twice', ...creds }))
  await r.closed()
  await othersUnaffected()
})

test('a PUBLISH with an invalid UTF-8 topic closes the connection and is not delivered', async () => {
  const r = await rawConnected('bad-utf8')
  const topic = Buffer.concat([Buffer.from('still/'), Buffer.from([0xc3, 0x28])]) // invalid 2-byte sequence
  r.socket.write(publishPacket(topic, Buffer.from('x')))
  await r.closed()
  await othersUnaffected()
})

test('a PUBLISH with wildcards in the topic name closes the connection', async () => {
  const r = await rawConnected('wild')
  r.socket.write(publishPacket(Buffer.from('still/#'), Buffer.from('x')))
  await r.closed()
  await othersUnaffected()
})

test('a truncated remaining length (5 continuation bytes) closes the connection', async () => {
  const r = await raw(h.ports.mqtt)
  r.socket.write(Buffer.from([0x10, 0xff, 0xff, 0xff, 0xff, 0x7f]))
  await r.closed()
  await othersUnaffected()
})

test('a SUBSCRIBE with no topic filters closes the connection', async () => {
  const r = await rawConnected('empty-sub')
  r.socket.write(packet(0x82, Buffer.from([0x00, 0x01])))
  await r.closed()
  await othersUnaffected()
})

test('plain bytes on the TLS port end that handshake only', async () => {
  const s = net.connect({ host: '127.0.0.1', port: h.ports.mqtts })
  s.on('error', () => {})
  await new Promise<void>((r) => s.once('connect', () => r()))
  s.write(connectPacket({ clientId: 'not-tls', ...creds }))
  await new Promise<void>((r) => { if (s.destroyed) r(); else s.once('close', () => r()) })
  await othersUnaffected()
})

for (const path of ['/mqtt', '/api/v1/stream']) {
  test(`garbage and an invalid UTF-8 topic over WebSocket ${path} close only that WebSocket`, async () => {
    for (const frames of [
      [Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0x00])],
      [connectPacket({ clientId: 'ws-bad', ...creds }), publishPacket(Buffer.from([0x61, 0xff, 0xfe]), Buffer.from('x'))],
    ]) {
      const ws = new WebSocket(`${h.wsUrl}${path}`, 'mqtt')
      await new Promise<void>((resolve, reject) => { ws.once('open', () => resolve()); ws.once('error', reject) })
      for (const f of frames) ws.send(f)
      await new Promise<void>((resolve) => { if (ws.readyState === WebSocket.CLOSED) resolve(); else ws.once('close', () => resolve()) })
    }
    await othersUnaffected()
  })
}

test('a SUBSCRIBE with an invalid UTF-8 filter closes the connection', async () => {
  const r = await rawConnected('bad-utf8-sub')
  const filter = Buffer.from([0x73, 0x74, 0x69, 0x6c, 0x6c, 0x2f, 0xed, 0xa0, 0x80]) // still/ + an encoded surrogate
  const len = Buffer.alloc(2)
  len.writeUInt16BE(filter.length)
  r.socket.write(packet(0x82, Buffer.concat([Buffer.from([0x00, 0x01]), len, filter, Buffer.from([0x01])])))
  await r.closed()
  await othersUnaffected()
})
