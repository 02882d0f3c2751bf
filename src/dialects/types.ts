// What a dialect plugin sees of Herald: core interfaces only. A dialect never imports another dialect.
import type net from 'node:net'
import type { FastifyInstance, FastifyPluginAsync } from 'fastify'
import type { Migration } from 'kysely'
import type { Logger } from 'pino'
import type { Config, Setting } from '../config.ts'
import type { AccessRegistry } from '../core/access/access.ts'
import type { Bus } from '../core/bus/types.ts'
import type { HttpApp } from '../core/http/server.ts'
import type { Metrics } from '../core/http/metrics.ts'
import type { Presence } from '../core/presence/types.ts'
import type { PushService } from '../core/push/service.ts'
import type { Outbox } from '../core/queue/outbox.ts'
import type { SessionCapabilities, Sessions } from '../core/sessions/types.ts'
import type { Store } from '../core/store/db.ts'
import type { TlsMaterial } from '../transport/devcert.ts'

export interface DialectContext {
  config: Config
  log: Logger
  bus: Bus
  store: Store
  /** this dialect's part of the access layer: its authenticators, rules, service accounts and owned topics */
  access: AccessRegistry
  /** the main HTTP API (also served over HTTPS when enabled); a dialect serves its own routes through `routes()` */
  http: FastifyInstance
  presence: Presence
  /** the durable job queue: enqueue in your transaction, consume with leases and retries (src/core/queue) */
  outbox: Outbox
  /** offline push to WNS, Web Push, UnifiedPush, FCM and APNs targets, durably queued (src/core/push/service.ts) */
  push: PushService
  /** the clients' sessions: connect/disconnect events, server-side subscriptions, disconnect, list (see `needs`) */
  sessions: Sessions
  metrics: Metrics
  /** a Fastify app on a port of its own (e.g. chat21's REST API on 8010); started and stopped with Herald */
  extraHttp(name: string, port: number): Promise<HttpApp>
  /** MQTT over WebSocket on a port and path of its own (embedded broker only) */
  extraWebSocket(port: number, paths: string[]): Promise<void>
  /** the core TLS certificate and key (HERALD_TLS_CERT, or the development certificate), loaded at first use */
  tls(): TlsMaterial
  /** listen a server of the dialect's own (e.g. raw TLS) on Herald's host; reported in `ports[name]`, closed at stop */
  listen(name: string, server: net.Server, port: number, hint: string): Promise<number>
  /** development or test: fixed, well-known passwords are acceptable */
  development: boolean
}

/** A dialect's HTTP API: an encapsulated Fastify plugin (its own body parsers, error and 404 handlers) the root registers under `prefix`. */
export interface DialectRoutes {
  prefix: string
  plugin: FastifyPluginAsync
  /** served on a port of its own (e.g. chat21's 8010) instead of the main HTTP port */
  port?: number
}

export interface Dialect {
  name: string
  /** what it needs of the broker's sessions: Herald refuses to start (SessionCapabilityError) on a broker without it */
  needs?: (keyof SessionCapabilities)[]
  /** settings this dialect reads (merged into the one configuration schema) */
  settings?: readonly Setting[]
  /** run in name order at start; tables are prefixed with the dialect name */
  migrations?: Record<string, Migration>
  /** before any listener opens: register rules, authenticators, service accounts (no bus yet) */
  setup?(ctx: DialectContext): Promise<void>
  /** after setup: the HTTP plugins the root registers, each under its prefix */
  routes?(): DialectRoutes[]
  /** once the bus is connected: subscribe to what the dialect routes */
  start?(ctx: DialectContext): Promise<void>
  /** stop taking work and finish what is in flight */
  stop?(): Promise<void>
  /** false while something the dialect serves through is down (e.g. push's XMPP session): /readyz answers 503 */
  ready?(): boolean
  /** the dialect's section of the admin API and console (GET /api/v1/admin/dialects/:name): counts and states */
  summary?(): Promise<Record<string, unknown>>
}
