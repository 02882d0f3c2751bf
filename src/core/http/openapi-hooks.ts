// The broker hook endpoints (broker-hooks.ts) as JSON Schema, for the OpenAPI document. The hooks read their fields
// from the query string and the body (form or JSON) and check them by hand with the answers each broker expects:
// these schemas document, they do not refuse, and their answers are serialized as before (openapi.ts documented()).
import type { FastifySchema } from 'fastify'
import { documented, errorResponse } from './openapi.ts'

const str = { type: 'string' }
const fields = (props: Record<string, unknown>, required: string[] = []) =>
  ({ type: 'object', properties: props, ...(required.length ? { required } : {}) })

/** What every hook may answer before or beside its own result: refused callers, bad bodies. */
const common = {
  403: errorResponse('the caller is not in HERALD_HOOKS_ALLOW'),
  413: errorResponse('`unexpected error`: the body is too large'),
  500: errorResponse('`unexpected error`'),
}
const secretRefused = errorResponse('`hook secret missing or wrong` (HERALD_HOOKS_SECRET, as Basic password or `secret` parameter)')

const goAuthOk = { type: 'object', properties: { Ok: { const: true } } }
const goAuthNo = { type: 'object', properties: { Ok: { const: false }, Error: str } }

function goAuth(summary: string, props: Record<string, unknown>, required: string[]): FastifySchema {
  return {
    tags: ['broker hooks'], summary,
    description: 'mosquitto-go-auth HTTP backend (JSON response mode). Fields in the query string or the body.',
    consumes: ['application/json', 'application/x-www-form-urlencoded'],
    querystring: fields(props), body: fields(props, required),
    response: documented({
      ...common,
      200: { description: 'allowed', ...goAuthOk },
      400: errorResponse('`missing required parameter <name>`, or `unexpected error` for a body that cannot be read'),
      401: { description: 'denied (go-auth answer), or the hook secret is missing or wrong', oneOf: [goAuthNo, secretRefused] },
    }),
  }
}

export const GO_AUTH_LOGIN = goAuth('mosquitto-go-auth: check a login', { username: str, password: str, clientid: str }, ['username', 'password'])
export const GO_AUTH_SUPERUSER = goAuth('mosquitto-go-auth: is this user a superuser', { username: str }, ['username'])
export const GO_AUTH_ACL = goAuth('mosquitto-go-auth: may this client read or write this topic',
  { username: str, clientid: str, topic: str, acc: { type: ['string', 'number'], description: '1 read, 2 write, 3 both, 4 subscribe' } },
  ['username', 'topic'])

function emqx(summary: string, props: Record<string, unknown>, extra: Record<string, unknown>): FastifySchema {
  return {
    tags: ['broker hooks'], summary,
    description: 'EMQX 5 HTTP authentication / authorization: GET with these query parameters, or POST with them in a JSON or form body.',
    querystring: fields(props),
    response: documented({ ...common, 401: secretRefused, ...extra }),
  }
}

export const EMQX_AUTHN = emqx('EMQX: check a login', { username: str, password: str, clientid: str, peerhost: str }, {
  200: {
    description: '`ignore` without a username (the next authenticator of EMQX decides)',
    type: 'object', required: ['result'], properties: { result: { enum: ['allow', 'deny', 'ignore'] }, is_superuser: { type: 'boolean' } },
  },
  400: errorResponse('`unexpected error`: a body that cannot be read'),
  503: { description: 'the directory is unavailable (EMQX treats it as ignore)', type: 'object', properties: { result: { const: 'ignore' } } },
})
export const EMQX_AUTHZ = emqx('EMQX: may this client publish or subscribe', { username: str, clientid: str, topic: str, action: { enum: ['publish', 'subscribe', 'all'] } }, {
  200: { description: 'the decision', type: 'object', required: ['result'], properties: { result: { enum: ['allow', 'deny'] } } },
  400: errorResponse('`missing required parameter topic|action`, `action must be publish, subscribe or all`, or an unreadable body'),
})

function rabbit(summary: string, props: Record<string, unknown>): FastifySchema {
  return {
    tags: ['broker hooks'], summary,
    description: 'RabbitMQ rabbitmq_auth_backend_http: GET with these query parameters, or POST with them in a form (or JSON) body.',
    querystring: fields(props),
    response: documented({
      ...common, 401: secretRefused,
      200: { description: '`allow` (`allow administrator` for a superuser login) or `deny`', content: { 'text/plain': { schema: { type: 'string', examples: ['allow', 'allow administrator', 'deny'] } } } },
      400: errorResponse('`unexpected error`: a body that cannot be read'),
    }),
  }
}

const clientId = { client_id: str, 'variable_map.client_id': str }
export const RABBIT_USER = rabbit('RabbitMQ: check a login', { username: str, password: str, client_id: str })
export const RABBIT_VHOST = rabbit('RabbitMQ: may this user use the vhost', { username: str, vhost: str, ip: str, ...clientId })
export const RABBIT_RESOURCE = rabbit('RabbitMQ: may this user use a queue or exchange',
  { username: str, vhost: str, resource: { enum: ['exchange', 'queue', 'topic'] }, name: str, permission: { enum: ['configure', 'write', 'read'] }, ...clientId })
export const RABBIT_TOPIC = rabbit('RabbitMQ: may this user publish to or read a routing key',
  { username: str, vhost: str, resource: str, name: str, permission: { enum: ['write', 'read'] }, routing_key: str, ...clientId })
