// Issue 9 §5: every route of every dialect declares its JSON schema, so the OpenAPI document (from @fastify/swagger)
// names each operation's path parameters and request body; the schemas document and do not change what is refused.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { createChat21 } from '../../src/dialects/chat21/index.ts'
import { chat21Settings } from '../../src/dialects/chat21/settings.ts'
import { createHeartsms, routes as heartsmsRoutes } from '../../src/dialects/heartsms/index.ts'
import { startTestHerald, type TestHerald } from '../helpers.ts'

interface Operation { parameters?: { in: string; name: string }[]; requestBody?: unknown; description?: string }
type Doc = { openapi: string; paths: Record<string, Record<string, Operation>> }

describe('the OpenAPI document', () => {
  let h: TestHerald
  let doc: Doc
  before(async () => {
    const heart = createHeartsms()
    h = await startTestHerald({ dialects: [heart, createChat21()], settings: [...heart.settings!, ...chat21Settings], env: { NODE_ENV: 'test' } })
    doc = h.openapi() as Doc
  })
  after(() => h.close())

  const operations = (prefix: string) => Object.entries(doc.paths).filter(([p]) => p.startsWith(prefix + '/'))
    .flatMap(([path, ops]) => Object.entries(ops).map(([method, op]) => ({ path, method, op })))

  test('lists every heartsms route once (the trailing-slash twin hidden), with its §2 fields', () => {
    assert.match(doc.openapi, /^3\./)
    // the broker hook endpoints and the admin API under /api/v1 are core's, not heartsms's
    const listed = operations('/api/v1').filter((o) => !/^\/api\/v1\/(mqtt|rabbitmq|emqx|admin)\//.test(o.path))
    assert.equal(listed.length, heartsmsRoutes.length)
    for (const r of heartsmsRoutes) {
      const path = '/api/v1' + r.url.replace(/:(\w+)/g, '{$1}')
      const op = doc.paths[path]?.[r.method.toLowerCase()]
      assert.ok(op, `${r.method} ${path} is in the document`)
      assert.match(op.description ?? '', /heartsms §2/)
      if (r.method === 'POST') assert.ok(op.requestBody, `${path} has a request body`)
      if (!r.noAccount) assert.ok(op.parameters?.some((p) => p.in === 'query' && p.name === 'account_id'), `${path} documents account_id`)
    }
    const contacts = doc.paths['/api/v1/contacts/add'].post.requestBody as { content: Record<string, { schema: { properties: Record<string, { type: string; items: { required: string[] } }> } }> }
    const schema = contacts.content['application/json'].schema
    assert.equal(schema.properties.contacts.type, 'array')
    assert.deepEqual(schema.properties.contacts.items.required.slice(0, 2), ['device_id', 'phone_number'])
  })

  test('every chat21 operation declares its path parameters, and each POST or PUT its body', () => {
    const listed = operations('/chat21/api')
    assert.ok(listed.length >= 20, `${listed.length} chat21 operations`)
    for (const { path, method, op } of listed) {
      for (const [, name] of path.matchAll(/\{(\w+)\}/g)) {
        assert.ok(op.parameters?.some((p) => p.in === 'path' && p.name === name), `${method} ${path} declares ${name}`)
      }
      if (method === 'post' || method === 'put') assert.ok(op.requestBody, `${method} ${path} declares its body`)
    }
    const send = doc.paths['/chat21/api/{appid}/messages'].post.requestBody as { content: Record<string, { schema: { required: string[] } }> }
    assert.deepEqual(send.content['application/json'].schema.required, ['sender_fullname', 'recipient_id', 'recipient_fullname'])
  })

  test('a body the schema describes otherwise is still answered by the route, as before', async () => {
    // heartsms §2: account_id may be a number and may come in the query; the first missing field is named
    const r = await fetch(`${h.httpUrl}/api/v1/contacts/add?account_id=1`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ contacts: [{ device_id: 'x' }] }) })
    assert.deepEqual([r.status, await r.json()], [400, { error: 'missing required parameter phone_number' }])
    // chat21 §12.2: a missing mandatory field is 405 plain text, not a schema error
    const t = await fetch(`${h.httpUrl}/chat21/api/auth/createCustomToken`, { method: 'POST' })
    assert.equal(t.status, 401)
  })
})
