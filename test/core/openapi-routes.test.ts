// Issue 15 §3: every route Fastify serves, with every dialect and identity on, is in the OpenAPI 3.1 document with its
// path parameters and a response schema; the document validates; /api/docs serves it and its reference page from
// Herald itself (no CDN).
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { Validator } from '@seriousme/openapi-schema-validator'
import type { FastifyInstance } from 'fastify'
import pino from 'pino'
import { createMetrics } from '../../src/core/http/metrics.ts'
import { createHttp } from '../../src/core/http/server.ts'
import { routesOf, type AddedRoute } from '../../src/core/http/openapi.ts'
import { chat21Settings } from '../../src/dialects/chat21/settings.ts'
import { createDialects } from '../../src/dialects/index.ts'
import { pushSettings } from '../../src/dialects/push/settings.ts'
import { synrcSettings } from '../../src/dialects/synrc/settings.ts'
import type { Dialect } from '../../src/dialects/types.ts'
import { startTestHerald, type TestHerald } from '../helpers.ts'

interface Operation { parameters?: { in: string; name: string }[]; responses: Record<string, { description: string }> }
type Doc = { openapi: string; paths: Record<string, Record<string, Operation>> }

/** Fastify's `/a/:b` as OpenAPI's `/a/{b}` */
const openapiPath = (url: string) => url.replace(/:(\w+)/g, '{$1}')

/** Why a hidden route may stay out of the document; undefined: it may not. */
function hiddenBecause(r: AddedRoute, all: AddedRoute[]): string | undefined {
  if (r.url === '/api/docs' || r.url.startsWith('/api/docs/')) return 'the documentation itself'
  if (r.method === 'OPTIONS' && r.url === '*') return "@fastify/cors's preflight answer"
  const twin = r.url.replace(/(.)\/$/, '$1')
  if (twin !== r.url && all.some((o) => o.url === twin && o.method === r.method && !o.hidden)) return 'trailing-slash twin of a documented route'
  return undefined
}

/** What is wrong between the routes Fastify serves and the document: the list this test asserts empty. */
function problemsOf(routes: AddedRoute[], doc: Doc): string[] {
  const problems: string[] = []
  for (const r of routes) {
    const name = `${r.method} ${r.url}`
    if (r.hidden) {
      if (!hiddenBecause(r, routes)) problems.push(`${name} is hidden from the document`)
      continue
    }
    const op = doc.paths[openapiPath(r.url)]?.[r.method.toLowerCase()]
    if (!op) { problems.push(`${name} is missing from the document`); continue }
    if (r.statuses.length === 0) problems.push(`${name} declares no response schema`)
    for (const [, p] of r.url.matchAll(/:(\w+)/g)) {
      if (!op.parameters?.some((x) => x.in === 'path' && x.name === p)) problems.push(`${name} does not declare its path parameter ${p}`)
    }
    for (const status of r.statuses) if (!op.responses[status]) problems.push(`${name}: response ${status} is not in the document`)
  }
  return problems
}

test('the walk finds a route without a response schema, a hidden one, and a path parameter left undeclared', async () => {
  const { app } = await createHttp({ bodyLimit: 1024, metrics: createMetrics(), log: pino({ level: 'silent' }) })
  app.get('/plain', async () => ({}))
  app.get('/secret', { schema: { hide: true, response: { 200: { type: 'object' } } } }, async () => ({}))
  app.get('/things/:id', { schema: { params: { type: 'object', properties: { other: { type: 'string' } } }, response: { 200: { type: 'object' } } } }, async () => ({}))
  app.get('/fine', { schema: { response: { 200: { type: 'object' } } } }, async () => ({}))
  await app.ready()
  const problems = problemsOf(routesOf(app).filter((r) => r.method !== 'HEAD'), app.swagger() as unknown as Doc)
  await app.close()
  assert.deepEqual(problems, [
    'GET /plain declares no response schema',
    'GET /secret is hidden from the document',
    'GET /things/:id does not declare its path parameter id',
  ])
})

