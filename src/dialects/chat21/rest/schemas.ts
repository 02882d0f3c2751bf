// §12.2 as JSON Schema, for the OpenAPI document: every route's path parameters (from its URL) and the bodies
// the original reads. The routes check their input by hand, with the original's answers (405 plain text, 401/403,
// `{success:false, err}`): Ajv's errors would differ, so these schemas document and do not refuse (index.ts).
import type { RouteOptions } from 'fastify'

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

/** Give a route its schema as it is added: path parameters from the URL, the body from the table above. */
export function declareSchema(route: RouteOptions & { prefix?: string }): void {
  const methods = Array.isArray(route.method) ? route.method : [route.method]
  const path = route.url.slice((route.prefix ?? '').length).replace(/(.)\/$/, '$1')
  const names = [...path.matchAll(/:(\w+)/g)].map((m) => m[1])
  const declared = methods.map((m) => BODIES[`${m} ${path}`]).find(Boolean) ?? {}
  route.schema = {
    ...(names.length ? { params: { type: 'object', required: names, properties: Object.fromEntries(names.map((n) => [n, str])) } } : {}),
    ...declared,
    ...route.schema,
  }
}
