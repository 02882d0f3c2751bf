// Issue 11 item 3 with MQTT 5 (aedes 2): what an offline MQTT 5 session was queued keeps its properties (user
// properties, correlation data, response topic, content type) through the store, and its subscription keeps its
// options (no local, retain as published) across reconnects; on Herald with HERALD_MQTT_PERSISTENCE=store.
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import mqtt from 'mqtt'
import { connect, startTestHerald, type TestHerald } from '../helpers.ts'

let h: TestHerald
before(async () => {
  h = await startTestHerald()
  await h.users.add('v5', 'pw', true)
})
after(() => h.close())

const v5 = { protocolVersion: 5 as const, username: 'v5', password: 'pw' }

test('an MQTT 5 message queued for an offline session comes back with its properties; the restored subscription keeps no local and retain as published', async () => {
  const sub = await connect(h.mqttUrl, { ...v5, clientId: 'v5-offline', clean: false, properties: { sessionExpiryInterval: 3600 } })
  await sub.subscribeAsync('v5/t', { qos: 1, nl: true, rap: true })
  await sub.endAsync()
  const pub = await connect(h.mqttUrl, { ...v5, clientId: 'v5-pub' })
  await pub.publishAsync('v5/t', 'with-props', {
    qos: 1, retain: false,
    properties: { userProperties: { k: 'v' }, correlationData: Buffer.from([1, 2, 3]), responseTopic: 'v5/reply', contentType: 'text/plain', messageExpiryInterval: 3600 },
  })
  await pub.endAsync()

  const back = mqtt.connect(h.mqttUrl, { ...v5, clientId: 'v5-offline', clean: false, properties: { sessionExpiryInterval: 3600 }, reconnectPeriod: 0 })
  const got = await new Promise<{ payload: string; properties: Record<string, unknown> | undefined }>((resolve, reject) => {
    back.once('message', (_t, payload, packet) => resolve({ payload: payload.toString(), properties: packet.properties as Record<string, unknown> | undefined }))
    back.once('error', reject)
  })
  assert.equal(got.payload, 'with-props')
  assert.deepEqual({ ...got.properties?.userProperties as object }, { k: 'v' })
  assert.deepEqual(got.properties?.correlationData, Buffer.from([1, 2, 3]))
  assert.equal(got.properties?.responseTopic, 'v5/reply')
  assert.equal(got.properties?.contentType, 'text/plain')

  // the restored subscription kept its options: no local (its own message does not come back), retain as published
  const seen: { payload: string; retain: boolean }[] = []
  const other = new Promise<void>((r) => back.on('message', (_t, p, pk) => { seen.push({ payload: p.toString(), retain: pk.retain }); if (p.toString() === 'other') r() }))
  await back.publishAsync('v5/t', 'own', { qos: 1 })
  const pub2 = await connect(h.mqttUrl, { ...v5, clientId: 'v5-pub' })
  await pub2.publishAsync('v5/t', 'other', { qos: 1, retain: true })
  await other
  assert.deepEqual(seen, [{ payload: 'other', retain: true }])
  await pub2.publishAsync('v5/t', '', { qos: 1, retain: true })
  await pub2.endAsync()
  await back.endAsync()
})
