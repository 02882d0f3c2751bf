// Issue 13 §3 on HTTPS: a verified client certificate is an identity for HTTP requests without a password
// (`request.tlsIdentity`), used by chat21's createCustomToken (§13.1): a certificate whose name is a Herald superuser
// account may call it; curl --cert/--key as the client, certificates from Herald's CA.
import assert from 'node:assert/strict'
import { execFile, execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { HeraldCA } from '../../src/core/identity/ca.ts'
import { createChat21 } from '../../src/dialects/chat21/index.ts'
import { chat21Settings } from '../../src/dialects/chat21/settings.ts'
import type { Dialect } from '../../src/dialects/types.ts'
import { eventually, startTestHerald, type TestHerald } from '../helpers.ts'

let dir: string
let h: TestHerald
let ca: HeraldCA
let prefix: string

/** a test dialect whose one route answers the request's certificate identity */
const whoami: Dialect = {
  name: 'whoami',
  routes: () => [{ prefix: '/whoami', plugin: async (app) => { app.get('/', async (req) => ({ name: req.tlsIdentity ?? null })) } }],
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'herald-http-cert-'))
  h = await startTestHerald({
    dialects: [createChat21(), whoami], settings: chat21Settings,
    overrides: { 'ca.enabled': true, 'tls.clientAuth': 'optional', 'ca.revocationPollMs': 100 },
  })
  await h.users.add('root', 'root-pw', true)
  await h.users.add('pat', 'pat-pw', false)
  ca = (await HeraldCA.open(h.dataDir))!
  prefix = String(h.config['chat21.http.prefix'])
})
after(async () => {
  await h?.close()
  rmSync(dir, { recursive: true, force: true })
})

/** key and certificate files of a certificate Herald's CA issues for `name` */
async function issued(name: string): Promise<{ cert: string; key: string; serial: string }> {
  const i = await ca.issue(name, 1)
  const base = join(dir, `${name}-${i.serial}`)
  execFileSync('sh', ['-c', `cat > ${base}.key && chmod 600 ${base}.key`], { input: i.keyPem })
  execFileSync('sh', ['-c', `cat > ${base}.crt`], { input: i.certPem })
  return { cert: `${base}.crt`, key: `${base}.key`, serial: i.serial }
}

interface Curl { code: number; status: number; body: string }

/** curl over HTTPS: its exit code (0: the TLS connection and the request went through), HTTP status and body */
function curl(path: string, o: { cert?: { cert: string; key: string }; basic?: string; body?: unknown } = {}): Promise<Curl> {
  const args = ['-sS', '-w', '\n%{http_code}', '--cacert', join(h.dataDir, 'tls', 'dev-cert.pem')]
  if (o.cert) args.push('--cert', o.cert.cert, '--key', o.cert.key)
  if (o.basic) args.push('-u', o.basic)
  if (o.body !== undefined) args.push('-H', 'content-type: application/json', '--data-binary', JSON.stringify(o.body))
  return new Promise((resolve) => execFile('curl', [...args, `https://127.0.0.1:${h.ports.https}${path}`], { timeout: 20_000 }, (err, stdout) => {
    const i = stdout.lastIndexOf('\n')
    resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, status: Number(stdout.slice(i + 1)), body: stdout.slice(0, Math.max(0, i)) })
  }))
}

const tokenCall = (o: Parameters<typeof curl>[1] = {}) => curl(`${prefix}/auth/createCustomToken`, { body: { userid: 'U1' }, ...o })

/** the `sub` of a JWT, unverified (the token's own checks are chat21's tests) */
const subOf = (jwt: string) => JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString()).sub as string

describe('request.tlsIdentity', () => {
  test('is the verified certificate\'s name over HTTPS, and nothing without a certificate or over plain HTTP', async () => {
    const r = await curl('/whoami/', { cert: await issued('alice') })
    assert.deepEqual([r.code, r.status, JSON.parse(r.body)], [0, 200, { name: 'alice' }])
    const none = await curl('/whoami/')
    assert.deepEqual([none.code, none.status, JSON.parse(none.body)], [0, 200, { name: null }])
    const plain = await fetch(`${h.httpUrl}/whoami/`)
    assert.deepEqual(await plain.json(), { name: null })
  })
})

describe('chat21 createCustomToken with a client certificate (issue 13 §3, chat21 §13.1)', () => {
  test('a certificate of a Herald superuser account gets the token, with no password', async () => {
    const r = await tokenCall({ cert: await issued('root') })
    assert.equal(r.code, 0)
    assert.equal(r.status, 200, r.body)
    const body = JSON.parse(r.body) as { userid: string; token: string }
    assert.equal(body.userid, 'U1')
    assert.equal(subOf(body.token), 'U1')
  })

  test('a certificate of an account that is no superuser, or of no account, is refused (401)', async () => {
    for (const name of ['pat', 'nobody']) {
      const r = await tokenCall({ cert: await issued(name) })
      assert.deepEqual([r.code, r.status, JSON.parse(r.body)], [0, 401, { success: false, msg: 'Unauthorized.' }], name)
    }
  })

  test('without a certificate the usual Basic login still works, over HTTPS and HTTP; none at all is 401', async () => {
    const r = await tokenCall({ basic: 'root:root-pw' })
    assert.equal(r.status, 200, r.body)
    assert.equal((await tokenCall({ basic: 'root:wrong' })).status, 401)
    assert.equal((await tokenCall()).status, 401)
    const plain = await fetch(`${h.httpUrl}${prefix}/auth/createCustomToken`, {
      method: 'POST',
      headers: { authorization: 'Basic ' + Buffer.from('root:root-pw').toString('base64'), 'content-type': 'application/json' },
      body: JSON.stringify({ userid: 'U2' }),
    })
    assert.equal(plain.status, 200)
  })

  test('explicit credentials win over the certificate: a superuser\'s certificate with a wrong password is 401', async () => {
    const r = await tokenCall({ cert: await issued('root'), basic: 'root:wrong' })
    assert.deepEqual([r.code, r.status], [0, 401])
  })

  test('a revoked certificate is refused at the handshake; Basic over HTTPS still works', async () => {
    const root = await issued('root')
    assert.equal((await tokenCall({ cert: root })).status, 200)
    await ca.revoke(root.serial)
    const refused = await eventually(async () => {
      const r = await tokenCall({ cert: root })
      return r.code !== 0 ? r : undefined
    }, 'the revoked certificate refused')
    assert.notEqual(refused!.status, 200)
    assert.equal((await tokenCall({ basic: 'root:root-pw' })).status, 200)
  })
})

test('a certificate principal carries the superuser flag of Herald\'s own account of that name, on every listener', async () => {
  const as = async (certCN: string) => {
    const r = await h.access.authenticate({ certCN, clientId: '', listener: 'mqtts' })
    assert.ok(r.ok)
    return [r.principal.kind, r.principal.username, r.principal.superuser === true]
  }
  assert.deepEqual(await as('root'), ['certificate', 'root', true])
  assert.deepEqual(await as('pat'), ['certificate', 'pat', false])
  assert.deepEqual(await as('nobody'), ['certificate', 'nobody', false])
})
