// The HTTP server: one Fastify instance per port group, one JSON error model `{"error": "<message>"}`.
import http, { type RequestListener } from 'node:http'
import { TLSSocket } from 'node:tls'
import cors from '@fastify/cors'
import Fastify, { LogController, type FastifyError, type FastifyInstance, type FastifyRequest } from 'fastify'
import type { Logger } from 'pino'
import { sameSecret } from '../access/passwords.ts'
import { verifiedName, type CertificateField } from '../identity/peer.ts'
import type { Metrics } from './metrics.ts'
import { documented, errorResponse, registerDocs } from './openapi.ts'

export interface HttpOptions {
  bodyLimit: number
  metrics: Metrics
  log: Logger
  /** health endpoints (/healthz, /readyz) on this instance */
  health?: { ready: () => boolean }
  /** /metrics on this instance: open (the metrics listener), or for a bearer token only (the public port) */
  serveMetrics?: { token?: string }
  /** which name of a verified client certificate `request.tlsIdentity` is (HERALD_TLS_CLIENT_IDENTITY; default its CN) */
  certificateField?: CertificateField
  /** serve the API documentation (/api/docs, /api/docs/openapi.json) of this instance's routes (issue 15 §3) */
  docs?: boolean
}

declare module 'fastify' {
  interface FastifyRequest {
    /** over HTTPS, the name of the client certificate the TLS layer verified (Herald's CA or HERALD_TLS_CLIENT_CA; the
     *  handshake refused revoked ones): an identity without a password (issue 13 §3); else undefined */
    readonly tlsIdentity: string | undefined
  }
}

export interface HttpApp {
  app: FastifyInstance
  /** the request listener, to serve the same routes on a second (TLS) server */
  handler: RequestListener
  server: http.Server
}

/** Map Fastify's own errors to the JSON error model; 5xx never leak internals. */
export function errorBody(err: FastifyError): { status: number; body: { error: string } } {
  const status = err.statusCode ?? 500
  if (err.validation) return { status: 400, body: { error: err.message } }
  if (status >= 500) return { status, body: { error: 'unexpected error' } }
  return { status, body: { error: err.message } }
}

const status = (value: string) => ({ type: 'object', required: ['status'], properties: { status: { const: value } } })
const HEALTHZ = { tags: ['ops'], summary: 'Liveness: the process answers', response: documented({ 200: { description: 'alive', ...status('ok') } }) }
const READYZ = {
  tags: ['ops'], summary: 'Readiness: listeners up, every dialect started',
  response: documented({ 200: { description: 'ready', ...status('ready') }, 503: errorResponse('starting or stopping') }),
}
const METRICS = {
  tags: ['ops'], summary: 'Prometheus metrics (text exposition format)',
  description: 'On the public HTTP port only with `Authorization: Bearer <HERALD_METRICS_TOKEN>`; open on the metrics port.',
  response: documented({
    200: { description: 'the metrics', content: { 'text/plain; version=0.0.4; charset=utf-8': { schema: { type: 'string' } } } },
    401: errorResponse('no or a wrong bearer token'),
  }),
}

export async function createHttp(o: HttpOptions): Promise<HttpApp> {
  let handler!: RequestListener
  let server!: http.Server
  const app = Fastify({
    loggerInstance: o.log.child({ component: 'http' }),
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: o.bodyLimit,
    // a client keeps its ids as it sent them: no coercion of strings that look like numbers into numbers
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false } },
    forceCloseConnections: 'idle',
    serverFactory: (h) => {
      handler = h
      server = http.createServer(h)
      return server
    },
  })
  // the defaults of Express's cors middleware, which the specified backends use (heartsms §2)
  await app.register(cors, { methods: 'GET,HEAD,PUT,PATCH,POST,DELETE', strictPreflight: false })
  // collects every route's schema as routes are added (dialects' included): app.swagger() is the OpenAPI document
  await registerDocs(app as unknown as FastifyInstance, { serve: o.docs ?? false, version: '0.1.0' })

  // read where a route asks: the TLS socket of the request's connection (none over plain HTTP)
  app.decorateRequest('tlsIdentity', {
    getter(this: FastifyRequest) {
      const socket = this.raw.socket
      return socket instanceof TLSSocket ? verifiedName(socket, o.certificateField) : undefined
    },
  })
  app.setErrorHandler((err: FastifyError, req, reply) => {
    const { status, body } = errorBody(err)
    if (status >= 500) req.log.error({ err }, 'request failed')
    reply.code(status).send(body)
  })
  app.setNotFoundHandler((req, reply) => {
    reply.code(404).send({ error: `unhandled path in request: ${req.url.split('?')[0]}` })
  })
  app.addHook('onResponse', async (req, reply) => {
    o.metrics.httpDuration.observe(
      { method: req.method, route: req.routeOptions.url ?? 'unmatched', status: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    )
  })

  if (o.health) {
    const { ready } = o.health
    app.get('/healthz', { schema: HEALTHZ }, async () => ({ status: 'ok' }))
    app.get('/readyz', { schema: READYZ }, async (_req, reply) => (ready() ? { status: 'ready' } : reply.code(503).send({ error: 'not ready' })))
  }
  if (o.serveMetrics) {
    const { token } = o.serveMetrics
    // security hole 7: metrics show who talks to whom; on a public port only with the operator's token
    app.get('/metrics', { schema: METRICS }, async (req, reply) => {
      if (token !== undefined) {
        const m = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')
        if (!m || !sameSecret(m[1], token)) return reply.code(401).header('www-authenticate', 'Bearer').send({ error: 'metrics need a bearer token' })
      }
      reply.header('content-type', o.metrics.registry.contentType)
      return o.metrics.registry.metrics()
    })
  }
  return { app: app as unknown as FastifyInstance, get handler() { return handler }, get server() { return server } }
}
