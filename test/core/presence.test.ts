// Issue 9 §2/§6: the presence contract on both implementations: this process's memory, and Redis shared by nodes
// (the machine's Redis; a key prefix of its own per run, removed afterwards).
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Redis } from 'ioredis'
import { MemoryPresence } from '../../src/core/presence/memory.ts'
import { RedisPresence } from '../../src/core/presence/redis.ts'
import type { Presence } from '../../src/core/presence/types.ts'
import { presenceContract } from '../contracts/presence.ts'
import { requireService } from '../helpers.ts'

export const REDIS_URL = process.env.HERALD_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'

async function redisAvailable(): Promise<boolean> {
  const r = new Redis(REDIS_URL, { lazyConnect: true, retryStrategy: () => null, connectTimeout: 2_000, maxRetriesPerRequest: 0 })
  r.on('error', () => {})
  try {
    await r.connect()
    return (await r.ping()) === 'PONG'
  } catch {
    return false
  } finally {
    r.disconnect()
  }
}

presenceContract('memory', async () => {
  const nodes: Presence[] = []
  return {
    shared: false,
    async node(clock) {
      const p = new MemoryPresence({ clock })
      nodes.push(p)
      return p
    },
    async close() { for (const p of nodes) await p.close() },
  }
})

const available = await redisAvailable()
presenceContract('redis', async () => {
  const prefix = `herald-test:${process.pid}:${Math.random().toString(36).slice(2, 10)}:`
  const nodes: Presence[] = []
  return {
    shared: true,
    async node(clock, nodeTtlMs) {
      const p = await RedisPresence.create({ url: REDIS_URL, prefix, clock, nodeTtlMs })
      nodes.push(p)
      return p
    },
    async close() {
      for (const p of nodes) await p.close()
      const r = new Redis(REDIS_URL)
      try {
        const keys = await r.keys(prefix.replace(/[*?[\]\\]/g, '\\$&') + '*')
        if (keys.length > 0) await r.del(...keys)
      } finally { r.disconnect() }
    },
  }
}, requireService(available, 'Redis at ' + REDIS_URL))

test('an unreachable presence Redis stops the start with a message naming it, without its password', async () => {
  await assert.rejects(RedisPresence.create({ url: 'redis://:sekret@127.0.0.1:1', prefix: 'herald-test:none:' }),
    (err: Error) => err.message.startsWith('presence: cannot connect to Redis at redis://:***@127.0.0.1:1') && !err.message.includes('sekret'))
})
