// heartsms §2 as JSON Schema: each route's declaration (params.ts) rendered for Fastify's `schema`, so the OpenAPI
// document lists every field. params.ts still validates: the schemas document, they do not refuse (see index.ts).
import type { FastifySchema } from 'fastify'
import { documented, errorResponse } from '../../core/http/openapi.ts'
import type { Field, FieldType, ParamSpec } from './params.ts'

const TYPES: Record<FieldType, Record<string, unknown>> = { s: { type: 'string' }, n: { type: 'number' }, b: { type: 'boolean' }, any: {} }

const properties = (fields: Field[]) => Object.fromEntries(fields.map((f) => [f.name, TYPES[f.type]]))

function itemSchema(s: ParamSpec): Record<string, unknown> {
  return { type: 'object', properties: properties([...s.req, ...s.opt]), ...(s.req.length ? { required: s.req.map((f) => f.name) } : {}) }
}

function describe(s: ParamSpec): string {
  const parts = ['heartsms §2: each field may be sent in the query string or the JSON body (path > body > query).']
  const req = [...(s.list ? [s.list.name] : []), ...s.req.map((f) => f.name)]
  if (req.length) parts.push(`Required (null and "" count as missing; the first missing one is reported): ${req.join(', ')}.`)
  if (s.one) parts.push(`At least one of: ${s.opt.map((f) => f.name).join(', ')}.`)
  return parts.join(' ')
}

// §2/§4 answers. Rows keep the key order of §4.2; null is a value a row's field may have.
const row = { type: 'object', description: 'a row (heartsms §4.2: every key of the table, in its order; absent values null)' }
const rows = { description: 'the rows, `[]` for an unknown account', type: 'array', items: row }
const empty = { description: '`{}` (also for an unknown account: nothing changes, nothing is published)', type: 'object', maxProperties: 0 }
const nullable = (type: string) => ({ type: [type, 'null'] })
const string = { type: 'string' }
const keys = { account_id: string, salt1: string, salt2: string }
const busy = errorResponse('`server busy, try again later` (key derivations are limited; `Retry-After: 1`)')

/** What a route answers where it is not the default (GET: rows; POST: `{}`), by `METHOD url`. */
const ANSWERS: Record<string, Record<number, unknown>> = {
  'GET /accounts': { 200: undefined, 501: errorResponse('`not implemented`') },
  'POST /accounts/login': {
    200: { description: 'the account and its login settings (§4.1)', type: 'object', properties: { ...keys, phone_number: string, name: string } },
    401: errorResponse('`username or password incorrect`'),
    429: errorResponse('`too many failed logins, try again later`'),
    503: busy,
  },
  'POST /accounts/signup': {
    200: { description: 'the new account', type: 'object', required: ['account_id', 'salt1', 'salt2'], properties: keys },
    400: errorResponse('`user already exists`, or `missing required parameter <name>`'),
    401: errorResponse('`username is not allowed` (HEART_ALLOWED_USERS, reserved names)'),
    503: busy,
  },
  'GET /accounts/count': { 200: { description: 'counts per table (`{}` for an unknown account)', type: 'object', additionalProperties: { type: 'number' } } },
  'GET /accounts/settings': { 200: { description: 'every setting key (§4.1), null where unset', type: 'object' } },
  'POST /accounts/update_setting': { 400: errorResponse('`parameter value has the wrong type`, or a missing parameter') },
  'GET /article': { 200: { description: "the page's preview; what cannot be fetched or read is null", type: 'object' } },
  'GET /conversations/:device_id': { 200: { ...row, description: 'the conversation (every key null when there is none)' } },
  'POST /devices/add': { 200: { description: 'the device id', type: 'object', properties: { id: { type: 'number' } } } },
  'GET /media/:message_id': { 200: { description: 'the media data, null when there is none', type: 'object', properties: { data: nullable('string') } } },
  'GET /push_subscriptions/vapid_public_key': {
    200: { description: "the VAPID public key a browser's PushManager.subscribe needs", type: 'object', properties: { public_key: string } },
    503: errorResponse('`web push is not configured`'),
  },
  'POST /push_subscriptions/add': {
    400: errorResponse('the subscription cannot be delivered to (its type, endpoint or keys), or a missing parameter'),
    503: errorResponse('`<kind> is not configured on this server`'),
  },
}

function responses(method: 'GET' | 'POST', url: string): Record<number, unknown> {
  const all: Record<number, unknown> = {
    200: method === 'GET' ? rows : empty,
    400: errorResponse('`missing required parameter <name>` (the first one missing), or `unexpected error` for a body that cannot be read'),
    404: errorResponse('`unhandled path in request: <path>`'),
    413: errorResponse('`unexpected error`: the body is larger than the limit'),
    500: errorResponse('`could not query database`, or `unexpected error`'),
    ...ANSWERS[`${method} ${url}`],
  }
  return documented(Object.fromEntries(Object.entries(all).filter(([, v]) => v !== undefined)))
}

/** The route's schema: path parameters, and its fields in the query string and (POST) the body. */
export function routeSchema(s: ParamSpec, method: 'GET' | 'POST', url: string): FastifySchema {
  const inPath = [...url.matchAll(/:(\w+)/g)].map((m) => m[1])
  const all = [...s.req, ...s.opt]
  const fields = all.filter((f) => !inPath.includes(f.name))
  const schema: Record<string, unknown> = {
    description: describe(s),
    tags: ['heartsms'],
    response: responses(method, url),
    querystring: { type: 'object', properties: properties(fields) },
  }
  if (inPath.length) {
    schema.params = {
      type: 'object', required: inPath,
      properties: Object.fromEntries(inPath.map((n) => [n, TYPES[all.find((f) => f.name === n)?.type ?? 's']])),
    }
  }
  if (method === 'POST') {
    const body = { type: 'object', properties: properties(fields) as Record<string, unknown> }
    if (s.list) body.properties[s.list.name] = s.list.single ? itemSchema(s.list.item) : { type: 'array', items: itemSchema(s.list.item) }
    schema.body = body
  }
  return schema as FastifySchema
}
