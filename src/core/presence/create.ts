// The composition root's choice: Redis when a URL is configured (several nodes), else this process's memory.
import { systemClock, type Clock } from '../clock.ts'
import { MemoryPresence } from './memory.ts'
import { RedisPresence } from './redis.ts'
import type { Presence } from './types.ts'

export interface PresenceSettings {
  redisUrl: string
  redisPrefix: string
  nodeTtlMs: number
  clock?: Clock
  onError: (err: unknown) => void
}

export async function createPresence(o: PresenceSettings): Promise<Presence> {
  const clock = o.clock ?? systemClock
  if (!o.redisUrl) return new MemoryPresence({ clock, onError: o.onError })
  return RedisPresence.create({ url: o.redisUrl, prefix: o.redisPrefix, nodeTtlMs: o.nodeTtlMs, clock, onError: o.onError })
}
