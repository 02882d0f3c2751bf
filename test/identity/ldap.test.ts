// Issue 13 item 4: an LDAP directory as Herald's own authenticator, against a real OpenLDAP slapd, with real MQTT
// clients on the embedded broker and an HTTP Basic login through chat21's createCustomToken (access.authenticate).
import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import type { MqttClient } from 'mqtt'
import { coreSettings, loadConfig, ConfigError } from '../../src/config.ts'
import { escapeFilterValue, ldapFromConfig } from '../../src/core/identity/ldap.ts'
import { createChat21 } from '../../src/dialects/chat21/index.ts'
import { chat21Settings } from '../../src/dialects/chat21/settings.ts'
import { connect, eventually, requireService, startTestHerald, type TestHerald } from '../helpers.ts'
import { SERVICE_DN, SERVICE_PASSWORD, slapdAvailable, startSlapd, SUFFIX, type Slapd, type TestUser } from './slapd.ts'

const USERS: TestUser[] = [
  { uid: 'alice', password: 'alice-pw', admin: true },
  { uid: 'bob', password: 'bob-pw' },
  { uid: 'carol', password: 'carol-pw' },
  { uid: 'dave', password: 'dave-pw', admin: true },
  { uid: 'erin', password: 'erin-pw' },
]
const TIMEOUT_MS = 800

const rejections: unknown[] = []
process.on('unhandledRejection', (err) => { rejections.push(err) })

function ldapOverrides(s: Slapd, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    'ldap.url': s.url, 'ldap.bindDn': SERVICE_DN, 'ldap.bindPassword': SERVICE_PASSWORD, 'ldap.baseDn': SUFFIX,
    'ldap.userFilter': '(&(objectClass=inetOrgPerson)(uid={username}))',
    'ldap.groupFilter': '(&(objectClass=groupOfNames)(cn=herald-admins)(member={dn}))',
    'ldap.timeoutMs': TIMEOUT_MS,
    ...extra,
  }
}

async function startWithLdap(s: Slapd, extra: Record<string, unknown> = {}): Promise<TestHerald & { api: string }> {
  const acl = join(process.env.TMPDIR ?? '/tmp', `herald-ldap-${process.pid}.acl`)
  writeFileSync(acl, 'user bob\ntopic readwrite bob/#\n')
  const h = await startTestHerald({
    dialects: [createChat21()], settings: chat21Settings,
    overrides: { 'auth.aclFile': acl, ...ldapOverrides(s, extra) },
  })
  return Object.assign(h, { api: `${h.httpUrl}${String(h.config['chat21.http.prefix'])}` })
}

/** The CONNACK return code of a refused MQTT login (0: accepted), and how long it took. */
async function connackOf(h: TestHerald, username: string, password: string, connectTimeout = 5000): Promise<{ code: number; ms: number }> {
  const t0 = Date.now()
  try {
    const c = await connect(h.mqttUrl, { username, password, protocolVersion: 4, connectTimeout })
    c.end(true)
    return { code: 0, ms: Date.now() - t0 }
  } catch (err) {
    return { code: (err as { code?: number }).code ?? -1, ms: Date.now() - t0 }
  }
}

async function tokenStatus(h: TestHerald & { api: string }, username: string, password: string): Promise<number> {
  const r = await fetch(`${h.api}/auth/createCustomToken`, {
    method: 'POST',
    headers: { authorization: 'Basic ' + Buffer.from(`${username}:${password}`).toString('base64'), 'content-type': 'application/json' },
    body: JSON.stringify({ userid: 'U1' }),
  })
  await r.arrayBuffer()
  return r.status
}

/** the SUBACK code for one filter (mqtt.js rejects a refused one, 0x80) */
const suback = (c: MqttClient, filter: string) => c.subscribeAsync(filter).then((g) => g[0].qos, () => 128)

