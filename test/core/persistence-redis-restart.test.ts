// Issue 11 item 3 on HERALD_MQTT_PERSISTENCE=redis: a persistent session's subscription and the QoS 1 messages queued
// for it while offline (each PUBACKed) survive a Herald restart. Redis db 12 is this file's own, flushed before and after.
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { Redis } from 'ioredis'
import mqtt from 'mqtt'
import { collect, connect, requireService, startTestHerald, type TestHerald } from '../helpers.ts'

const BASE = process.env.HERALD_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'
const URL = `${BASE}/12`
const user = { username: 'redis-restart', password: 'pw-redis-restart' }

async function redisAvailable(): Promise<boolean> {
  const r = new Redis(URL, { lazyConnect: true, retryStrategy: () => null, connectTimeout: 2_000, maxRetriesPerRequest: 0 })
  try { await r.connect(); await r.ping(); return true } catch { return false } finally { r.disconnect() }
}

const skip = requireService(await redisAvailable(), `Redis at ${BASE}`)
const admin = skip.skip ? undefined : new Redis(URL)
const dataDir = mkdtempSync(join(tmpdir(), 'herald-redis-restart-'))
after(async () => {
  await admin?.flushdb()
  admin?.disconnect()
  rmSync(dataDir, { recursive: true, force: true })
})

/** Herald on redis persistence; the same data directory each time (the accounts stay in its SQLite) */
const start = (): Promise<TestHerald> => startTestHerald({ overrides: { dataDir, 'mqtt.persistence': 'redis', 'mqtt.redisUrl': URL } })

test('redis persistence: a persistent session and its queued QoS 1 messages survive a restart', skip, async () => {
  await admin!.flushdb()
  const first = await start()
  await first.users.add(user.username, user.password, true)
  const sub = await connect(first.mqttUrl, { ...user, clientId: 'redis-keeper', clean: false })
  await sub.subscribeAsync('kept/+', { qos: 1 })
  await sub.endAsync()
  const pub = await connect(first.mqttUrl, { ...user, clientId: 'redis-pub' })
  for (const n of [1, 2, 3]) await pub.publishAsync(`kept/${n}`, `m${n}`, { qos: 1 })
  await pub.endAsync()
  await first.stop()

  const second = await start()
  try {
    const back = mqtt.connect(second.mqttUrl, { ...user, clientId: 'redis-keeper', clean: false, reconnectPeriod: 0 })
    const got = collect(back, 3)
    const connack = await new Promise<{ sessionPresent: boolean }>((resolve) => back.once('connect', resolve))
    assert.equal(connack.sessionPresent, true)
    assert.deepEqual((await got).map((m) => [m.topic, m.payload.toString(), m.qos]), [['kept/1', 'm1', 1], ['kept/2', 'm2', 1], ['kept/3', 'm3', 1]])
    // the subscription itself came back: a new message reaches the session live
    const live = collect(back, 1)
    const pub2 = await connect(second.mqttUrl, { ...user, clientId: 'redis-pub-2' })
    await pub2.publishAsync('kept/4', 'm4', { qos: 1 })
    assert.equal((await live)[0].payload.toString(), 'm4')
    back.end(true)
    pub2.end(true)
  } finally {
    await second.stop()
  }
})
