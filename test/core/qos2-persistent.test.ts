// QoS 2 to a persistent session (clean: false): every PUBREC gets the PUBREL of its own packet id, also when a client
// sends several PUBRECs in one TCP segment (Aedes handles a segment's packets concurrently). aedes-persistence 11's
// memory store matched the second PUBREL to the first one stored (neither has a broker id) and renumbered it: the
// broker sent one PUBREL twice and never the other, and that message never completed (found by the SYNRC room tests).
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import mqttPacket from 'mqtt-packet'
import { startTestHerald, type TestHerald } from '../helpers.ts'
import { packet, raw } from './raw.ts'

let h: TestHerald
before(async () => {
  h = await startTestHerald()
  await h.users.add('qos2', 'pw-qos2', true)
})
after(() => h.close())

const str = (s: string) => { const b = Buffer.from(s); const l = Buffer.alloc(2); l.writeUInt16BE(b.length); return Buffer.concat([l, b]) }
const id = (n: number) => { const b = Buffer.alloc(2); b.writeUInt16BE(n); return b }

test('two PUBRECs in one segment get their own two PUBRELs', async () => {
  const c = await raw(h.ports.mqtt)
  // CONNECT 3.1.1, clean session 0, username + password
  c.socket.write(packet(0x10, Buffer.concat([str('MQTT'), Buffer.from([4, 0xc0, 0, 30]), str('qos2-persistent'), str('qos2'), str('pw-qos2')])))
  c.socket.write(packet(0x82, Buffer.concat([id(1), str('qos2/t'), Buffer.from([2])])))
  const parser = mqttPacket.parser({ protocolVersion: 4 })
  const got: mqttPacket.Packet[] = []
  parser.on('packet', (p) => got.push(p))
  let seen = 0
  const until = async (pred: () => boolean, what: string) => {
    const end = Date.now() + 5000
    while (!pred()) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}: ${got.map((p) => p.cmd).join(',')}`)
      const buf = await c.bytes(seen + 1, 5000).catch(() => c.received())
      if (buf.length > seen) { parser.parse(buf.subarray(seen)); seen = buf.length }
    }
  }
  await until(() => got.some((p) => p.cmd === 'suback'), 'SUBACK')
  await Promise.all([h.bus.publish('qos2/t', 'one', { qos: 2 }), h.bus.publish('qos2/t', 'two', { qos: 2 })])
  await until(() => got.filter((p) => p.cmd === 'publish').length === 2, 'two PUBLISH')
  const ids = got.filter((p): p is mqttPacket.IPublishPacket => p.cmd === 'publish').map((p) => p.messageId!)
  // both PUBRECs in one write
  c.socket.write(Buffer.concat(ids.map((m) => packet(0x50, id(m)))))
  await until(() => got.filter((p) => p.cmd === 'pubrel').length >= 2, 'two PUBREL')
  const rels = got.filter((p): p is mqttPacket.IPubrelPacket => p.cmd === 'pubrel').map((p) => p.messageId)
  assert.deepEqual([...rels].sort(), [...ids].sort())
  c.socket.destroy()
})
