// The embedded broker's Redis pieces (issue 11 items 3 and scale-out), loaded only when configured: aedes-persistence-redis
// for MQTT sessions, and mqemitter-redis, the emitter N embedded nodes share so a PUBLISH on one reaches the others' clients.
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)

/** an Aedes persistence or emitter, as Aedes takes it (opaque to Herald) */
export type AedesPart = object

interface RedisConn { quit(): Promise<unknown> }
type RedisClass = new (url: string, o: object) => RedisConn

/** ioredis, whose QUIT at close may meet the socket already closed: that is a closed connection, not an error */
function ioredisOf(): RedisClass {
  const { Redis } = require('ioredis') as { Redis: RedisClass }
  return class extends Redis {
    override quit(): Promise<unknown> {
      const done = super.quit()
      done.catch(() => {})
      return done
    }
  }
}

/**
 * aedes-persistence-redis on its own connection to `url` (a db number in the URL keeps it apart: redis://host/3);
 * `close` ends its connection (Aedes' close does not)
 */
export function redisPersistence(url: string): { persistence: AedesPart; close(): Promise<void> } {
  const Redis = ioredisOf()
  const create = require('aedes-persistence-redis') as (o: object) => AedesPart & { destroy(): Promise<void> }
  const persistence = create({ conn: new Redis(url, { maxRetriesPerRequest: null }) })
  return { persistence, close: () => persistence.destroy() }
}

/** mqemitter-redis: pub/sub channels `prefix` + topic on `url` (channels are not per db: the prefix keeps brokers apart) */
export function redisEmitter(url: string, prefix: string): AedesPart {
  const Redis = ioredisOf()
  const { MQEmitterRedisPrefix } = require('mqemitter-redis') as { MQEmitterRedisPrefix: new (prefix: string, o: object) => AedesPart }
  const conn = () => new Redis(url, { maxRetriesPerRequest: null })
  return new MQEmitterRedisPrefix(prefix, { subConn: conn(), pubConn: conn() })
}
