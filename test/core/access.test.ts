// Issue 2 §3: Mosquitto ACL files, rule decisions, placeholder injection, the decision cache, the failed-login
// limit per address and client certificates whose CN becomes the identity.
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import type { ErrorWithReasonCode } from 'mqtt'
import { AccessControl } from '../../src/core/access/access.ts'
import { AclFileError, loadAclFile, parseAcl } from '../../src/core/access/acl-file.ts'
import { decide } from '../../src/core/access/rules.ts'
import type { Principal, Rule } from '../../src/core/access/types.ts'
import { collect, connect, requireService, startTestHerald } from '../helpers.ts'

const user = (username: string, o: Partial<Principal> = {}): Principal => ({ kind: 'user', username, attrs: {}, ...o })

describe('Mosquitto ACL files', () => {
  const rules = parseAcl(`
# comment, then anonymous lines before the first user
topic read public/#

user alice
topic alice/#
topic write alice/out
topic deny alice/secret/#
user bob
topic readwrite bob/#

pattern write devices/%c/up
pattern read devices/%u/down
`)

  test('parses user, topic (default readwrite), pattern and deny lines', () => {
    assert.deepEqual(rules, [
      { topic: 'public/#', access: 'read', anonymous: true, heraldOnly: true },
      { topic: 'alice/#', access: 'readwrite', username: 'alice', heraldOnly: true },
      { topic: 'alice/out', access: 'write', username: 'alice', heraldOnly: true },
      { topic: 'alice/secret/#', access: 'deny', username: 'alice', heraldOnly: true },
      { topic: 'bob/#', access: 'readwrite', username: 'bob', heraldOnly: true },
      { topic: 'devices/%c/up', access: 'write', heraldOnly: true },
      { topic: 'devices/%u/down', access: 'read', heraldOnly: true },
    ] satisfies Rule[])
  })

  test('decides like Mosquitto: user sections, deny wins, patterns with %u and %c', () => {
    const alice = user('alice', { clientId: 'c1' })
    const bob = user('bob', { clientId: 'c2' })
    const anon: Principal = { kind: 'anonymous', username: '', attrs: {} }
    assert.equal(decide(rules, alice, 'publish', 'alice/x'), true)
    assert.equal(decide(rules, alice, 'subscribe', 'alice/+/y'), true)
    assert.equal(decide(rules, alice, 'subscribe', 'alice/secret/x'), false)
    assert.equal(decide(rules, alice, 'read', 'alice/secret/x'), false)
    assert.equal(decide(rules, alice, 'publish', 'bob/x'), false)
    assert.equal(decide(rules, bob, 'publish', 'bob/x'), true)
    assert.equal(decide(rules, anon, 'subscribe', 'public/news'), true)
    assert.equal(decide(rules, anon, 'publish', 'public/news'), false)
    assert.equal(decide(rules, alice, 'subscribe', 'public/news'), false, 'anonymous lines are for anonymous clients only')
    assert.equal(decide(rules, alice, 'publish', 'devices/c1/up'), true)
    assert.equal(decide(rules, alice, 'publish', 'devices/c2/up'), false)
    assert.equal(decide(rules, alice, 'subscribe', 'devices/c1/up'), false, 'write does not grant subscribe')
    assert.equal(decide(rules, bob, 'subscribe', 'devices/bob/down'), true)
    assert.equal(decide(rules, bob, 'publish', 'devices/bob/down'), false, 'read does not grant publish')
  })

  test('a subscription is allowed only when the rule covers every topic its filter can match', () => {
    const r: Rule[] = [{ topic: 'a/#', access: 'read' }, { topic: 'x/+/z', access: 'read' }]
    const p = user('u')
    assert.equal(decide(r, p, 'subscribe', 'a/b/+'), true)
    assert.equal(decide(r, p, 'subscribe', 'a/#'), true)
    assert.equal(decide(r, p, 'subscribe', '#'), false)
    assert.equal(decide(r, p, 'subscribe', '+/b'), false)
    assert.equal(decide(r, p, 'subscribe', 'x/y/z'), true)
    assert.equal(decide(r, p, 'subscribe', 'x/#'), false)
  })

  test('kind-specific rules, {attr} placeholders, glob syntax and superusers', () => {
    const r: Rule[] = [
      { topic: 'apps/{app}/users/%u/#', access: 'readwrite', kind: 'chat21' },
      { topic: 'q.*', access: 'read', syntax: 'glob' },
    ]
    const chat = { kind: 'chat21', username: 'u1', attrs: { app: 'tilechat' } }
    assert.equal(decide(r, chat, 'publish', 'apps/tilechat/users/u1/out'), true)
    assert.equal(decide(r, chat, 'publish', 'apps/other/users/u1/out'), false)
    assert.equal(decide(r, { ...chat, kind: 'user' }, 'publish', 'apps/tilechat/users/u1/out'), false)
    assert.equal(decide(r, { ...chat, attrs: {} }, 'publish', 'apps/tilechat/users/u1/out'), false, 'a missing attribute matches nothing')
    assert.equal(decide(r, user('z'), 'read', 'q.anything.at/all'), true)
    assert.equal(decide(r, user('z', { superuser: true }), 'publish', 'anything'), true)
  })

  test('placeholder injection is refused: a name with / + # or empty matches nothing', () => {
    const r: Rule[] = [{ topic: 'home/%u/#', access: 'readwrite' }, { topic: 'dev/%c', access: 'readwrite' }]
    for (const name of ['+', '#', 'a/b', '']) {
      assert.equal(decide(r, user(name), 'subscribe', `home/${name}/#`), false, `username ${JSON.stringify(name)}`)
      assert.equal(decide(r, user(name), 'subscribe', 'home/+/#'), false)
      assert.equal(decide(r, user(name), 'publish', 'home/x/y'), false)
    }
    assert.equal(decide(r, user('ok', { clientId: '+' }), 'subscribe', 'dev/+'), false)
    assert.equal(decide(r, user('ok', { clientId: 'a/b' }), 'publish', 'dev/a/b'), false)
    assert.equal(decide(r, user('ok', { clientId: 'c9' }), 'publish', 'dev/c9'), true)
  })

  test('errors name the file and line; unreadable files are reported', () => {
    assert.throws(() => parseAcl('user a\nfrobnicate x/y\n', 'my.acl'), (e: Error) => e instanceof AclFileError && /my\.acl:2: unknown keyword "frobnicate"/.test(e.message))
    assert.throws(() => parseAcl('topic\n', 'my.acl'), /my\.acl:1: cannot parse/)
    assert.throws(() => loadAclFile('/nonexistent/acl'), /cannot read ACL file \/nonexistent\/acl/)
  })
})

