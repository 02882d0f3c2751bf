// Issue 11 item 5: EMQX 5's HTTP authentication and authorization contract, answered by the same access layer as
// the go-auth and RabbitMQ hooks. The requests are EMQX's documented templates with its placeholders filled in
// (JSON POST as configured by default, form and GET as the `method`/`Content-Type` options allow); the answers are
// `{"result":"allow"|"deny"|"ignore","is_superuser":…}` with status 200 (503 when the directory is down).
import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { startTestHerald, type TestHerald } from '../helpers.ts'

let h: TestHerald
let secured: TestHerald

function aclFile(): string {
  const f = join(process.env.TMPDIR ?? '/tmp', `herald-emqx-acl-${process.pid}.conf`)
  writeFileSync(f, 'user alice\ntopic readwrite alice/#\ntopic read news/#\ntopic deny alice/private/#\n')
  return f
}

before(async () => {
  h = await startTestHerald({ overrides: { 'auth.aclFile': aclFile() } })
  await h.users.add('alice', 'alice-pw')
  await h.users.add('root', 'root-pw', true)
  secured = await startTestHerald({ overrides: { 'hooks.secret': 'hook-s3cret' } })
  await secured.users.add('alice', 'alice-pw')
})
after(async () => {
  await h?.close()
  await secured?.close()
})

type Vars = Record<string, string>
/** EMQX's default authentication body template, `{"username":"${username}","password":"${password}"}`, plus the
 *  client id and peer host placeholders a deployment adds */
const authnBody = (v: Vars) => ({ username: v.username, password: v.password, clientid: v.clientid, peerhost: '127.0.0.1' })
/** the authorization template with every documented placeholder: qos and retain are substituted as text */
const authzBody = (v: Vars) => ({ clientid: v.clientid, username: v.username, peerhost: '127.0.0.1', topic: v.topic, action: v.action, qos: v.qos ?? '0', retain: v.retain ?? 'false' })

async function call(base: TestHerald, path: string, body: Record<string, string>, mode: 'json' | 'form' | 'get' = 'json', headers: Record<string, string> = {}) {
  const url = new URL(`/api/v1/emqx/${path}`, base.httpUrl)
  let init: RequestInit = { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) }
  if (mode === 'form') init = { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body: new URLSearchParams(body).toString() }
  if (mode === 'get') {
    for (const [k, v] of Object.entries(body)) url.searchParams.set(k, v)
    init = { method: 'GET', headers }
  }
  const res = await fetch(url, init)
  const text = await res.text()
  return { status: res.status, type: res.headers.get('content-type') ?? '', body: JSON.parse(text) as Record<string, unknown> }
}

for (const mode of ['json', 'form', 'get'] as const) {
  describe(`EMQX authentication (${mode})`, () => {
    test('right password: allow, with is_superuser as Herald\'s account says', async () => {
      const r = await call(h, 'authn', authnBody({ username: 'alice', password: 'alice-pw', clientid: `a-${mode}` }), mode)
      assert.equal(r.status, 200)
      assert.match(r.type, /^application\/json/)
      assert.deepEqual(r.body, { result: 'allow', is_superuser: false })
      const root = await call(h, 'authn', authnBody({ username: 'root', password: 'root-pw', clientid: `r-${mode}` }), mode)
      assert.deepEqual(root.body, { result: 'allow', is_superuser: true })
    })

    test('wrong password and unknown user: deny; no username: ignore (EMQX\'s next authenticator decides)', async () => {
      for (const v of [{ username: 'alice', password: 'nope' }, { username: 'ghost', password: 'x' }]) {
        const r = await call(h, 'authn', authnBody({ ...v, clientid: `x-${mode}` }), mode)
        assert.deepEqual([r.status, r.body], [200, { result: 'deny', is_superuser: false }], v.username)
      }
      const anon = await call(h, 'authn', { username: '', password: '', clientid: `anon-${mode}` }, mode)
      assert.deepEqual([anon.status, anon.body], [200, { result: 'ignore' }])
    })
  })
}

describe('EMQX authorization', () => {
  before(async () => {
    const r = await call(h, 'authn', authnBody({ username: 'alice', password: 'alice-pw', clientid: 'alice-dev' }))
    assert.equal(r.body.result, 'allow')
  })

  test('publish and subscribe are judged by the same rules as the embedded broker\'s', async () => {
    const ask = async (action: string, topic: string, mode: 'json' | 'form' | 'get' = 'json') =>
      (await call(h, 'authz', authzBody({ username: 'alice', clientid: 'alice-dev', action, topic }), mode)).body.result
    assert.equal(await ask('publish', 'alice/x'), 'allow')
    assert.equal(await ask('subscribe', 'alice/#', 'form'), 'allow')
    assert.equal(await ask('publish', 'alice/private/x', 'get'), 'deny')
    assert.equal(await ask('publish', 'news/today'), 'deny')
    assert.equal(await ask('subscribe', 'news/today'), 'allow')
    assert.equal(await ask('all', 'news/today'), 'deny')
    assert.equal(await ask('all', 'alice/x'), 'allow')
    assert.equal(await ask('publish', 'bob/x'), 'deny')
  })

  test('a user Herald does not know is denied; a request without topic or with another action is 400', async () => {
    const r = await call(h, 'authz', authzBody({ username: 'ghost', clientid: 'g', action: 'publish', topic: 'alice/x' }))
    assert.deepEqual([r.status, r.body], [200, { result: 'deny' }])
    const noTopic = await call(h, 'authz', { username: 'alice', clientid: 'alice-dev', action: 'publish' })
    assert.equal(noTopic.status, 400)
    const other = await call(h, 'authz', authzBody({ username: 'alice', clientid: 'alice-dev', action: 'delete', topic: 'alice/x' }))
    assert.equal(other.status, 400)
  })
})

describe('EMQX hooks with HERALD_HOOKS_SECRET', () => {
  test('a call without the secret is 401; with it in a header EMQX is configured to send, it is answered', async () => {
    const body = authnBody({ username: 'alice', password: 'alice-pw', clientid: 's1' })
    assert.equal((await call(secured, 'authn', body)).status, 401)
    const r = await call(secured, 'authn', body, 'json', { 'x-herald-hooks-secret': 'hook-s3cret' })
    assert.deepEqual([r.status, r.body], [200, { result: 'allow', is_superuser: false }])
  })
})