test('RFC 4515 escaping of filter values', () => {
  assert.equal(escapeFilterValue('a*b(c)d\\e\u0000f'), 'a\\2ab\\28c\\29d\\5ce\\00f')
  assert.equal(escapeFilterValue('ünïcode.name-1'), 'ünïcode.name-1')
})

test('LDAP settings are checked at start, naming what is wrong', () => {
  const cfg = (o: Record<string, unknown>) => loadConfig({ settings: coreSettings, env: {}, overrides: o })
  assert.equal(ldapFromConfig(cfg({})), undefined, 'no URL: no directory')
  assert.throws(() => ldapFromConfig(cfg({ 'ldap.url': 'http://x', 'ldap.baseDn': SUFFIX })), ConfigError)
  assert.throws(() => ldapFromConfig(cfg({ 'ldap.url': 'ldap://x' })), /baseDn is required/)
  assert.throws(() => ldapFromConfig(cfg({ 'ldap.url': 'ldaps://x', 'ldap.baseDn': SUFFIX, 'ldap.startTls': true })), /startTls/)
  assert.throws(() => ldapFromConfig(cfg({ 'ldap.url': 'ldap://x', 'ldap.baseDn': SUFFIX, 'ldap.userFilter': '(uid=x)' })), /\{username\}/)
  assert.throws(() => ldapFromConfig(cfg({ 'ldap.url': 'ldap://x', 'ldap.baseDn': SUFFIX, 'ldap.ca': '/nonexistent.pem' })), /cannot read ldap.ca/)
})

const slapd = requireService(slapdAvailable(), 'OpenLDAP slapd and ldap-utils (apt-get install slapd ldap-utils)')

describe('LDAP logins against a running directory', slapd, () => {
  let s: Slapd
  let h: TestHerald & { api: string }
  before(async () => {
    s = await startSlapd({ users: USERS })
    h = await startWithLdap(s)
  })
  after(async () => {
    await h?.close()
    await s?.close()
  })

  test('the right password logs in over MQTT; ACL-file rules apply to the directory user', async () => {
    const c = await connect(h.mqttUrl, { username: 'bob', password: 'bob-pw' })
    try {
      assert.equal(await suback(c, 'bob/inbox'), 0, 'the ACL file grants bob/#')
      assert.equal(await suback(c, 'alice/inbox'), 128, 'nothing else')
    } finally { c.end(true) }
    const r = await h.access.authenticate({ username: 'bob', password: 'bob-pw', clientId: '' })
    assert.ok(r.ok)
    assert.deepEqual({ kind: r.principal.kind, username: r.principal.username, superuser: r.principal.superuser }, { kind: 'user', username: 'bob', superuser: false })
  })

  test('a wrong password, an unknown user and an empty password are refused with CONNACK 4', async () => {
    assert.equal((await connackOf(h, 'bob', 'not-bobs')).code, 4)
    assert.equal((await connackOf(h, 'bob', 'alice-pw')).code, 4, "another user's password")
    assert.equal((await connackOf(h, 'nobody', 'bob-pw')).code, 4)
    assert.equal((await connackOf(h, 'bob', '')).code, 4)
    assert.equal((await connackOf(h, 'alice', '')).code, 4)
  })

  test('filter metacharacters in a username match nothing (RFC 4515)', async () => {
    for (const name of ['*', 'b*', 'bob)(uid=*', '*)(objectClass=*']) {
      assert.equal((await connackOf(h, name, 'bob-pw')).code, 4, name)
    }
  })

  test('a user the group filter matches is a superuser', async () => {
    const c = await connect(h.mqttUrl, { username: 'alice', password: 'alice-pw' })
    try {
      assert.equal(await suback(c, 'anything/#'), 0)
    } finally { c.end(true) }
    const r = await h.access.authenticate({ username: 'alice', password: 'alice-pw', clientId: '' })
    assert.ok(r.ok && r.principal.superuser === true)
  })

  test('HTTP Basic through access.authenticate: superuser 200, plain user and wrong password 401', async () => {
    assert.equal(await tokenStatus(h, 'alice', 'alice-pw'), 200)
    assert.equal(await tokenStatus(h, 'bob', 'bob-pw'), 401)
    assert.equal(await tokenStatus(h, 'alice', 'wrong'), 401)
  })

  test("an external broker's hooks log directory users in and see them without a password", async () => {
    const hook = async (path: string, body: Record<string, string>) => (await fetch(`${h.httpUrl}/api/v1/mqtt/${path}`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
    })).status
    assert.equal(await hook('login', { username: 'erin', password: 'erin-pw', clientid: 'e1' }), 200)
    assert.equal(await hook('login', { username: 'erin', password: 'wrong', clientid: 'e2' }), 401)
    assert.equal(await hook('superuser', { username: 'dave' }), 200, 'in the admins group (a lookup, no login)')
    assert.equal(await hook('superuser', { username: 'erin' }), 401)
    assert.equal(await hook('superuser', { username: 'nobody' }), 401)
  })
})