describe('AccessControl', () => {
  test('the per-connection decision cache asks the rules once per (action, topic)', () => {
    const access = new AccessControl()
    access.addRules([{ topic: 'a/#', access: 'readwrite' }])
    let calls = 0
    const original = access.authorize.bind(access)
    access.authorize = (...args) => { calls++; return original(...args) }
    const s = access.session(user('u'))
    for (let i = 0; i < 5; i++) assert.equal(s.can('publish', 'a/b'), true)
    assert.equal(calls, 1)
    assert.equal(s.can('subscribe', 'a/b'), true)
    assert.equal(s.can('publish', 'b'), false)
    assert.equal(s.can('publish', 'b'), false)
    assert.equal(calls, 3)
    // another connection has its own cache
    access.session(user('u')).can('publish', 'a/b')
    assert.equal(calls, 4)
  })

  test('failed logins are limited per address: the limit refuses even the right password, other addresses pass', async () => {
    const access = new AccessControl({ failLimit: 3, failWindowMs: 60_000 })
    access.addServiceAccount('svc', 'right')
    for (let i = 0; i < 3; i++) {
      const r = await access.authenticate({ username: 'svc', password: 'wrong', clientId: 'c', ip: '10.0.0.1' })
      assert.deepEqual(r, { ok: false, reason: 'bad-credentials' })
    }
    assert.deepEqual(await access.authenticate({ username: 'svc', password: 'right', clientId: 'c', ip: '10.0.0.1' }), { ok: false, reason: 'rate-limited' })
    const other = await access.authenticate({ username: 'svc', password: 'right', clientId: 'c', ip: '10.0.0.2' })
    assert.equal(other.ok, true)
  })

  test('the limit lifts once the window has passed', async () => {
    const access = new AccessControl({ failLimit: 1, failWindowMs: 50 })
    access.addServiceAccount('svc', 'right')
    await access.authenticate({ username: 'svc', password: 'wrong', clientId: 'c', ip: '10.0.0.3' })
    assert.equal((await access.authenticate({ username: 'svc', password: 'right', clientId: 'c', ip: '10.0.0.3' })).ok, false)
    await new Promise((r) => setTimeout(r, 80))
    assert.equal((await access.authenticate({ username: 'svc', password: 'right', clientId: 'c', ip: '10.0.0.3' })).ok, true)
  })

  test('anonymous: refused by default; allowed when enabled; ACL anonymous lines then apply', async () => {
    assert.deepEqual(await new AccessControl().authenticate({ clientId: 'c' }), { ok: false, reason: 'not-authorized' })
    const open = new AccessControl({ allowAnonymous: true })
    const r = await open.authenticate({ clientId: 'c' })
    assert.ok(r.ok)
    assert.equal(open.authorize(r.principal, 'publish', 'any/thing'), true, 'no static rules: anonymous may do anything')
    open.addRules(parseAcl('topic read public/#\n'), true)
    assert.equal(open.authorize(r.principal, 'publish', 'any/thing'), false)
    assert.equal(open.authorize(r.principal, 'subscribe', 'public/x'), true)
  })
})

