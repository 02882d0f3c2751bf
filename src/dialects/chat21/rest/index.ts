// The chat21-http-server API (§12) under its prefix, on the main HTTP port or on a port of its own.
import type { FastifyError, FastifyInstance } from 'fastify'
import type { AccessRegistry } from '../../../core/access/access.ts'
import { bodyError, expressJsonBodies } from '../../../core/http/express-body.ts'
import { errorBody } from '../../../core/http/server.ts'
import { type JsonLimits, parseBounded } from '../json.ts'
import type { Tokens } from '../jwt.ts'
import type { Flow } from '../observer/context.ts'
import { authHook, tokenOf } from './auth.ts'
import { conversationRoutes } from './conversations.ts'
import { groupRoutes } from './groups.ts'
import { instanceRoutes, notifyRoutes } from './instances.ts'
import { messageRoutes } from './messages.ts'
import { type PushWebhookOptions, pushWebhookRoutes } from './push.ts'
import { declareSchema } from './schemas.ts'
import { tokenRoutes } from './tokens.ts'

/** What `getInfo` answers: the version of chat21-http-server Herald is compatible with (§12.2). */
export const API_VERSION = '0.2.34.2'

export interface RestOptions { syncTimeoutMs: number; pushWebhook: PushWebhookOptions }

/**
 * chat21-http-server parses JSON with Express's body-parser: an empty body is `{}` (chat21client.js sends DELETEs
 * with a JSON content type and no body); a body of another type is left unparsed instead of refused with 415.
 * A body too large or nested too deep for the store is refused here, before any route sees it.
 */
function bodyParsing(app: FastifyInstance, limits: JsonLimits): void {
  expressJsonBodies(app, {
    otherTypes: 'limit',
    parse(text) {
      const r = parseBounded(text, limits)
      if (r.ok) return r.value
      const why = r.reason === 'too_deep' ? `body is nested deeper than ${limits.maxDepth} levels`
        : r.reason === 'too_large' ? `body is larger than ${limits.maxBytes} bytes` : 'body is not valid JSON'
      throw bodyError(why, r.reason === 'too_large' ? 413 : 400)
    },
  })
}

/** Errors a route does not answer itself, in the API's own shape `{success:false, err}` (§12.2); 5xx say nothing more. */
function errors(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError, req, reply) => {
    const { status, body } = errorBody(err)
    if (status >= 500) req.log.error({ err }, 'chat21 request failed')
    reply.code(status).send({ success: false, err: body.error })
  })
  // unknown paths under the prefix answer as Herald's other 404s always have
  app.setNotFoundHandler((req, reply) => reply.code(404).send({ error: `unhandled path in request: ${req.url.split('?')[0]}` }))
}

export function restApi(flow: Flow, tokens: Tokens, access: AccessRegistry, o: RestOptions) {
  return async (app: FastifyInstance) => {
    bodyParsing(app, flow.opts.json)
    errors(app)
    // the routes answer bad input as the original did (§12.2); the schemas document it for the OpenAPI document
    app.setValidatorCompiler(() => () => true)
    app.addHook('onRoute', declareSchema)
    tokenRoutes(app, access, tokens)
    // no JWT on the push webhook path (§12.1): its path token is checked instead
    pushWebhookRoutes(app, o.pushWebhook, flow.log)
    await app.register(async (api) => {
      api.addHook('preHandler', authHook(tokens))
      api.get('/:appid/getInfo', async () => ({ v: API_VERSION }))
      conversationRoutes(api, flow)
      messageRoutes(api, flow, { syncTimeoutMs: o.syncTimeoutMs })
      groupRoutes(api, flow)
      instanceRoutes(api, flow)
      notifyRoutes(api, flow)
    })
  }
}

/** §12.2 routes outside the API base (`GET /`, `GET /verify`): served when the API has a port of its own. */
export function rootRoutes(tokens: Tokens) {
  return async (app: FastifyInstance) => {
    app.setValidatorCompiler(() => () => true)
    app.addHook('onRoute', declareSchema)
    app.get('/', async (_req, reply) => reply.type('text/plain; charset=utf-8').send('Chat21 Http Server v. 0.1.2'))
    app.get('/verify', async (req, reply) => {
      const token = tokenOf(req)
      const claims = token ? await tokens.verify(token) : null
      return claims ?? reply.code(403).send({ success: false, msg: 'Unauthorized.' })
    })
  }
}
