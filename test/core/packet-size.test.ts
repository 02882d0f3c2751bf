// Issue 9 §7: mqtt.maxPacketSize is enforced on the raw stream from each packet's fixed header (type byte and
// remaining-length varint), whichever way the bytes are split, before the body is buffered.
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { startTestHerald, type TestHerald } from '../helpers.ts'
import { connectPacket, packet, raw } from './raw.ts'

const MAX = 2048
let h: TestHerald
const creds = { username: 'size-test', password: 'pw-size' }

before(async () => {
  h = await startTestHerald({ overrides: { 'mqtt.maxPacketSize': MAX } })
  await h.users.add(creds.username, creds.password, true)
})
after(() => h.close())

async function connected(clientId: string) {
  const r = await raw(h.ports.mqtt)
  r.socket.write(connectPacket({ clientId, ...creds }))
  assert.deepEqual([...(await r.bytes(4)).subarray(0, 4)], [0x20, 2, 0, 0], 'CONNACK accepted')
  return r
}

/** PUBLISH QoS 1 (packet id 1) whose remaining length is exactly `length` */
function publishOf(length: number): Buffer {
  const topic = Buffer.from('size/t')
  const head = Buffer.concat([Buffer.from([0, topic.length]), topic, Buffer.from([0, 1])])
  return packet(0x32, Buffer.concat([head, Buffer.alloc(length - head.length, 0x61)]))
}

test('a PUBLISH of exactly the limit is taken (PUBACK), sent one byte at a time', async () => {
  const r = await connected('size-exact')
  const p = publishOf(MAX)
  for (const b of p.subarray(0, 8)) { r.socket.write(Buffer.from([b])); await new Promise((ok) => setImmediate(ok)) }
  r.socket.write(p.subarray(8))
  assert.deepEqual([...(await r.bytes(8)).subarray(4, 8)], [0x40, 2, 0, 1])
  r.socket.destroy()
})

test('one byte over the limit closes the connection, the length split across writes and no body sent', async () => {
  const r = await connected('size-over')
  const p = publishOf(MAX + 1)
  r.socket.write(p.subarray(0, 2))
  r.socket.write(p.subarray(2, 3)) // the varint's last byte: only the announced length is known
  await r.closed()
  assert.equal(r.received().length, 4, 'nothing but the CONNACK was answered')
})

test('a remaining length of more than four bytes is malformed and closes the connection', async () => {
  const r = await connected('size-bad-varint')
  r.socket.write(Buffer.from([0x30, 0x80, 0x80, 0x80, 0x80, 0x01]))
  await r.closed()
})

test('packets after a large one are still followed: a second packet over the limit in the same write closes', async () => {
  const r = await connected('size-second')
  r.socket.write(Buffer.concat([publishOf(MAX), publishOf(MAX + 100)]))
  await r.closed()
})
