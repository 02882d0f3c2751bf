// §12.2 as JSON Schema, for the OpenAPI document: every route's path parameters (from its URL) and the bodies
// the original reads. The routes check their input by hand, with the original's answers (405 plain text, 401/403,
// `{success:false, err}`): Ajv's errors would differ, so these schemas document and do not refuse (index.ts).
import type { RouteOptions } from 'fastify'
import { documented, verbatimSerializer } from '../../../core/http/openapi.ts'

const str = { type: 'string' }
const obj = { type: 'object' }
const memberIds = { type: 'object', additionalProperties: { const: 1 }, description: 'member ids mapped to 1' }

const message = {
  type: 'object', required: ['sender_fullname', 'recipient_id', 'recipient_fullname'],
  properties: {
    sender_fullname: str, recipient_id: str, recipient_fullname: str, text: str, type: str,
    channel_type: { enum: ['direct', 'group'] }, attributes: obj, metadata: {}, timestamp: { type: 'number' },
    sender_id: { type: 'string', description: 'admin tokens only: send as this user' },
  },
}

/** Bodies (and query strings) by method and path below the API prefix. */
const BODIES: Record<string, Record<string, unknown>> = {
  'POST /:appid/messages': { body: message },
  'POST /:appid/messages/sync': { body: message, querystring: { type: 'object', properties: { mqtt_endpoint: str, chatapi_endpoint: str } } },
  'POST /:appid/groups': {
    body: {
      type: 'object', required: ['group_name', 'group_members'],
      properties: { group_name: str, group_members: memberIds, group_id: str, group_owner: str, attributes: obj },
    },
  },
  'POST /:appid/groups/:gid/members': { body: { type: 'object', required: ['member_id'], properties: { member_id: str } } },
  'PUT /:appid/groups/:gid/members': { body: { type: 'object', required: ['members'], properties: { members: memberIds } } },
  'PUT /:appid/groups/:gid': { body: { type: 'object', required: ['group_name'], properties: { group_name: str } } },
  'PUT /:appid/groups/:gid/attributes': { body: { type: 'object', required: ['attributes'], properties: { attributes: obj } } },
  'DELETE /:appid/conversations/:cw': { body: { type: 'object', properties: { user_id: { type: 'string', description: 'admin tokens only' } } } },
  'POST /:appid/:userid/instances/:instance': {
    body: { type: 'object', properties: { device_model: str, language: str, platform: str, platform_version: str } },
  },
  'POST /:appid/notify': {
    body: { type: 'object', required: ['data'], properties: { event_type: str, delivered_to: str, recipient_id: str, app_id: str, message_id: str, data: obj } },
  },
  'POST /auth/createCustomToken': {
    body: {
      type: 'object', properties: { userid: str, user_id: str, fullname: str, firstname: str, lastname: str, admin: { type: 'boolean' } },
    },
  },
  'POST /:appid/push/webhook/endpoint/:token': { body: { type: 'object', properties: { event_type: str, data: obj } } },
}

// §12.2 answers. Success bodies are `{success: true, …}`; refusals keep the original's shapes, listed per route.
const json = (description: string, schema: Record<string, unknown> = obj) => ({ description, ...schema })
const text = (description: string) => ({ description, content: { 'text/plain': { schema: str } } })
const success = (more: Record<string, unknown> = {}) => ({ type: 'object', required: ['success'], properties: { success: { const: true }, ...more } })
const failure = (description: string) => json(description, { type: 'object', required: ['success', 'err'], properties: { success: { const: false }, err: str } })
const failureMsg = (description: string) => json(description, { type: 'object', required: ['success', 'msg'], properties: { success: { const: false }, msg: str } })
const groupFail = (description: string) => json(description, {
  type: 'object', required: ['success', 'err', 'http_status'], properties: { success: { const: false }, err: str, http_status: { type: 'number' } },
})
const list = { type: 'array', items: obj }

/** Every route's refusals outside its own: a body that cannot be read, an unknown path, a failure. */
const COMMON = {
  400: failure('the body is not valid JSON or is nested too deep'),
  404: json('`unhandled path in request: <path>`', { type: 'object', properties: { error: str } }),
  413: failure('the body is larger than the limit'),
  500: failure('`unexpected error`'),
}
/** Routes behind the JWT check (§12.1). */
const AUTHENTICATED = {
  401: text('empty body: the token is for another app or user (§12.1)'),
  403: failureMsg('`Unauthorized.`: no valid JWT (Authorization header, `jwt`, `JWT` or `token` query parameter)'),
}
const mandatory = text('`<field> is mandatory`, or an invalid id, as plain text (§12.2)')
const groupChange = { 200: json('changed', success()), 404: groupFail("`Group doesn't exist`"), 401: groupFail('`Permission denied` (owner or admin only), or empty for another app'), 405: groupFail('the field is mandatory, or nothing changed') }

