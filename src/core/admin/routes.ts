// The admin API under /api/v1/admin (issue 15 item 1): superusers only (auth.ts), JSON, paginated lists.
import type { FastifyInstance, FastifyPluginAsync } from 'fastify'
import { validTopicName } from '../access/topics.ts'
import type { AdminAuth } from './auth.ts'
import type { ClientRegistry } from './clients.ts'
import type { EventStreams } from './events.ts'
import type { History } from './history.ts'
import { clientSchema, errorSchema, guarded, page, pageQuery, sampleSchema, serverSchema, topicSchema } from './schemas.ts'
import type { RetainedIndex } from './topics.ts'
import type { Sessions } from '../sessions/types.ts'
import type { Bus } from '../bus/types.ts'

export interface AdminRouteDeps {
  auth: AdminAuth
  clients: ClientRegistry
  sessions: Sessions
  retained: RetainedIndex
  bus: () => Bus | undefined
  history: History
  events: EventStreams
  server: () => Record<string, unknown>
  dialects: { name: string; summary?: () => Promise<Record<string, unknown>> }[]
}

interface PageQuery { limit?: string; offset?: string; q?: string }

function paging(q: PageQuery): { limit: number; offset: number } {
  return { limit: Math.min(1000, Math.max(1, Number(q.limit ?? 50))), offset: Number(q.offset ?? 0) }
}

const sortKeys = ['id', 'user', 'dialect', 'connectedSince', 'listener'] as const

