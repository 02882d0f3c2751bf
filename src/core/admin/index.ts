// The admin API (/api/v1/admin), the console (/console) and GET / (issue 15 items 1, 2 and 4), registered on the
// main HTTP app by the composition root. Reads the core interfaces and each dialect's summary(); owns no SQL but
// its token store's.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { describeConfig, type Config, type Setting } from '../../config.ts'
import type { Bus } from '../bus/types.ts'
import type { Metrics } from '../http/metrics.ts'
import type { Sessions } from '../sessions/types.ts'
import type { Store } from '../store/db.ts'
import type { UserStore } from '../store/users.ts'
import { AdminAuth } from './auth.ts'
import { ClientRegistry } from './clients.ts'
import { consoleRoutes, packageRoot } from './console.ts'
import { EventStreams } from './events.ts'
import { History } from './history.ts'
import { adminRoutes } from './routes.ts'
import { RetainedIndex } from './topics.ts'
import { AdminTokenStore } from './tokens.ts'

export const ADMIN_PREFIX = '/api/v1/admin'
export const CONSOLE_PREFIX = '/console'

export interface AdminOptions {
  app: FastifyInstance
  config: Config
  /** every setting (core and the dialects'), for the masked configuration */
  settings: readonly Setting[]
  metrics: Metrics
  sessions: Sessions
  store: Store
  users: UserStore
  /** the bus once connected (an external broker's comes after the listeners) */
  bus: () => Bus | undefined
  /** the actual ports, filled in as listeners open */
  ports: Record<string, number>
  brokerUrl: string
  dialects: { name: string; summary?: () => Promise<Record<string, unknown>> }[]
}

export interface Admin {
  /** once the bus is connected: the per-second sampler and the retained-message index start */
  start(): Promise<void>
  stop(): Promise<void>
}

function version(): string {
  return (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version
}

export async function registerAdmin(o: AdminOptions): Promise<Admin> {
  const c = o.config
  const consoleOn = c['console.enabled'] as boolean
  const startedAt = Date.now()
  // the embedded broker keeps herald_mqtt_connections; on an external one, the clients its session events reported
  // (events is read only when a client connects, after it is made)
  const clients = new ClientRegistry(o.sessions, (e) => events.clientEvent(e))
  const history = new History(o.metrics, 3600, o.brokerUrl ? () => clients.size : undefined)
  const events = new EventStreams(history)
  const retained = new RetainedIndex()
  const auth = new AdminAuth({
    users: o.users, tokens: new AdminTokenStore(o.store.db),
    failLimit: c['admin.failLimit'] as number, failWindowMs: c['admin.failWindowMs'] as number,
    rateLimit: c['admin.rateLimit'] as number, sessionTtlMs: c['admin.sessionTtlMs'] as number,
  })
  const herald = version()
  const server = () => ({
    version: herald, node: process.version, startedAt: new Date(startedAt).toISOString(), uptimeSeconds: Math.round((Date.now() - startedAt) / 1000),
    host: c.host as string,
    listeners: Object.entries(o.ports).map(([name, port]) => ({ name, port })),
    store: o.store.kind,
    broker: o.brokerUrl ? { mode: 'external', name: o.sessions.broker } : { mode: 'embedded', name: 'embedded' },
    dialects: o.dialects.map((d) => d.name), console: consoleOn,
    config: describeConfig(c, o.settings),
  })

  await o.app.register(adminRoutes({ auth, clients, sessions: o.sessions, retained, bus: o.bus, history, events, server, dialects: o.dialects }), { prefix: ADMIN_PREFIX })
  if (consoleOn) await o.app.register(consoleRoutes(), { prefix: CONSOLE_PREFIX })
  o.app.get('/', {
    schema: {
      summary: consoleOn ? 'redirects to the console' : 'an index of the endpoints (the console is off: HERALD_CONSOLE=false)',
      response: {
        200: { type: 'object', properties: { name: { type: 'string' }, version: { type: 'string' }, endpoints: { type: 'object', additionalProperties: { type: 'string' } } }, required: ['name', 'endpoints'] },
        302: { description: 'to /console', type: 'null' },
      },
    },
  }, async (_req, reply) => {
    if (consoleOn) return reply.redirect(CONSOLE_PREFIX, 302)
    return {
      name: 'herald', version: herald,
      endpoints: {
        admin: ADMIN_PREFIX, docs: '/api/docs', openapi: '/api/docs/openapi.json',
        health: '/healthz', ready: '/readyz', mqttOverWebSocket: (c['http.wsPaths'] as string[]).join(', '),
      },
    }
  })
  // the streams stay open; Herald's stop would wait for them
  o.app.addHook('preClose', async () => { events.closeAll() })

  return {
    async start() {
      await history.start()
      const bus = o.bus()
      // in process, a `#` subscription costs a function call per message; on an external broker it would bring every
      // message of the cluster to every node (and live deliveries lose their retain flag there), so it is not made
      if (bus?.kind === 'embedded') await retained.start(bus)
    },
    async stop() {
      history.stop()
      events.closeAll()
      clients.close()
      await retained.stop()
    },
  }
}
