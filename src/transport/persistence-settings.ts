// Settings of the embedded broker's MQTT sessions (issue 11 item 3): where they are kept and how far offline queues grow.
import { defineSettings } from '../config.ts'

export const persistenceSettings = defineSettings([
  { key: 'mqtt.persistence', env: ['HERALD_MQTT_PERSISTENCE'], type: 'string', default: 'store', description: "where the embedded broker keeps MQTT sessions (subscriptions, queued and in-flight QoS 1/2 messages, retained messages, wills): store (Herald's database, they survive a restart or crash), redis (aedes-persistence-redis on mqtt.redisUrl) or memory (lost at restart)" },
  { key: 'mqtt.emitter', env: ['HERALD_MQTT_EMITTER'], type: 'string', default: 'memory', description: 'how the embedded broker hands a PUBLISH to its subscribers: memory (this process only) or redis (mqemitter-redis on mqtt.redisUrl: every embedded node sharing that Redis and mqtt.emitterPrefix delivers to its own clients)' },
  { key: 'mqtt.redisUrl', env: ['HERALD_MQTT_REDIS_URL', 'HERALD_REDIS_URL'], type: 'string', default: '', description: 'redis://… of the redis persistence and the redis emitter; empty: presence.redisUrl', secret: true },
  { key: 'mqtt.emitterPrefix', env: ['HERALD_MQTT_EMITTER_PREFIX'], type: 'string', default: 'herald:mqtt:', description: 'prefix of the Redis pub/sub channels of the redis emitter (nodes with the same prefix are one broker; no * ? [ ])' },
  { key: 'mqtt.heartbeatMs', env: ['HERALD_MQTT_HEARTBEAT_MS'], type: 'int', default: 60000, description: 'several nodes (redis emitter): how often a node announces it is alive; one not heard from for 3 intervals is gone, and the others publish the wills of its clients (checked every 4 intervals)' },
  { key: 'mqtt.maxQueued', env: ['HERALD_MQTT_MAX_QUEUED'], type: 'int', default: 1000, description: 'messages kept per offline persistent session (store persistence); beyond it the oldest queued one is dropped (herald_mqtt_queue_dropped_total); 0: no limit' },
  { key: 'mqtt.queuedExpiryMs', env: ['HERALD_MQTT_QUEUED_EXPIRY_MS'], type: 'int', default: 0, description: 'a queued message not delivered within this many ms is dropped (store persistence; an MQTT 5 message expiry interval counts first); 0: kept until delivered' },
])

export type PersistenceKind = 'store' | 'memory' | 'redis'
export type EmitterKind = 'memory' | 'redis'

export function persistenceKindOf(v: string): PersistenceKind {
  if (v !== 'store' && v !== 'memory' && v !== 'redis') throw new Error(`mqtt.persistence (HERALD_MQTT_PERSISTENCE) is store, redis or memory, not ${v}`)
  return v
}

export function emitterKindOf(v: string): EmitterKind {
  if (v !== 'memory' && v !== 'redis') throw new Error(`mqtt.emitter (HERALD_MQTT_EMITTER) is memory or redis, not ${v}`)
  return v
}

/** the Redis of the redis persistence or emitter: mqtt.redisUrl, else presence.redisUrl; refused when neither is set */
export function mqttRedisUrl(get: (key: string) => string, what: string): string {
  const url = get('mqtt.redisUrl') || get('presence.redisUrl')
  if (!url) throw new Error(`${what} needs a Redis: set mqtt.redisUrl (HERALD_MQTT_REDIS_URL or HERALD_REDIS_URL)`)
  return url
}
