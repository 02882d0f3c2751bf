// Security hole 6: one client took 200,000 subscriptions in 3 s and grew the server by 213 MB. Subscriptions per
// client (HERALD_MQTT_MAX_SUBSCRIPTIONS, default 10,000) and connections per account are limited now: more
// subscriptions get SUBACK 0x80 (the connection stays up), more connections get CONNACK 3.
import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import type { ErrorWithReasonCode, MqttClient } from 'mqtt'
import { collect, connect, startTestHerald, type TestHerald } from '../helpers.ts'

let h: TestHerald
const open: MqttClient[] = []
const LIMIT = 50

before(async () => {
  const acl = join(process.env.TMPDIR ?? '/tmp', `herald-sec6-${process.pid}.acl`)
  writeFileSync(acl, 'pattern readwrite own/%u/#\n')
  h = await startTestHerald({ overrides: { 'auth.aclFile': acl, 'mqtt.maxSubscriptions': LIMIT, 'mqtt.maxConnectionsPerPrincipal': 3 } })
  await h.users.add('mallory', 'pw')
  await h.users.add('alice', 'pw')
})
after(async () => {
  for (const c of open) c.end(true)
  await h.close()
})

const client = async (username: string, clientId: string, o: { clean?: boolean } = {}) => {
  const c = await connect(h.mqttUrl, { username, password: 'pw', clientId, ...o })
  open.push(c)
  return c
}
/** SUBACK return codes for one SUBSCRIBE with these filters (mqtt.js reports 0x80 as qos 128). */
const suback = (c: MqttClient, filters: string[]) => new Promise<number[]>((resolve) => {
  // with a refused filter mqtt.js reports an error that carries the SUBACK
  c.subscribe(filters, { qos: 0 }, (err, granted) => resolve(err ? (err as unknown as { packet: { granted: number[] } }).packet.granted : (granted ?? []).map((g) => g.qos)))
})
const filters = (user: string, from: number, n: number) => Array.from({ length: n }, (_, i) => `own/${user}/t${from + i}`)

describe('security 6: subscriptions per client, connections per account', () => {
  test('beyond the limit each new filter gets 0x80; the connection stays up and the granted ones deliver', async () => {
    const c = await client('mallory', 'sec6-flood')
    const codes = await suback(c, filters('mallory', 0, LIMIT + 20))
    assert.deepEqual(codes.slice(0, LIMIT), new Array(LIMIT).fill(0))
    assert.deepEqual(codes.slice(LIMIT), new Array(20).fill(128))
    assert.equal(c.connected, true)
    assert.deepEqual(await suback(c, ['own/mallory/t3']), [0], 'subscribing again to a held filter is not a new one')
    const got = collect(c, 1)
    await c.publishAsync('own/mallory/t7', 'still works', { qos: 1 })
    assert.equal((await got)[0].payload.toString(), 'still works')
    // unsubscribing frees room
    await c.unsubscribeAsync(filters('mallory', 0, 5))
    assert.deepEqual(await suback(c, filters('mallory', 100, 6)), [0, 0, 0, 0, 0, 128])
  })

  test('a persistent session keeps its count across reconnects; a clean session starts afresh', async () => {
    const c = await client('mallory', 'sec6-persist', { clean: false })
    assert.deepEqual(await suback(c, filters('mallory', 0, LIMIT)), new Array(LIMIT).fill(0))
    await c.endAsync()
    const again = await client('mallory', 'sec6-persist', { clean: false })
    assert.deepEqual(await suback(again, filters('mallory', 500, 1)), [128], 'the restored subscriptions still count')
    await again.endAsync()
    const fresh = await client('mallory', 'sec6-persist', { clean: true })
    assert.deepEqual(await suback(fresh, filters('mallory', 500, 1)), [0])
    await fresh.endAsync()
  })

  test('connections per account: the 4th is refused with CONNACK 3; other accounts and superusers are not held back', async () => {
    const mine = [await client('alice', 'sec6-a1'), await client('alice', 'sec6-a2'), await client('alice', 'sec6-a3')]
    await assert.rejects(client('alice', 'sec6-a4'), (e: ErrorWithReasonCode) => e.code === 3)
    // the same client id reconnecting replaces its connection instead of adding one
    const again = await client('alice', 'sec6-a3')
    assert.equal(again.connected, true)
    await mine[0].endAsync()
    const later = await client('alice', 'sec6-a5')
    assert.equal(later.connected, true, 'a closed connection frees its slot')
    const svc = await Promise.all([1, 2, 3, 4].map((i) => connect(h.mqttUrl, { username: 'herald', password: h.servicePassword, clientId: `sec6-svc${i}` })))
    open.push(...svc)
    assert.ok(svc.every((c) => c.connected))
  })
})
