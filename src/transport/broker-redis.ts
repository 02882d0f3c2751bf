// The embedded broker's Redis pieces (issue 11 items 3 and scale-out), loaded only when configured: aedes-persistence-redis
// for MQTT sessions, and mqemitter-redis, the emitter N embedded nodes share so a PUBLISH on one reaches the others' clients.
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)

/** an Aedes persistence or emitter, as Aedes takes it (opaque to Herald) */
export type AedesPart = object

interface RedisConn { quit(): Promise<unknown>; disconnect(): void; emit(event: string): boolean; status: string }
type RedisClass = new (url: string, o: object) => RedisConn

/**
 * ioredis, whose QUIT at close may meet the socket already closed: that is a closed connection, not an error; and
 * while Redis is away a QUIT would wait for it forever (commands wait: maxRetriesPerRequest null), so the connection
 * is just dropped then
 */
function ioredisOf(): RedisClass {
  const { Redis } = require('ioredis') as { Redis: RedisClass }
  return class extends Redis {
    override quit(): Promise<unknown> {
      if (this.status !== 'ready') {
        // between two reconnect attempts there is no socket to close, and so no 'end' (mqemitter-redis waits for it)
        const between = this.status === 'reconnecting'
        this.disconnect()
        if (between) setImmediate(() => { if (this.status !== 'end') this.emit('end') })
        return Promise.resolve('OK')
      }
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

/**
 * ioredis for mqemitter-redis: the library passes a connection's 'error' events to an emitter of its own that has no
 * listener, so each error while Redis is away (one every reconnect attempt) would throw in the process and end it
 * (found by test/core/broker-cluster-redis-down.test.ts). Here a connection keeps its errors: the first of an outage
 * is logged, and the reconnect.
 */
function quietRedis(what: string, log: EmitterLog): RedisClass {
  const Redis = ioredisOf()
  return class extends Redis {
    #down = false
    constructor(url: string, o: object) {
      super(url, o)
      ;(this as unknown as { on(e: string, f: () => void): void }).on('ready', () => {
        if (this.#down) log.info({ connection: what }, 'Redis emitter connection back')
        this.#down = false
      })
    }

    emit(event: string | symbol, ...args: unknown[]): boolean {
      if (event !== 'error') return (Redis.prototype as unknown as { emit(e: string | symbol, ...a: unknown[]): boolean }).emit.call(this, event, ...args)
      if (!this.#down) log.warn({ err: args[0], connection: what }, 'Redis emitter connection lost: QoS 1/2 PUBLISHes are refused until it is back')
      this.#down = true
      return true
    }
  }
}

interface EmitterLog { info(o: object, msg: string): void; warn(o: object, msg: string): void }

/**
 * mqemitter-redis: pub/sub channels `prefix` + topic on `url` (channels are not per db: the prefix keeps brokers
 * apart). `ready`: both its connections are up. Redis pub/sub keeps nothing: what is published while a connection is
 * down reaches no node (measured: a QoS 1 message PUBACKed then was lost), so the broker takes no QoS 1/2 PUBLISH then.
 */
export function redisEmitter(url: string, prefix: string, log: EmitterLog): { mq: AedesPart; ready(): boolean } {
  const { MQEmitterRedisPrefix } = require('mqemitter-redis') as { MQEmitterRedisPrefix: new (prefix: string, o: object) => AedesPart }
  const subConn = new (quietRedis('subscribe', log))(url, { maxRetriesPerRequest: null })
  const pubConn = new (quietRedis('publish', log))(url, { maxRetriesPerRequest: null })
  return { mq: new MQEmitterRedisPrefix(prefix, { subConn, pubConn }), ready: () => subConn.status === 'ready' && pubConn.status === 'ready' }
}