export function adminRoutes(d: AdminRouteDeps): FastifyPluginAsync {
  return async (app: FastifyInstance) => {
    app.addHook('preHandler', d.auth.guard)
    app.addHook('onSend', async (_req, reply, payload) => {
      reply.header('cache-control', 'no-store')
      return payload
    })
    const tags = ['admin']

    app.post('/session', {
      schema: {
        tags, summary: 'exchange the login for a short-lived bearer token (the console keeps this, not the password)',
        response: { 200: { type: 'object', properties: { token: { type: 'string' }, expiresAt: { type: 'string', format: 'date-time' }, user: { type: 'string' } }, required: ['token', 'expiresAt', 'user'] }, ...guarded },
      },
    }, async (req) => ({ ...d.auth.openSession(req.adminPrincipal!.name), user: req.adminPrincipal!.name }))

    app.delete('/session', {
      schema: { tags, summary: 'end the short-lived token this request carries', response: { 200: { type: 'object', properties: { closed: { type: 'boolean' } }, required: ['closed'] }, ...guarded } },
    }, async (req) => ({ closed: d.auth.closeSession(req.headers.authorization) }))

    app.get<{ Querystring: PageQuery & { sort?: typeof sortKeys[number]; order?: 'asc' | 'desc' } }>('/clients', {
      schema: {
        tags, summary: 'connected clients, searchable by client id or user',
        querystring: { type: 'object', properties: { ...pageQuery, sort: { type: 'string', enum: sortKeys }, order: { type: 'string', enum: ['asc', 'desc'] } }, additionalProperties: false },
        response: { 200: page(clientSchema), 400: errorSchema, ...guarded },
      },
    }, async (req) => {
      const { limit, offset } = paging(req.query)
      const all = d.clients.search(req.query.q).map((id) => d.clients.row(id)).filter((c) => c !== undefined)
      const key = req.query.sort ?? 'connectedSince'
      const dir = req.query.order === 'desc' ? -1 : 1
      all.sort((a, b) => dir * String(a[key]).localeCompare(String(b[key])))
      // subscriptions only for the page asked for
      const items = await Promise.all(all.slice(offset, offset + limit).map((r) => d.clients.describe(r)))
      return { total: all.length, limit, offset, items }
    })

    app.delete<{ Params: { id: string } }>('/clients/:id', {
      schema: {
        tags, summary: 'disconnect (kick) a client: its connection is closed',
        params: { type: 'object', properties: { id: { type: 'string', minLength: 1 } }, required: ['id'] },
        response: { 200: { type: 'object', properties: { id: { type: 'string' }, disconnected: { type: 'boolean' } }, required: ['id', 'disconnected'] }, 404: errorSchema, 501: errorSchema, ...guarded },
      },
    }, async (req, reply) => {
      if (!d.sessions.capabilities.disconnect) return reply.code(501).send({ error: `the ${d.sessions.broker} broker does not let Herald disconnect clients` })
      const done = await d.sessions.disconnect(req.params.id)
      if (!done) return reply.code(404).send({ error: `client ${req.params.id} is not connected` })
      return { id: req.params.id, disconnected: true }
    })

    app.get<{ Querystring: PageQuery }>('/topics', {
      schema: {
        tags, summary: 'subscribed topic filters with their subscriber counts, and retained messages Herald has seen',
        querystring: { type: 'object', properties: pageQuery, additionalProperties: false },
        response: { 200: page(topicSchema), 400: errorSchema, ...guarded },
      },
    }, async (req) => {
      const { limit, offset } = paging(req.query)
      const counts = new Map<string, number>()
      for (const s of await d.clients.allSubscriptions()) counts.set(s.filter, (counts.get(s.filter) ?? 0) + 1)
      for (const t of d.retained.topics()) if (!counts.has(t)) counts.set(t, 0)
      const needle = req.query.q?.toLowerCase()
      const names = [...counts.keys()].filter((t) => !needle || t.toLowerCase().includes(needle)).sort()
      const items = names.slice(offset, offset + limit).map((topic) => ({ topic, subscribers: counts.get(topic) ?? 0, retained: d.retained.get(topic) ?? null }))
      return { total: names.length, limit, offset, items }
    })

    app.delete<{ Params: { topic: string } }>('/retained/:topic', {
      schema: {
        tags, summary: 'clear the retained message of a topic (URL-encoded, e.g. a%2Fb)',
        params: { type: 'object', properties: { topic: { type: 'string', minLength: 1, maxLength: 65535 } }, required: ['topic'] },
        response: { 200: { type: 'object', properties: { topic: { type: 'string' }, cleared: { type: 'boolean' }, wasKnown: { type: 'boolean' } }, required: ['topic', 'cleared', 'wasKnown'] }, 400: errorSchema, 503: errorSchema, ...guarded },
      },
    }, async (req, reply) => {
      const topic = req.params.topic
      if (!validTopicName(topic)) return reply.code(400).send({ error: `not a topic name (no wildcards, not empty): ${topic}` })
      const bus = d.bus()
      if (!bus) return reply.code(503).send({ error: 'the bus is not connected yet' })
      const wasKnown = await d.retained.clear(bus, topic)
      return { topic, cleared: true, wasKnown }
    })

    app.get('/server', {
      schema: { tags, summary: 'version, uptime, listeners, store and broker mode, the configuration (secrets masked)', response: { 200: serverSchema, ...guarded } },
    }, async () => d.server())

    app.get('/dialects', {
      schema: {
        tags, summary: 'the enabled dialects',
        response: { 200: { type: 'object', properties: { items: { type: 'array', items: { type: 'object', properties: { name: { type: 'string' }, summary: { type: 'boolean' } }, required: ['name', 'summary'] } } }, required: ['items'] }, ...guarded },
      },
    }, async () => ({ items: d.dialects.map((x) => ({ name: x.name, summary: typeof x.summary === 'function' })) }))

    app.get<{ Params: { name: string } }>('/dialects/:name', {
      schema: {
        tags, summary: "a dialect's own summary (its section of the console)",
        params: { type: 'object', properties: { name: { type: 'string', pattern: '^[a-z0-9-]{1,64}$' } }, required: ['name'] },
        response: { 200: { type: 'object', properties: { name: { type: 'string' }, summary: { type: 'object', additionalProperties: true } }, required: ['name', 'summary'] }, 404: errorSchema, ...guarded },
      },
    }, async (req, reply) => {
      const dialect = d.dialects.find((x) => x.name === req.params.name)
      if (!dialect) return reply.code(404).send({ error: `no enabled dialect ${req.params.name}` })
      return { name: dialect.name, summary: dialect.summary ? await dialect.summary() : {} }
    })

    app.get('/history', {
      schema: {
        tags, summary: 'the last hour of per-second samples (what /events sends first)',
        response: { 200: { type: 'object', properties: { samples: { type: 'array', items: sampleSchema } }, required: ['samples'] }, ...guarded },
      },
    }, async () => ({ samples: d.history.all() }))

    app.get('/events', {
      schema: {
        tags, summary: 'Server-Sent Events: `history` and `recent` first, then `sample` each second and `connect` / `disconnect`',
        produces: ['text/event-stream'],
        response: { 200: { description: 'text/event-stream', type: 'string' }, ...guarded },
      },
    }, async (req, reply) => { d.events.serve(req, reply) })
  }
}