describe('over MQTT', () => {
  test('the failed-login limit refuses the right password from the same address (CONNACK 5)', async () => {
    const h = await startTestHerald({ overrides: { 'auth.failLimit': 2 } })
    try {
      await h.users.add('carol', 'pw')
      for (let i = 0; i < 2; i++) {
        await assert.rejects(connect(h.mqttUrl, { username: 'carol', password: 'nope' }), (e: ErrorWithReasonCode) => e.code === 4)
      }
      await assert.rejects(connect(h.mqttUrl, { username: 'carol', password: 'pw' }), (e: ErrorWithReasonCode) => e.code === 5)
      // the address is the same over WebSocket (the HTTP request's socket)
      await assert.rejects(connect(`${h.wsUrl}/mqtt`, { username: 'carol', password: 'pw' }), (e: ErrorWithReasonCode) => e.code === 5)
      const metrics = await (await fetch(`${h.metricsUrl}/metrics`)).text()
      assert.match(metrics, /herald_auth_failures_total\{reason="bad-credentials"\} 2/)
      assert.match(metrics, /herald_auth_failures_total\{reason="rate-limited"\} 2/)
    } finally {
      await h.close()
    }
  })
})

describe('anonymous access over MQTT', () => {
  test('HERALD_ALLOW_ANONYMOUS=true accepts clients without credentials; ACL anonymous lines then bound them', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'herald-anon-'))
    writeFileSync(join(dir, 'acl'), 'topic read public/#\ntopic readwrite sandbox/#\nuser someone\ntopic readwrite x/#\n')
    const h = await startTestHerald({ env: { HERALD_ALLOW_ANONYMOUS: 'true', HERALD_ACL_FILE: join(dir, 'acl') } })
    try {
      const c = await connect(h.mqttUrl)
      await c.subscribeAsync('sandbox/#', { qos: 1 })
      const got = collect(c, 1)
      await c.publishAsync('sandbox/a', 'hi', { qos: 1 })
      assert.equal((await got)[0].topic, 'sandbox/a')
      await assert.rejects(c.subscribeAsync('x/#', { qos: 1 }), /Subscribe error/)
      c.end(true)
    } finally {
      await h.close()
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

const hasOpenssl = (() => { try { execFileSync('openssl', ['version']); return true } catch { return false } })()

describe('client certificates', requireService(hasOpenssl, 'openssl'), () => {
  let dir: string
  const f = (name: string) => join(dir, name)
  const ssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' })

  function clientCert(ca: string, cn: string) {
    ssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', f(`${cn}.key`), '-out', f(`${cn}.csr`), '-subj', `/CN=${cn}`)
    ssl('x509', '-req', '-in', f(`${cn}.csr`), '-CA', f(`${ca}.pem`), '-CAkey', f(`${ca}.key`), '-CAcreateserial', '-days', '2', '-out', f(`${cn}.pem`))
    return { cert: readFileSync(f(`${cn}.pem`)), key: readFileSync(f(`${cn}.key`)) }
  }

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'herald-ca-'))
    for (const ca of ['ca', 'rogue-ca']) {
      ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', f(`${ca}.key`), '-out', f(`${ca}.pem`), '-days', '2', '-subj', `/CN=Test ${ca}`)
    }
    writeFileSync(f('acl'), 'user device-7\ntopic readwrite dev/device-7/#\n')
  })
  after(() => rmSync(dir, { recursive: true, force: true }))

  test('a verified certificate CN becomes the identity; rules apply to it', async () => {
    const h = await startTestHerald({ overrides: { 'tls.clientCa': f('ca.pem'), 'auth.aclFile': f('acl') } })
    try {
      const serverCa = readFileSync(join(h.dataDir, 'tls', 'dev-cert.pem'))
      const url = `mqtts://127.0.0.1:${h.ports.mqtts}`
      const c = await connect(url, { ca: serverCa, ...clientCert('ca', 'device-7') })
      const granted = await c.subscribeAsync('dev/device-7/#', { qos: 1 })
      assert.equal(granted[0].qos, 1)
      const got = collect(c, 1)
      await c.publishAsync('dev/device-7/up', 'hello', { qos: 1 })
      assert.equal((await got)[0].payload.toString(), 'hello')
      await assert.rejects(c.subscribeAsync('dev/device-8/#', { qos: 1 }), /Subscribe error/)
      c.end(true)

      // a certificate from another CA is not verified: without a password it is not an identity
      await assert.rejects(connect(url, { ca: serverCa, ...clientCert('rogue-ca', 'device-7-rogue') }), (e: ErrorWithReasonCode) => e.code === 5)
      // without any certificate (not required): user name and password still work
      await h.users.add('pwuser', 'pw')
      const p = await connect(url, { ca: serverCa, username: 'pwuser', password: 'pw' })
      p.end(true)
    } finally {
      await h.close()
    }
  })

  test('tls.requireClientCert refuses a TLS client without a valid certificate', async () => {
    const h = await startTestHerald({ overrides: { 'tls.clientCa': f('ca.pem'), 'tls.requireClientCert': true } })
    try {
      await h.users.add('pwuser', 'pw')
      const serverCa = readFileSync(join(h.dataDir, 'tls', 'dev-cert.pem'))
      const url = `mqtts://127.0.0.1:${h.ports.mqtts}`
      await assert.rejects(connect(url, { ca: serverCa, username: 'pwuser', password: 'pw', connectTimeout: 3000 }))
      const ok = await connect(url, { ca: serverCa, ...clientCert('ca', 'device-9') })
      ok.end(true)
    } finally {
      await h.close()
    }
  })
})

describe('claimed usernames', () => {
  test('a username an authenticator claims is reserved and no other account can shadow it', async () => {
    const access = new AccessControl()
    const asked: string[] = []
    access.addAuthenticator({
      name: 'accounts',
      async authenticate(c) { asked.push('accounts'); return c.username?.toLowerCase() === 'jwt' ? null : undefined },
      async lookup() { asked.push('accounts'); return null },
    })
    access.addAuthenticator({
      name: 'tokens', claims: ['JWT'],
      async authenticate(c) { asked.push('tokens'); return c.password === 'good' ? user('u1', { kind: 'tokens' }) : null },
    })
    assert.equal(access.isReserved('jwt'), true)
    assert.equal(access.isReserved('Jwt'), true)
    assert.equal(access.isReserved('alice'), false)
    const r = await access.authenticate({ username: 'jwt', password: 'good', clientId: 'c1' })
    assert.equal(r.ok && r.principal.username, 'u1')
    assert.deepEqual(asked, ['tokens'])
    assert.equal((await access.authenticate({ username: 'JWT', password: 'bad', clientId: 'c2' })).ok, false)
    assert.equal(await access.lookup('JWT', 'c3'), null)
    assert.deepEqual(asked, ['tokens', 'tokens'])
  })
})
