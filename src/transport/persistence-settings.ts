// Settings of the embedded broker's MQTT sessions (issue 11 item 3): where they are kept and how far offline queues grow.
import { defineSettings } from '../config.ts'

export const persistenceSettings = defineSettings([
  { key: 'mqtt.persistence', env: ['HERALD_MQTT_PERSISTENCE'], type: 'string', default: 'store', description: "where the embedded broker keeps MQTT sessions (subscriptions, queued and in-flight QoS 1/2 messages, retained messages, wills): store (Herald's database, they survive a restart or crash) or memory (lost at restart)" },
  { key: 'mqtt.maxQueued', env: ['HERALD_MQTT_MAX_QUEUED'], type: 'int', default: 1000, description: 'messages kept per offline persistent session (store persistence); beyond it the oldest queued one is dropped (herald_mqtt_queue_dropped_total); 0: no limit' },
  { key: 'mqtt.queuedExpiryMs', env: ['HERALD_MQTT_QUEUED_EXPIRY_MS'], type: 'int', default: 0, description: 'a queued message not delivered within this many ms is dropped (store persistence; an MQTT 5 message expiry interval counts first); 0: kept until delivered' },
])

export type PersistenceKind = 'store' | 'memory'

export function persistenceKindOf(v: string): PersistenceKind {
  if (v !== 'store' && v !== 'memory') throw new Error(`mqtt.persistence (HERALD_MQTT_PERSISTENCE) is store or memory, not ${v}`)
  return v
}
