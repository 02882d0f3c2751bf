// heartsms §2 as JSON Schema: each route's declaration (params.ts) rendered for Fastify's `schema`, so the OpenAPI
// document lists every field. params.ts still validates: the schemas document, they do not refuse (see index.ts).
import type { FastifySchema } from 'fastify'
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

/** The route's schema: path parameters, and its fields in the query string and (POST) the body. */
export function routeSchema(s: ParamSpec, method: 'GET' | 'POST', url: string): FastifySchema {
  const inPath = [...url.matchAll(/:(\w+)/g)].map((m) => m[1])
  const all = [...s.req, ...s.opt]
  const fields = all.filter((f) => !inPath.includes(f.name))
  const schema: Record<string, unknown> = {
    description: describe(s),
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