describe('LDAP directory down', slapd, () => {
  let s: Slapd
  let h: TestHerald & { api: string }
  const CACHE_MS = 1500
  before(async () => {
    s = await startSlapd({ users: USERS })
    h = await startWithLdap(s, { 'ldap.cacheTtlMs': CACHE_MS, 'auth.failLimit': 2 })
  })
  after(async () => {
    await h?.close()
    await s?.close()
  })

  test('cached logins answer within their TTL, others are refused as unavailable (CONNACK 3, HTTP 503)', async () => {
    assert.equal((await connackOf(h, 'bob', 'bob-pw')).code, 0)
    const cachedAt = Date.now()
    await s.stop()
    // the rule: an accepted login answers again for ldap.cacheTtlMs with the same password, whether or not the
    // directory is up; any other password, or any login after the TTL, needs the directory
    assert.equal((await connackOf(h, 'bob', 'bob-pw')).code, 0, 'cached positive, same password')
    assert.equal((await connackOf(h, 'bob', 'alice-pw')).code, 3, 'a different password is never answered from the cache')
    const carol = await connackOf(h, 'carol', 'carol-pw')
    assert.equal(carol.code, 3)
    assert.ok(carol.ms < TIMEOUT_MS + 1200, `refused in ${carol.ms} ms`)
    assert.equal(await tokenStatus(h, 'dave', 'dave-pw'), 503)
    // more unavailable logins from this address than auth.failLimit: none counted as a failed login
    for (let i = 0; i < 3; i++) assert.equal((await connackOf(h, 'erin', 'erin-pw')).code, 3)
    assert.equal((await connackOf(h, 'nobody', '')).code, 4, 'an empty password never reaches the directory')
    await eventually(() => Date.now() - cachedAt > CACHE_MS, 'the cache TTL', CACHE_MS + 1000)
    assert.equal((await connackOf(h, 'bob', 'bob-pw')).code, 3, 'past its TTL the cached login needs the directory')
  })

  test('the directory back: logins succeed again, and the outage counted no failed logins', async () => {
    await s.start()
    await eventually(async () => (await connackOf(h, 'erin', 'erin-pw')).code === 0, 'erin logs in again', 5000)
    assert.equal((await connackOf(h, 'carol', 'carol-pw')).code, 0)
    assert.equal(await tokenStatus(h, 'dave', 'dave-pw'), 200)
  })
})

