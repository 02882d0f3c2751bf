// Issue 13 §3: HERALD_TLS_CLIENT_IDENTITY = cn | san-email | san-dns | san-uri picks which name of a verified client
// certificate is the identity on MQTTS, secure WebSocket and HTTPS. openssl makes a CA (HERALD_TLS_CLIENT_CA) and
// certificates whose subjectAltNames differ from their CN; mqtt.js and curl are the clients.
import assert from 'node:assert/strict'
import { execFile, execFileSync } from 'node:child_process'
import { X509Certificate } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { PeerCertificate } from 'node:tls'
import { after, before, describe, test } from 'node:test'
import type { MqttClient } from 'mqtt'
import { ConfigError, coreSettings, loadConfig } from '../../src/config.ts'
import { certificateFieldOf } from '../../src/core/identity/index.ts'
import { certificateName } from '../../src/core/identity/peer.ts'
import type { Dialect } from '../../src/dialects/types.ts'
import type { SessionInfo } from '../../src/core/sessions/types.ts'
import { connect, eventually, startTestHerald, type TestHerald } from '../helpers.ts'

let dir: string
const open: MqttClient[] = []
const running: TestHerald[] = []

const sh = (cmd: string) => execFileSync('sh', ['-c', cmd], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] })

/** an openssl-made client certificate of the test CA: `cn` as its CN, the subjectAltNames given */
function certificate(name: string, cn: string, san?: string): { key: string; cert: string } {
  const ext = [san ? `subjectAltName=${san}` : '', 'extendedKeyUsage=clientAuth'].filter(Boolean).join('\n')
  writeFileSync(join(dir, `${name}.ext`), ext + '\n')
  sh(`openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ${name}.key -out ${name}.csr -subj /CN=${cn}`)
  sh(`openssl x509 -req -in ${name}.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out ${name}.crt -days 2 -extfile ${name}.ext`)
  return { key: join(dir, `${name}.key`), cert: join(dir, `${name}.crt`) }
}

let pat: { key: string; cert: string }
let plain: { key: string; cert: string }

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'herald-san-'))
  sh('openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.crt -subj /CN=Other-CA -days 2 -addext basicConstraints=critical,CA:TRUE')
  pat = certificate('pat', 'pat-cn', 'email:pat@example.com,DNS:pat.example.com,URI:urn:herald:pat')
  plain = certificate('plain', 'plain-cn')
  writeFileSync(join(dir, 'acl'), 'pattern readwrite users/%u/#\n')
})
after(async () => {
  for (const c of open) c.end(true)
  for (const h of running) await h.close()
  rmSync(dir, { recursive: true, force: true })
})

/** a test dialect whose one route answers the request's certificate identity */
const whoami: Dialect = {
  name: 'whoami',
  routes: () => [{ prefix: '/whoami', plugin: async (app) => { app.get('/', async (req) => ({ name: req.tlsIdentity ?? null })) } }],
}

async function herald(field?: string): Promise<TestHerald & { logins: SessionInfo[] }> {
  const h = await startTestHerald({
    dialects: [whoami],
    overrides: {
      'tls.clientCa': join(dir, 'ca.crt'), 'tls.clientAuth': 'optional', 'auth.aclFile': join(dir, 'acl'),
      ...(field ? { 'tls.clientIdentity': field } : {}),
    },
  })
  running.push(h)
  await h.users.add('pw-user', 'pw-pw', false)
  const logins: SessionInfo[] = []
  h.sessions.on('connect', (s) => { logins.push(s) })
  return Object.assign(h, { logins })
}

async function client(h: TestHerald & { logins: SessionInfo[] }, url: string, o: { key: string; cert: string }, extra = {}): Promise<{ c: MqttClient; login: SessionInfo }> {
  const c = await connect(url, {
    ca: readFileSync(join(h.dataDir, 'tls', 'dev-cert.pem')), rejectUnauthorized: true,
    key: readFileSync(o.key), cert: readFileSync(o.cert), clientId: `c-${Math.random().toString(36).slice(2)}`, ...extra,
  })
  open.push(c)
  const login = (await eventually(() => h.logins.find((s) => s.clientId === c.options.clientId), 'the login'))!
  return { c, login }
}

