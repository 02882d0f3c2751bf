// Issue 11 §4: `$SYS/broker/…` statistics as Mosquitto publishes them (mosquitto(8) "Broker Status"), retained, every
// mqtt.sysIntervalS, for superusers only; Aedes' own `$SYS/<id>/…` packets are never sent to a client.
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import Database from 'better-sqlite3'
import type { MqttClient } from 'mqtt'
import { connect, eventually, silence, startTestHerald, subackCodes, type TestHerald } from '../helpers.ts'

const root = { username: 'sys-root', password: 'pw-root' }
const alice = { username: 'sys-alice', password: 'pw-alice' }

/** the latest value of every topic a client receives */
function latest(c: MqttClient): Map<string, string> {
  const m = new Map<string, string>()
  c.on('message', (t, p) => m.set(t, p.toString()))
  return m
}

describe('$SYS/broker statistics', () => {
  let h: TestHerald
  before(async () => {
    h = await startTestHerald({ overrides: { 'mqtt.sysIntervalS': 1 } })
    await h.users.add(root.username, root.password, true)
    await h.users.add(alice.username, alice.password)
  })
  after(() => h.close())

  test('a superuser gets Mosquitto\'s topics, retained, and they move with the traffic', async () => {
    const c = await connect(h.mqttUrl, { ...root, clientId: 'sys-reader' })
    const seen = latest(c)
    const retained = new Set<string>()
    c.on('message', (t, _p, packet) => { if (packet.retain) retained.add(t) })
    assert.deepEqual(await subackCodes(c, ['$SYS/broker/#'], 0), [0])
    await eventually(() => seen.has('$SYS/broker/uptime') && seen.has('$SYS/broker/load/bytes/received/1min'), 'the statistics')
    for (const t of ['version', 'uptime', 'clients/connected', 'clients/total', 'clients/maximum', 'messages/received', 'messages/sent',
      'publish/messages/received', 'publish/messages/sent', 'bytes/received', 'bytes/sent', 'subscriptions/count',
      'load/messages/received/1min', 'load/messages/sent/1min', 'load/publish/received/5min', 'load/connections/15min']) {
      assert.ok(seen.has(`$SYS/broker/${t}`), `$SYS/broker/${t}`)
      assert.ok(retained.has(`$SYS/broker/${t}`), `$SYS/broker/${t} is retained`)
    }
    assert.match(seen.get('$SYS/broker/version')!, /^herald version \d+\.\d+\.\d+/)
    assert.match(seen.get('$SYS/broker/uptime')!, /^\d+ seconds$/)
    // the retained values came first; the next interval counts this client and its subscription
    await eventually(() => Number(seen.get('$SYS/broker/clients/connected')) >= 1 && Number(seen.get('$SYS/broker/subscriptions/count')) >= 1, 'this client counted')
    const bytesBefore = Number(seen.get('$SYS/broker/bytes/received'))
    const publishBefore = Number(seen.get('$SYS/broker/publish/messages/received'))
    const p = await connect(h.mqttUrl, { ...root, clientId: 'sys-publisher' })
    for (let i = 0; i < 10; i++) await p.publishAsync('sys/traffic', Buffer.alloc(1000), { qos: 1 })
    await eventually(() => Number(seen.get('$SYS/broker/bytes/received')) >= bytesBefore + 10_000 &&
      Number(seen.get('$SYS/broker/publish/messages/received')) >= publishBefore + 10 &&
      Number(seen.get('$SYS/broker/clients/connected')) >= 2 && Number(seen.get('$SYS/broker/clients/maximum')) >= 2, 'the counters to move')
    assert.match(seen.get('$SYS/broker/load/publish/received/1min')!, /^\d+\.\d\d$/)
    await p.endAsync()
    await c.endAsync()
  })

  test('a late superuser gets the retained values at once; `$SYS/#` brings nothing but $SYS/broker/…', async () => {
    const c = await connect(h.mqttUrl, { ...root, clientId: 'sys-late' })
    const topics = new Set<string>()
    c.on('message', (t) => topics.add(t))
    await c.subscribeAsync('$SYS/#', { qos: 0 })
    // another client connecting: Aedes publishes $SYS/<its id>/new/clients, which no client is sent
    const other = await connect(h.mqttUrl, { ...alice, clientId: 'sys-other' })
    await eventually(() => topics.has('$SYS/broker/clients/connected'), 'the retained statistics')
    await new Promise((r) => setTimeout(r, 1200))
    assert.deepEqual([...topics].filter((t) => !t.startsWith('$SYS/broker/')), [])
    await other.endAsync()
    await c.endAsync()
  })

  test('the durable store keeps an ordinary retained message but no $SYS value: those are the node\'s live state, in memory', async () => {
    const c = await connect(h.mqttUrl, { ...root, clientId: 'sys-store' })
    await c.publishAsync('sys/kept', 'kept', { qos: 1, retain: true })
    await new Promise((r) => setTimeout(r, 1200))
    const db = new Database(join(h.dataDir, 'herald.db'), { readonly: true })
    try {
      const topics = (db.prepare('SELECT topic FROM herald_mqtt_retained').all() as { topic: string }[]).map((r) => r.topic)
      assert.deepEqual(topics, ['sys/kept'])
    } finally {
      db.close()
    }
    // and they are still retained for a superuser who comes later
    const seen = latest(c)
    await c.subscribeAsync('$SYS/broker/version', { qos: 0 })
    await eventually(() => seen.has('$SYS/broker/version'), 'the retained version')
    await c.publishAsync('sys/kept', '', { qos: 1, retain: true })
    await c.endAsync()
  })

  test('an account that is not a superuser is refused $SYS (SUBACK 0x80; 0x87 under 5) and gets nothing from # either', async () => {
    const c = await connect(h.mqttUrl, { ...alice, clientId: 'sys-alice-311' })
    assert.deepEqual(await subackCodes(c, ['$SYS/#', '$SYS/broker/uptime'], 0), [0x80, 0x80])
    const c5 = await connect(h.mqttUrl, { ...alice, clientId: 'sys-alice-5', protocolVersion: 5 })
    assert.deepEqual(await subackCodes(c5, ['$SYS/broker/#'], 0), [0x87])
    assert.equal(await silence(c, 1500), true)
    // a superuser's `#` does not match `$`-topics either (MQTT-4.7.2-1)
    const r = await connect(h.mqttUrl, { ...root, clientId: 'sys-root-hash' })
    await r.subscribeAsync('#', { qos: 0 })
    const got: string[] = []
    r.on('message', (t) => got.push(t))
    await new Promise((res) => setTimeout(res, 1500))
    assert.deepEqual(got.filter((t) => t.startsWith('$')), [])
    for (const x of [c, c5, r]) await x.endAsync()
  })

  test('a client cannot publish on $SYS/broker (acknowledged and dropped)', async () => {
    const c = await connect(h.mqttUrl, { ...root, clientId: 'sys-forger' })
    await c.publishAsync('$SYS/broker/version', 'forged', { qos: 1, retain: true })
    const r = await connect(h.mqttUrl, { ...root, clientId: 'sys-check' })
    const seen = latest(r)
    await r.subscribeAsync('$SYS/broker/version', { qos: 0 })
    await eventually(() => seen.has('$SYS/broker/version'), 'the version')
    assert.match(seen.get('$SYS/broker/version')!, /^herald version/)
    await c.endAsync()
    await r.endAsync()
  })
})

describe('$SYS off (mqtt.sysIntervalS 0)', () => {
  let h: TestHerald
  before(async () => {
    h = await startTestHerald({ overrides: { 'mqtt.sysIntervalS': 0 } })
    await h.users.add(root.username, root.password, true)
  })
  after(() => h.close())

  test('nothing is published', async () => {
    const c = await connect(h.mqttUrl, { ...root, clientId: 'sys-off' })
    await c.subscribeAsync('$SYS/broker/#', { qos: 0 })
    assert.equal(await silence(c, 1500), true)
    await c.endAsync()
  })
})