describe('LDAP directory hung (slapd stopped with SIGSTOP)', slapd, () => {
  let s: Slapd
  let h: TestHerald & { api: string }
  before(async () => {
    s = await startSlapd({ users: USERS })
    h = await startWithLdap(s)
  })
  after(async () => {
    s?.resume()
    await h?.close()
    await s?.close()
  })

  test('logins are refused as unavailable within the timeout, concurrent ones too', async () => {
    s.pause()
    const all = await Promise.all(['bob', 'carol', 'erin', 'alice', 'dave'].map((u) => connackOf(h, u, `${u}-pw`)))
    for (const r of all) {
      assert.equal(r.code, 3)
      assert.ok(r.ms < TIMEOUT_MS + 1200, `refused in ${r.ms} ms`)
    }
    const t0 = Date.now()
    assert.equal(await tokenStatus(h, 'alice', 'alice-pw'), 503)
    assert.ok(Date.now() - t0 < TIMEOUT_MS + 1200)
    // a second later one login probes the directory (and waits for it); the others are refused at once meanwhile
    await new Promise((r) => setTimeout(r, 1100))
    const probe = connackOf(h, 'bob', 'bob-pw')
    await new Promise((r) => setTimeout(r, 100))
    const meanwhile = await connackOf(h, 'carol', 'carol-pw')
    assert.equal(meanwhile.code, 3)
    assert.ok(meanwhile.ms < TIMEOUT_MS / 2, `refused in ${meanwhile.ms} ms while another login probes`)
    const probed = await probe
    assert.equal(probed.code, 3)
    assert.ok(probed.ms >= TIMEOUT_MS - 50, `the probe waited ${probed.ms} ms for the hung directory`)
    s.resume()
    await eventually(async () => (await connackOf(h, 'bob', 'bob-pw')).code === 0, 'bob logs in again', 5000)
  })

  test('slapd dying in the middle of a login: refused as unavailable, no unhandled rejection', async () => {
    s.pause()
    const pending = connackOf(h, 'carol', 'carol-pw')
    await new Promise((r) => setTimeout(r, 100))
    // SIGKILL while stopped: slapd never answers, the kernel closes its sockets under the pending request
    await s.kill()
    const r = await pending
    assert.equal(r.code, 3)
    assert.ok(r.ms < TIMEOUT_MS + 1200)
    await s.start()
    await eventually(async () => (await connackOf(h, 'carol', 'carol-pw')).code === 0, 'carol logs in again', 5000)
    await new Promise((r) => setImmediate(r))
    assert.deepEqual(rejections, [])
  })

  test('Herald stops promptly while a login waits on a hung directory', async () => {
    const h2 = await startWithLdap(s)
    s.pause()
    // the stopping broker leaves a connection without CONNACK open: the client gives up after its own timeout
    const pending = connackOf(h2, 'erin', 'erin-pw', 1000)
    await new Promise((r) => setTimeout(r, 100))
    const t0 = Date.now()
    await h2.close()
    const stopMs = Date.now() - t0
    const r = await pending
    s.resume()
    assert.notEqual(r.code, 0)
    assert.ok(stopMs < TIMEOUT_MS + 1500, `stopped in ${stopMs} ms`)
  })
})

describe('LDAP over TLS', slapd, () => {
  let s: Slapd
  before(async () => { s = await startSlapd({ users: USERS, tls: true }) })
  after(async () => { await s?.close() })

  const loginWith = async (extra: Record<string, unknown>) => {
    const h = await startWithLdap(s, extra)
    try { return (await connackOf(h, 'bob', 'bob-pw')).code } finally { await h.close() }
  }

  test('StartTLS on ldap:// with the configured CA', async () => {
    assert.equal(await loginWith({ 'ldap.startTls': true, 'ldap.ca': s.caFile }), 0)
  })

  test('ldaps:// with the configured CA', async () => {
    assert.equal(await loginWith({ 'ldap.url': s.ldapsUrl, 'ldap.ca': s.caFile }), 0)
  })

  test('a directory certificate no configured CA signs: unavailable, never accepted', async () => {
    assert.equal(await loginWith({ 'ldap.url': s.ldapsUrl }), 3)
    assert.equal(await loginWith({ 'ldap.startTls': true }), 3)
  })
})