const mqtts = (h: TestHerald) => `mqtts://127.0.0.1:${h.ports.mqtts}`

function whoamiOverHttps(h: TestHerald, o: { key: string; cert: string }): Promise<unknown> {
  const args = ['-sS', '--cacert', join(h.dataDir, 'tls', 'dev-cert.pem'), '--cert', o.cert, '--key', o.key, `https://127.0.0.1:${h.ports.https}/whoami/`]
  return new Promise((resolve, reject) => execFile('curl', args, { timeout: 20_000 }, (err, stdout) => (err ? reject(err) : resolve(JSON.parse(stdout)))))
}

test('certificateName reads the CN or the first subjectAltName of the type asked for', () => {
  const peer = (file: string) => {
    const x = new X509Certificate(readFileSync(file))
    return { subject: { CN: /CN=([^\n]+)/.exec(x.subject)![1] }, raw: x.raw } as unknown as PeerCertificate
  }
  assert.equal(certificateName(peer(pat.cert), 'cn'), 'pat-cn')
  assert.equal(certificateName(peer(pat.cert), 'san-email'), 'pat@example.com')
  assert.equal(certificateName(peer(pat.cert), 'san-dns'), 'pat.example.com')
  assert.equal(certificateName(peer(pat.cert), 'san-uri'), 'urn:herald:pat')
  assert.equal(certificateName(peer(plain.cert), 'san-email'), undefined)
  assert.equal(certificateName(peer(plain.cert), 'cn'), 'plain-cn')
})

describe('HERALD_TLS_CLIENT_IDENTITY', () => {
  test('san-email: on MQTTS the e-mail SAN is the login, not the CN, and the ACL applies to it', async () => {
    const h = await herald('san-email')
    const { c, login } = await client(h, mqtts(h), pat)
    assert.deepEqual([login.listener, login.principal.kind, login.principal.username], ['mqtts', 'certificate', 'pat@example.com'])
    assert.deepEqual((await c.subscribeAsync('users/pat@example.com/inbox', { qos: 1 })).map((g) => g.qos), [1])
    await assert.rejects(c.subscribeAsync('users/pat-cn/inbox', { qos: 1 }), /Unspecified error/)
  })

  test('san-email on secure WebSocket and HTTPS as well', async () => {
    const h = await herald('san-email')
    const { login } = await client(h, `wss://127.0.0.1:${h.ports.https}/mqtt`, pat)
    assert.deepEqual([login.listener, login.principal.username], ['wss', 'pat@example.com'])
    assert.deepEqual(await whoamiOverHttps(h, pat), { name: 'pat@example.com' })
  })

  test('a verified certificate without that SAN is no identity: CONNACK 5 without a password, a password login works', async () => {
    const h = await herald('san-email')
    await assert.rejects(client(h, mqtts(h), plain), /Not authorized/i)
    const { login } = await client(h, mqtts(h), plain, { username: 'pw-user', password: 'pw-pw' })
    assert.deepEqual([login.principal.kind, login.principal.username], ['user', 'pw-user'])
    assert.deepEqual(await whoamiOverHttps(h, plain), { name: null })
  })

  test('unset (cn): the same certificate logs in as its CN; san-uri and san-dns pick those names', async () => {
    const byCn = await herald()
    assert.equal((await client(byCn, mqtts(byCn), pat)).login.principal.username, 'pat-cn')
    const byUri = await herald('san-uri')
    assert.equal((await client(byUri, mqtts(byUri), pat)).login.principal.username, 'urn:herald:pat')
    const byDns = await herald('san-dns')
    assert.equal((await client(byDns, mqtts(byDns), pat)).login.principal.username, 'pat.example.com')
  })

  test('read from HERALD_TLS_CLIENT_IDENTITY; any other value is refused, naming the setting', () => {
    const field = (v: string) => certificateFieldOf(loadConfig({ settings: coreSettings, env: { HERALD_TLS_CLIENT_IDENTITY: v } }))
    assert.equal(field('san-uri'), 'san-uri')
    assert.equal(certificateFieldOf(loadConfig({ settings: coreSettings, env: {} })), 'cn')
    assert.throws(() => field('subject'), (err: Error) => err instanceof ConfigError && /HERALD_TLS_CLIENT_IDENTITY/.test(err.message))
  })
})