const ANSWERS: Record<string, Record<number, unknown>> = {
  'GET /:appid/getInfo': { 200: json('the chat21-http-server version Herald is compatible with', { type: 'object', properties: { v: str } }) },
  'GET /:appid/:userid/conversations': { 200: json('the conversations', success({ result: list })) },
  'GET /:appid/:userid/conversations/archived': { 200: json('the archived conversations', success({ result: list })) },
  'GET /:appid/:userid/archived_conversations': { 200: json('the archived conversations', success({ result: list })) },
  'GET /:appid/:userid/conversations/:cw': { 200: json('the conversation', success({ result: {} })) },
  'GET /:appid/:userid/archived_conversations/:cw': { 200: json('the archived conversation', success({ result: {} })) },
  'GET /:appid/:userid/conversations/:cw/messages': { 200: json('the messages', success({ result: list })) },
  'DELETE /:appid/conversations/:cw': { 201: json('archived', success()), 405: text('`invalid user or recipient id`') },
  'DELETE /:appid/:gid/conversations/timelines': { 200: json('removed', success()) },
  'DELETE /:appid/:gid/messages/timelines': { 200: json('removed', success()) },
  'POST /:appid/messages': { 200: json('sent', success()), 403: failure('`not a member of this group`, or no valid JWT'), 405: mandatory },
  'POST /:appid/messages/sync': {
    200: json("sent, and the sender's copy as routed", success({ message: obj })), 403: failure('`not a member of this group`, or no valid JWT'),
    405: mandatory, 504: failure('the copy was not routed in time; the message may still be delivered'),
  },
  'POST /:appid/groups': { 201: json('created', success({ group: obj })), 405: mandatory },
  'GET /:appid/groups/:gid': {
    200: json('the group', success({ result: obj })), 404: failure("`Group doesn't exist`"), 401: failure('`Permission denied`: not a member'),
  },
  'POST /:appid/groups/:gid/members': groupChange,
  'DELETE /:appid/groups/:gid/members/:member': groupChange,
  'PUT /:appid/groups/:gid/members': groupChange,
  'PUT /:appid/groups/:gid': groupChange,
  'PUT /:appid/groups/:gid/attributes': groupChange,
  'POST /:appid/:userid/instances/:instance': { 200: json('saved', success()) },
  'POST /:appid/notify': {
    200: json('sent', success({ sent: {} })), 400: failure('`data (the message) and delivered_to are mandatory`'),
    503: failure('`push is not configured (FCM)`'),
  },
  'POST /auth/createCustomToken': {
    200: json('the token and the user', { type: 'object', properties: { userid: str, fullname: str, firstname: str, lastname: str, token: str } }),
    400: failure('`userid is mandatory (no . / + # *)`'), 401: failureMsg('`Unauthorized.`: not the admin login'),
    503: failureMsg('`Service Unavailable.`'),
  },
  'POST /:appid/push/webhook/endpoint/:token': {
    200: json('handled or ignored', success()), 401: failure('`invalid push webhook token`'),
    502: failure('the notify endpoint failed or is unreachable'),
  },
  'GET /': { 200: text('`Chat21 Http Server v. 0.1.2`') },
  'GET /verify': { 200: json("the token's claims", obj), 403: failureMsg('`Unauthorized.`') },
}
const OPEN = new Set(['POST /auth/createCustomToken', 'POST /:appid/push/webhook/endpoint/:token', 'GET /', 'GET /verify'])

/** Give a route its schema as it is added: path parameters from the URL, the body from the table above. */
export function declareSchema(route: RouteOptions & { prefix?: string }): void {
  const methods = Array.isArray(route.method) ? route.method : [route.method]
  const raw = route.url.slice((route.prefix ?? '').length)
  const path = raw.replace(/(.)\/$/, '$1')
  const names = [...path.matchAll(/:(\w+)/g)].map((m) => m[1])
  const declared = methods.map((m) => BODIES[`${m} ${path}`]).find(Boolean) ?? {}
  const key = methods.map((m) => `${m} ${path}`).find((k) => ANSWERS[k]) ?? ''
  route.schema = {
    tags: ['chat21'],
    ...(names.length ? { params: { type: 'object', required: names, properties: Object.fromEntries(names.map((n) => [n, str])) } } : {}),
    ...declared,
    // answers documented only: serialized with JSON.stringify as before (the clients read these exact bodies)
    response: documented({ ...COMMON, ...(OPEN.has(key) ? {} : AUTHENTICATED), ...ANSWERS[key] }),
    // the trailing-slash variant (chat21client.js's DELETE) is the same operation
    ...(raw !== path ? { hide: true } : {}),
    ...route.schema,
  }
  route.serializerCompiler ??= verbatimSerializer
}
