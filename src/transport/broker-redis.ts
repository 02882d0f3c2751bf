// The embedded broker's Redis pieces (issue 11 items 3 and scale-out), loaded only when configured: aedes-persistence-redis
// for MQTT sessions, and mqemitter-redis, the emitter N embedded nodes share so a PUBLISH on one reaches the others' clients.
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)

/** an Aedes persistence or emitter, as Aedes takes it (opaque to Herald) */
export type AedesPart = object

function ioredisOf(): new (url: string, o: object) => object {
  return (require('ioredis') as { Redis: new (url: string, o: object) => object }).Redis
}

/** aedes-persistence-redis on its own connection to `url` (a db number in the URL keeps it apart: redis://host/3) */
export function redisPersistence(url: string): AedesPart {
  const Redis = ioredisOf()
  const create = require('aedes-persistence-redis') as (o: object) => AedesPart
  return create({ conn: new Redis(url, { maxRetriesPerRequest: null }) })
}

/** mqemitter-redis: pub/sub channels `prefix` + topic on `url` (channels are not per db: the prefix keeps brokers apart) */
export function redisEmitter(url: string, prefix: string): AedesPart {
  const Redis = ioredisOf()
  const { MQEmitterRedisPrefix } = require('mqemitter-redis') as { MQEmitterRedisPrefix: new (prefix: string, o: object) => AedesPart }
  const conn = () => new Redis(url, { maxRetriesPerRequest: null })
  return new MQEmitterRedisPrefix(prefix, { subConn: conn(), pubConn: conn() })
}