describe('the OpenAPI document covers every route (issue 15 §3)', () => {
  let h: TestHerald
  let main: FastifyInstance | undefined
  let doc: Doc
  let routes: AddedRoute[]
  before(async () => {
    // sees the main HTTP app as the dialects do, to read the routes added to it
    const probe: Dialect = { name: 'openapi-probe', setup: async (ctx) => { main = ctx.http } }
    const dialects = createDialects()
    h = await startTestHerald({
      dialects: [...dialects, probe],
      settings: [...dialects.flatMap((d) => d.settings ?? []), ...chat21Settings, ...synrcSettings, ...pushSettings]
        .filter((s, i, all) => all.findIndex((o) => o.key === s.key) === i),
      env: { NODE_ENV: 'test' },
      overrides: { 'ca.enabled': true, 'push.port': 0, 'synrc.smsWebhook': 'http://127.0.0.1:9/sms' },
    })
    doc = h.openapi() as Doc
    // HEAD twins of GET routes are Fastify's own (exposeHeadRoutes), not in the document by design
    routes = routesOf(main!).filter((r) => r.method !== 'HEAD')
  })
  after(() => h?.close())

  test('each dialect and identity added routes (the walk sees them)', () => {
    for (const prefix of ['/api/v1/accounts', '/chat21/api/', '/.well-known/est/', '/api/v1/identity/certs', '/api/v1/mqtt/', '/healthz']) {
      assert.ok(routes.some((r) => r.url.startsWith(prefix)), `a route under ${prefix}`)
    }
  })

  test('every route is in the document with its path parameters and a response schema, or hidden for a reason', () => {
    assert.deepEqual(problemsOf(routes, doc), [])
  })

  test('every operation of the document is a route Fastify serves (nothing stale)', () => {
    const served = new Set(routes.filter((r) => !r.hidden).map((r) => `${r.method.toLowerCase()} ${openapiPath(r.url)}`))
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const method of Object.keys(ops)) assert.ok(served.has(`${method} ${path}`), `${method} ${path} is served`)
    }
  })

  test('errors are documented: each dialect route lists its refusals beside its success', () => {
    const login = doc.paths['/api/v1/accounts/login'].post.responses
    assert.deepEqual(Object.keys(login).sort(), ['200', '400', '401', '404', '413', '429', '500', '503'])
    const send = doc.paths['/chat21/api/{appid}/messages'].post.responses
    for (const s of ['200', '401', '403', '405']) assert.ok(send[s], `chat21 send documents ${s}`)
    assert.ok(doc.paths['/api/v1/mqtt/login'].post.responses['403'], 'a hook documents the refused caller')
    assert.ok(doc.paths['/.well-known/est/simpleenroll'].post.responses['401'], 'EST documents the refused login')
  })

  test('the document is OpenAPI 3.1.0 and validates (@seriousme/openapi-schema-validator)', async () => {
    assert.equal(doc.openapi, '3.1.0')
    const v = new Validator()
    const r = await v.validate(structuredClone(doc) as unknown as Parameters<Validator["validate"]>[0])
    assert.deepEqual(r.errors ?? [], [], 'no validation errors')
    assert.equal(r.valid, true)
    assert.equal(v.version, '3.1')
    // and the validator refuses what is not a document
    assert.equal((await new Validator().validate({ openapi: '3.1.0', paths: { x: {} } } as unknown as Parameters<Validator['validate']>[0])).valid, false)
  })

  test('GET /api/docs/openapi.json serves the document', async () => {
    const res = await fetch(`${h.httpUrl}/api/docs/openapi.json`)
    assert.equal(res.status, 200)
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/)
    assert.deepEqual(await res.json(), JSON.parse(JSON.stringify(doc)))
  })

  test('GET /api/docs is the interactive reference, its scripts and styles served by Herald (no CDN)', async () => {
    const res = await fetch(`${h.httpUrl}/api/docs`, { redirect: 'follow' })
    assert.equal(res.status, 200)
    const html = await res.text()
    assert.match(html, /swagger-ui/i)
    const csp = res.headers.get('content-security-policy') ?? ''
    assert.match(csp, /default-src 'self'/)
    assert.doesNotMatch(csp, /https:|upgrade-insecure-requests|\.io\b/, 'the page may load nothing from elsewhere')
    const assets = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1])
    assert.ok(assets.length >= 3, `assets: ${assets.join(' ')}`)
    for (const a of assets) {
      assert.doesNotMatch(a, /^(https?:)?\/\//, `${a} is served by Herald`)
      const asset = await fetch(new URL(a, res.url))
      assert.equal(asset.status, 200, `${a} answers`)
      await asset.arrayBuffer()
    }
    const init = await (await fetch(new URL('./static/swagger-initializer.js', res.url))).text()
    assert.doesNotMatch(init, /https?:\/\/(?!stackoverflow)/, 'the initializer loads nothing from elsewhere')
  })
})

describe('a dialect on a port of its own serves its own API docs (issue 15 §3)', () => {
  let h: TestHerald
  before(async () => {
    const dialects = createDialects().filter((d) => d.name === 'chat21')
    h = await startTestHerald({ dialects, settings: chat21Settings, env: { NODE_ENV: 'test' }, overrides: { 'chat21.http.port': 0 } })
  })
  after(() => h?.close())

  test("chat21's port documents its API and its routes outside the API base; the main document does not list them", async () => {
    const own = await (await fetch(`http://127.0.0.1:${h.ports.chat21}/api/docs/openapi.json`)).json() as Doc
    assert.ok(own.paths['/chat21/api/{appid}/messages'].post.responses['405'])
    assert.ok(own.paths['/verify'].get.responses['403'])
    assert.equal((await new Validator().validate(own as unknown as Parameters<Validator['validate']>[0])).valid, true)
    const main = h.openapi() as Doc
    assert.equal(Object.keys(main.paths).filter((p) => p.startsWith('/chat21/')).length, 0)
    assert.equal((await fetch(`http://127.0.0.1:${h.ports.chat21}/api/docs`)).status, 200)
  })
})
