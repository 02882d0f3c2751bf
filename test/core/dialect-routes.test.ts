// Issue 9 §5: each dialect's HTTP API is an encapsulated plugin the root registers under its prefix: its body
// parsers, error formatter and 404 handler apply inside its prefix only; chat21 may have a port of its own.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { createChat21 } from '../../src/dialects/chat21/index.ts'
import { chat21Settings } from '../../src/dialects/chat21/settings.ts'
import { createHeartsms } from '../../src/dialects/heartsms/index.ts'
import type { Dialect } from '../../src/dialects/types.ts'
import { startTestHerald, type TestHerald } from '../helpers.ts'

/** A minimal dialect: one route under /toy, errors in its own shape. */
const toy: Dialect = {
  name: 'toy',
  routes: () => [{ prefix: '/toy', plugin: async (app) => {
    app.setErrorHandler((err: Error, _req, reply) => { reply.code(418).send({ toyError: err.message }) })
    app.get('/boom', async () => { throw new Error('toy broke') })
    app.get('/hello', async () => ({ hello: 'toy' }))
  } }],
}

async function call(base: string, path: string, o: { method?: string; body?: string } = {}): Promise<{ status: number; body: unknown }> {
  const res = await fetch(base + path, { method: o.method ?? (o.body ? 'POST' : 'GET'), body: o.body, headers: o.body ? { 'content-type': 'application/json' } : {} })
  const text = await res.text()
  try { return { status: res.status, body: JSON.parse(text) } } catch { return { status: res.status, body: text } }
}

describe('dialect routes on the main port', () => {
  let h: TestHerald
  before(async () => {
    const heart = createHeartsms()
    h = await startTestHerald({ dialects: [heart, createChat21(), toy], settings: [...heart.settings!, ...chat21Settings], env: { NODE_ENV: 'test' } })
  })
  after(() => h.close())

  test('each prefix answers with its own dialect: routes, 404 body, error shape', async () => {
    assert.deepEqual(await call(h.httpUrl, '/toy/hello'), { status: 200, body: { hello: 'toy' } })
    assert.deepEqual(await call(h.httpUrl, '/toy/boom'), { status: 418, body: { toyError: 'toy broke' } })
    // heartsms §2: unknown paths and wrong methods echo the path
    assert.deepEqual(await call(h.httpUrl, '/api/v1/no/such?x=1'), { status: 404, body: { error: 'unhandled path in request: /api/v1/no/such' } })
    assert.deepEqual(await call(h.httpUrl, '/api/v1/accounts/login', { method: 'PUT' }), { status: 404, body: { error: 'unhandled path in request: /api/v1/accounts/login' } })
    // chat21 keeps its `{success:false, err}` shape inside its prefix
    const bad = await call(h.httpUrl, '/chat21/api/tilechat/messages', { body: '{"a":' })
    assert.deepEqual(bad, { status: 400, body: { success: false, err: 'body is not valid JSON' } })
    assert.deepEqual(await call(h.httpUrl, '/chat21/api/no/such/path/here/x'), { status: 404, body: { error: 'unhandled path in request: /chat21/api/no/such/path/here/x' } })
  })

  test("a dialect's body parser and error formatter do not reach past its prefix", async () => {
    // heartsms §2: malformed JSON is 400 "unexpected error" on every path of its API, unknown ones included
    assert.deepEqual(await call(h.httpUrl, '/api/v1/no/such', { body: '{"a":' }), { status: 400, body: { error: 'unexpected error' } })
    const root = await call(h.httpUrl, '/no/such', { body: '{"a":' })
    assert.equal(root.status, 400)
    assert.notDeepEqual(root.body, { error: 'unexpected error' })
    assert.deepEqual(await call(h.httpUrl, '/no/such/path'), { status: 404, body: { error: 'unhandled path in request: /no/such/path' } })
  })
})

describe('chat21 on a port of its own', () => {
  let h: TestHerald
  before(async () => {
    h = await startTestHerald({ dialects: [createChat21()], settings: chat21Settings, overrides: { 'chat21.http.port': 0, 'chat21.http.prefix': '/api' } })
  })
  after(() => h.close())

  test('its API and its root routes are served there, not on the main port', async () => {
    const own = `http://127.0.0.1:${h.ports.chat21}`
    assert.deepEqual(await call(own, '/api/tilechat/getInfo'), { status: 403, body: { success: false, msg: 'Unauthorized.' } })
    assert.deepEqual(await call(own, '/'), { status: 200, body: 'Chat21 Http Server v. 0.1.2' })
    assert.equal((await call(h.httpUrl, '/api/tilechat/getInfo')).status, 404)
    // the main port's root is Herald's own (issue 15: a redirect to the console), not chat21's
    const root = await fetch(`${h.httpUrl}/`, { redirect: 'manual' })
    assert.deepEqual([root.status, root.headers.get('location')], [302, '/console'])
  })
})
