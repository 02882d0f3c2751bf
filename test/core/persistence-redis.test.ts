// Issue 11 item 3: aedes-persistence's abstract suite, unchanged, on HERALD_MQTT_PERSISTENCE=redis (aedes-persistence-redis
// as transport/broker-redis.ts opens it). Redis db 11 is this file's own: flushed before every instance, nothing else.
import { createRequire } from 'node:module'
import { after, test } from 'node:test'
import { Redis } from 'ioredis'
import { redisPersistence } from '../../src/transport/broker-redis.ts'
import { requireService } from '../helpers.ts'

const abstractPersistence = createRequire(import.meta.url)('aedes-persistence/abstract.js') as (o: object) => void
const BASE = process.env.HERALD_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'
const URL = `${BASE}/11`

async function redisAvailable(): Promise<boolean> {
  const r = new Redis(URL, { lazyConnect: true, retryStrategy: () => null, connectTimeout: 2_000, maxRetriesPerRequest: 0 })
  try { await r.connect(); await r.ping(); return true } catch { return false } finally { r.disconnect() }
}

const skip = requireService(await redisAvailable(), `Redis at ${BASE}`)
const admin = skip.skip ? undefined : new Redis(URL)
after(async () => { await admin?.flushdb(); admin?.disconnect() })

abstractPersistence({
  test: (name: string, fn: (t: unknown) => Promise<void>) => test(`redis: ${name}`, skip, fn as never),
  testAsync: true,
  persistence: async () => {
    await admin!.flushdb()
    return redisPersistence(URL).persistence
  },
})
