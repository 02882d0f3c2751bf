// Issue 11 item 3, "what a client was told is stored, is stored": with HERALD_MQTT_PERSISTENCE=store a QoS 1 PUBACK
// waits for the message to be queued for the offline persistent session (Aedes writes it before publishing), and a
// write that fails is never acknowledged. The store's enqueue is held at a gate (or made to fail) in this process.
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import mqtt from 'mqtt'
import { MqttSessionStore } from '../../src/transport/persistence-store.ts'
import { connect, connectCollecting, silence, startTestHerald, type TestHerald } from '../helpers.ts'

type Enqueue = MqttSessionStore['enqueue']
const original: Enqueue = MqttSessionStore.prototype.enqueue
let gate: { entered: () => void; open: Promise<void> } | undefined
let failNext = false
MqttSessionStore.prototype.enqueue = async function (this: MqttSessionStore, rows) {
  if (failNext) { failNext = false; throw new Error('the disk is full (test)') }
  const g = gate
  if (g) { g.entered(); await g.open }
  return original.call(this, rows)
} as Enqueue

let h: TestHerald
before(async () => {
  h = await startTestHerald()
  await h.users.add('acker', 'pw', true)
  const sub = await connect(h.mqttUrl, { clientId: 'ack-offline', clean: false, username: 'acker', password: 'pw' })
  await sub.subscribeAsync('ack/t', { qos: 1 })
  await sub.endAsync()
})
after(async () => {
  MqttSessionStore.prototype.enqueue = original
  await h.close()
})

test('the PUBACK of a QoS 1 PUBLISH comes only once it is queued for the offline session', async () => {
  let entered!: () => void
  const inStore = new Promise<void>((r) => { entered = r })
  let open!: () => void
  gate = { entered, open: new Promise<void>((r) => { open = r }) }
  const pub = await connect(h.mqttUrl, { username: 'acker', password: 'pw' })
  let acked = false
  const ack = pub.publishAsync('ack/t', 'held', { qos: 1 }).then(() => { acked = true })
  await inStore
  // the write has begun and not ended: nothing has acknowledged the message yet
  await new Promise((r) => setTimeout(r, 200))
  assert.equal(acked, false, 'no PUBACK while the store write is pending')
  gate = undefined
  open()
  await ack
  assert.equal(acked, true)
  await pub.endAsync()
  const back = await connectCollecting(h.mqttUrl, { clientId: 'ack-offline', clean: false, username: 'acker', password: 'pw' }, 1)
  assert.deepEqual((await back.messages).map((m) => m.payload.toString()), ['held'])
  await back.client.endAsync()
})

test('a QoS 1 PUBLISH whose store write fails is not acknowledged: the connection closes and the client sends it again', async () => {
  failNext = true
  // mqtt.js reconnects by itself and sends the unacknowledged PUBLISH again (MQTT-4.4.0-1)
  const pub = mqtt.connect(h.mqttUrl, { clientId: 'ack-pub', clean: false, username: 'acker', password: 'pw', reconnectPeriod: 50 })
  let closes = 0
  pub.on('close', () => { closes++ })
  await pub.publishAsync('ack/t', 'retried', { qos: 1 })
  assert.ok(closes >= 1, 'the first attempt was refused by closing the connection, not acknowledged')
  await pub.endAsync()
  const back = await connectCollecting(h.mqttUrl, { clientId: 'ack-offline', clean: false, username: 'acker', password: 'pw' }, 1)
  assert.deepEqual((await back.messages).map((m) => m.payload.toString()), ['retried'])
  assert.ok(await silence(back.client, 200), 'stored once')
  await back.client.endAsync()
})
