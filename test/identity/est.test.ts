// Issue 13 §2 and the bar: EST (RFC 7030) driven by openssl and curl — cacerts, simpleenroll with a one-time code or
// a Herald account, the accepted and refused key types, simplereenroll with the current certificate, csrattrs; then
// the issued certificate on MQTTS as its CN, refused after `herald ca revoke` (and its open connection closed),
// a certificate of another CA refused.
import assert from 'node:assert/strict'
import { execFile, execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import type { MqttClient } from 'mqtt'
import { HeraldCA } from '../../src/core/identity/ca.ts'
import type { SessionInfo } from '../../src/core/sessions/types.ts'
import { collect, connect, eventually, startTestHerald, type TestHerald } from '../helpers.ts'

let h: TestHerald
let dir: string
let ca: HeraldCA
let caFile: string
let est: string
const logins: SessionInfo[] = []
const open: MqttClient[] = []

/** openssl's output; with `failing`, it must fail, and its error output is the answer */
function openssl(args: string[], input?: string, failing = false): string {
  try {
    const out = execFileSync('openssl', args, { input, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] })
    if (failing) assert.fail(`openssl ${args.join(' ')} succeeded: ${out}`)
    return out
  } catch (e) {
    if (!failing) throw e
    const err = e as { stdout?: string; stderr?: string }
    return `${err.stdout ?? ''}${err.stderr ?? ''}`
  }
}

/** asynchronous: Herald answers in this very process */
function run(cmd: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: 30_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }))
  })
}

const KEYS: Record<string, string[]> = {
  p256: ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'],
  p384: ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-384'],
  ed25519: ['-newkey', 'ed25519'],
  rsa2048: ['-newkey', 'rsa:2048'],
  // an RSASSA-PSS key, and an RSA key whose request is signed with PSS
  rsapss: ['-newkey', 'rsa-pss', '-pkeyopt', 'rsa_keygen_bits:2048'],
  rsa2048pss: ['-newkey', 'rsa:2048', '-sigopt', 'rsa_padding_mode:pss'],
  rsa1024: ['-newkey', 'rsa:1024'],
  secp256k1: ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:secp256k1'],
}

/** `openssl req -new` → base64 DER in `<file>.b64` (RFC 7030 §4.2.1), the key in `<file>.key` */
function csr(file: string, cn: string, key: keyof typeof KEYS): string {
  const base = join(dir, file)
  openssl(['req', '-new', ...KEYS[key], '-nodes', '-keyout', `${base}.key`, '-subj', `/CN=${cn}`, '-outform', 'DER', '-out', `${base}.der`])
  writeFileSync(`${base}.b64`, readFileSync(`${base}.der`).toString('base64'))
  return base
}

/** POST a CSR with curl; the body goes to `<base>.p7` */
async function enroll(base: string, op: 'simpleenroll' | 'simplereenroll', auth: string[], closed = false): Promise<{ status: number; body: string; type: string }> {
  rmSync(`${base}.p7`, { force: true })
  const r = await run('curl', ['-sS', '--cacert', caFile, '-o', `${base}.p7`, '-w', '%{http_code} %{content_type}', '--data-binary', `@${base}.b64`,
    '-H', 'Content-Type: application/pkcs10', ...auth, `${est}/${op}`])
  // curl 35/52/56: the TLS layer closed the connection (a refused client certificate)
  if (closed && [35, 52, 56].includes(r.code)) return { status: 0, body: r.stderr, type: '' }
  assert.equal(r.code, 0, r.stderr)
  const [status, ...type] = r.stdout.split(' ')
  return { status: Number(status), body: readFileSync(`${base}.p7`, 'utf8'), type: type.join(' ') }
}

/** `openssl pkcs7 -print_certs` of a base64 certs-only answer → PEM in `<base>.crt` */
function certsOf(base: string): string {
  writeFileSync(`${base}.p7.der`, Buffer.from(readFileSync(`${base}.p7`, 'utf8'), 'base64'))
  const pem = openssl(['pkcs7', '-inform', 'DER', '-in', `${base}.p7.der`, '-print_certs'])
  writeFileSync(`${base}.crt`, pem)
  return pem
}

const verify = (file: string) => openssl(['verify', '-CAfile', join(h.dataDir, 'ca', 'ca.crt'), file]).trim()

async function mqtts(base: string, url = `mqtts://127.0.0.1:${h.ports.mqtts}`): Promise<MqttClient> {
  const c = await connect(url, {
    ca: readFileSync(caFile), key: readFileSync(`${base}.key`), cert: readFileSync(`${base}.crt`), rejectUnauthorized: true, clientId: `c-${Math.random().toString(36).slice(2)}`,
  })
  open.push(c)
  return c
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'herald-est-'))
  const acl = join(dir, 'acl')
  writeFileSync(acl, 'pattern readwrite users/%u/#\n')
  h = await startTestHerald({ overrides: { 'ca.enabled': true, 'auth.aclFile': acl, 'ca.revocationPollMs': 200 } })
  h.sessions.on('connect', (s) => { logins.push(s) })
  ca = (await HeraldCA.open(h.dataDir))!
  caFile = join(h.dataDir, 'tls', 'dev-cert.pem')
  est = `https://127.0.0.1:${h.ports.https}/.well-known/est`
})
after(async () => {
  for (const c of open) c.end(true)
  await h?.close()
  rmSync(dir, { recursive: true, force: true })
})

describe('EST cacerts and csrattrs (RFC 7030 §4.1, §4.5)', () => {
  test('cacerts is a base64 PKCS#7 certs-only holding the root that HERALD_CA_ENABLED created', async () => {
    const r = await run('curl', ['-sS', '--cacert', caFile, '-D', '-', `${est}/cacerts`])
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /^HTTP\/1\.1 200/)
    assert.match(r.stdout, /content-type: application\/pkcs7-mime; smime-type=certs-only/i)
    assert.match(r.stdout, /content-transfer-encoding: base64/i)
    const body = r.stdout.split('\r\n\r\n')[1]
    writeFileSync(join(dir, 'cacerts.p7'), body)
    const pem = certsOf(join(dir, 'cacerts'))
    assert.match(pem, /subject=CN = Herald CA/)
    assert.equal(openssl(['x509', '-noout', '-fingerprint', '-sha256'], pem), openssl(['x509', '-noout', '-fingerprint', '-sha256'], ca.certPem))
  })

  test('csrattrs asks for ecdsa-with-SHA384 over secp384r1', async () => {
    const r = await run('curl', ['-sS', '--cacert', caFile, `${est}/csrattrs`])
    const text = execFileSync('openssl', ['asn1parse', '-inform', 'DER'], { input: Buffer.from(r.stdout, 'base64') }).toString()
    assert.match(text, /ecdsa-with-SHA384/)
    assert.match(text, /id-ecPublicKey/)
    assert.match(text, /secp384r1/)
  })

  test('EST is not served on the plain HTTP port (RFC 7030 §3.2.3)', async () => {
    const r = await fetch(`${h.httpUrl}/.well-known/est/cacerts`)
    assert.equal(r.status, 403)
    assert.match(await r.text(), /HTTPS port only/)
  })
})

describe('EST simpleenroll (RFC 7030 §4.2.1, issue 13 §2)', () => {
  for (const key of ['p256', 'p384', 'ed25519', 'rsa2048', 'rsapss', 'rsa2048pss'] as const) {
    test(`a one-time code enrolls a ${key} request; openssl verifies the certificate; the code works once`, async () => {
      const name = `u-${key}`
      const code = await ca.code(name, 600)
      const base = csr(name, name, key)
      const r = await enroll(base, 'simpleenroll', ['-u', `${name}:${code}`])
      assert.equal(r.status, 200, r.body)
      assert.equal(r.type, 'application/pkcs7-mime; smime-type=certs-only')
      assert.match(certsOf(base), new RegExp(`subject=CN = ${name}`))
      assert.equal(verify(`${base}.crt`), `${base}.crt: OK`)
      assert.match(openssl(['x509', '-in', `${base}.crt`, '-noout', '-ext', 'subjectAltName,extendedKeyUsage']), new RegExp(`TLS Web Client Authentication[\\s\\S]*DNS:${name}\n`))
      // the certificate carries the request's key
      assert.equal(openssl(['x509', '-in', `${base}.crt`, '-noout', '-pubkey']), openssl(['pkey', '-in', `${base}.key`, '-pubout']))
      const again = await enroll(base, 'simpleenroll', ['-u', `${name}:${code}`])
      assert.equal(again.status, 401)
    })
  }

  test('the RSASSA-PSS key\'s certificate logs in over MQTTS as its CN', async () => {
    const c = await mqtts(join(dir, 'u-rsapss'))
    const login = await eventually(() => logins.find((l) => l.clientId === c.options.clientId), 'the login')
    assert.deepEqual([login!.principal.kind, login!.principal.username], ['certificate', 'u-rsapss'])
  })

  test('RSA 1024 and secp256k1 are refused with 400, and the code is not used up', async () => {
    const code = await ca.code('weak', 600)
    for (const key of ['rsa1024', 'secp256k1'] as const) {
      const r = await enroll(csr(`weak-${key}`, 'weak', key), 'simpleenroll', ['-u', `weak:${code}`])
      assert.equal(r.status, 400)
      assert.match(r.body, key === 'rsa1024' ? /RSA key of 1024 bits refused/ : /unsupported elliptic curve/)
    }
    assert.equal((await enroll(csr('weak-ok', 'weak', 'p256'), 'simpleenroll', ['-u', `weak:${code}`])).status, 200)
  })

  test("a CSR whose CN is not the authenticated name is refused (403); no credentials: 401 with a Basic challenge", async () => {
    const code = await ca.code('mallory', 600)
    const r = await enroll(csr('mallory', 'alice', 'p256'), 'simpleenroll', ['-u', `mallory:${code}`])
    assert.equal(r.status, 403)
    assert.match(r.body, /must be the authenticated name/)
    const none = await run('curl', ['-sS', '--cacert', caFile, '-D', '-', '-o', '/dev/null', '--data-binary', `@${join(dir, 'mallory.b64')}`,
      '-H', 'Content-Type: application/pkcs10', `${est}/simpleenroll`])
    assert.match(none.stdout, /^HTTP\/1\.1 401/)
    assert.match(none.stdout, /www-authenticate: Basic realm="Herald EST"/i)
  })

  test('a CSR with two CNs is refused (400): which one would be the name is ambiguous', async () => {
    const code = await ca.code('twice', 600)
    const r = await enroll(csr('twice', 'twice/CN=other', 'p256'), 'simpleenroll', ['-u', `twice:${code}`])
    assert.equal(r.status, 400)
    assert.match(r.body, /exactly one CN/)
  })

  test('a Herald account enrolls with its password; a wrong password is refused', async () => {
    await h.users.add('carol', 'carol-pw', false)
    const base = csr('carol', 'carol', 'p384')
    assert.equal((await enroll(base, 'simpleenroll', ['-u', 'carol:wrong'])).status, 401)
    assert.equal((await enroll(base, 'simpleenroll', ['-u', 'carol:carol-pw'])).status, 200)
    assert.equal(verify((certsOf(base), `${base}.crt`)), `${base}.crt: OK`)
  })

  test('a body that is not a PKCS#10 request is a 400', async () => {
    writeFileSync(join(dir, 'junk.b64'), Buffer.from('not a csr').toString('base64'))
    const r = await enroll(join(dir, 'junk'), 'simpleenroll', ['-u', 'carol:carol-pw'])
    assert.equal(r.status, 400)
    assert.match(r.body, /not a PKCS#10/)
  })
})

describe('the issued certificate on MQTTS (issue 13 §1, §3 and the bar)', () => {
  let base: string

  before(async () => {
    const code = await ca.code('alice', 600)
    base = csr('alice', 'alice', 'p256')
    assert.equal((await enroll(base, 'simpleenroll', ['-u', `alice:${code}`])).status, 200)
    certsOf(base)
  })

  test('connects without a password and is authorized as its CN (Herald\'s certificate principal)', async () => {
    const c = await mqtts(base)
    const login = (await eventually(() => logins.find((s) => s.clientId === c.options.clientId), 'the login'))!
    assert.equal(login.listener, 'mqtts')
    assert.equal(login.principal.kind, 'certificate')
    assert.equal(login.principal.username, 'alice')
    assert.deepEqual((await c.subscribeAsync('users/alice/inbox', { qos: 1 })).map((g) => g.qos), [1])
    await assert.rejects(c.subscribeAsync('users/bob/inbox', { qos: 1 }), /Unspecified error/)
    const got = collect(c, 1)
    await c.publishAsync('users/alice/inbox', 'hi', { qos: 1 })
    assert.equal((await got)[0].payload.toString(), 'hi')
  })

  test('connects over secure WebSocket without a password too, as its CN', async () => {
    const c = await mqtts(base, `wss://127.0.0.1:${h.ports.https}/mqtt`)
    const login = (await eventually(() => logins.find((s) => s.clientId === c.options.clientId), 'the login'))!
    assert.deepEqual([login.listener, login.principal.kind, login.principal.username], ['wss', 'certificate', 'alice'])
    assert.deepEqual((await c.subscribeAsync('users/alice/inbox', { qos: 1 })).map((g) => g.qos), [1])
    await assert.rejects(c.subscribeAsync('users/bob/inbox', { qos: 1 }), /Unspecified error/)
  })

  test('simplereenroll with the current certificate renews it; another CN or no certificate is refused', async () => {
    const renew = csr('alice-renew', 'alice', 'p384')
    const cert = ['--cert', `${base}.crt`, '--key', `${base}.key`]
    const r = await enroll(renew, 'simplereenroll', cert)
    assert.equal(r.status, 200, r.body)
    assert.match(certsOf(renew), /subject=CN = alice/)
    assert.equal(verify(`${renew}.crt`), `${renew}.crt: OK`)
    assert.equal((await enroll(csr('alice-as-bob', 'bob', 'p256'), 'simplereenroll', cert)).status, 403)
    assert.equal((await enroll(renew, 'simplereenroll', [])).status, 403)
  })

  test('a certificate from another CA is refused', async () => {
    const other = join(dir, 'other')
    openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${other}-ca.key`, '-out', `${other}-ca.crt`, '-subj', '/CN=Herald CA', '-days', '2'])
    openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${other}.key`, '-out', `${other}.csr`, '-subj', '/CN=alice'])
    openssl(['x509', '-req', '-in', `${other}.csr`, '-CA', `${other}-ca.crt`, '-CAkey', `${other}-ca.key`, '-CAcreateserial', '-out', `${other}.crt`, '-days', '2'])
    await assert.rejects(mqtts(other))
    const r = await run('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(h.ports.mqtts), '--cafile', caFile, '--cert', `${other}.crt`, '--key', `${other}.key`, '-t', 'users/alice/x', '-m', 'x', '-q', '1'])
    assert.notEqual(r.code, 0)
  })

  test('an expired certificate of Herald\'s CA is refused', async () => {
    const old = await ca.issue('olive', 0)
    const o = join(dir, 'olive')
    writeFileSync(`${o}.key`, old.keyPem)
    writeFileSync(`${o}.crt`, old.certPem)
    await eventually(() => old.cert.notAfter.getTime() < Date.now() - 1000, 'the certificate to expire')
    await assert.rejects(mqtts(o))
    assert.match(openssl(['verify', '-CAfile', join(h.dataDir, 'ca', 'ca.crt'), `${o}.crt`], undefined, true), /certificate has expired/)
  })

  test('after herald ca revoke: a new connection is refused, the open one is closed within 5 s', async () => {
    const c = await mqtts(base)
    const closed = new Promise<void>((resolve) => c.once('close', () => resolve()))
    const before = Date.now()
    const revoked = await ca.revoke('alice')
    assert.equal(revoked.length, 2) // the enrolled and the renewed one
    await closed
    assert.ok(Date.now() - before < 5000)
    await assert.rejects(mqtts(base))
    const r = await run('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(h.ports.mqtts), '--cafile', caFile, '--cert', `${base}.crt`, '--key', `${base}.key`, '-t', 'users/alice/x', '-m', 'x', '-q', '1'])
    assert.notEqual(r.code, 0)
    // and it can no longer re-enroll
    assert.equal((await enroll(csr('alice-late', 'alice', 'p256'), 'simplereenroll', ['--cert', `${base}.crt`, '--key', `${base}.key`], true)).status, 0)
  })

  test('mosquitto_pub with a valid issued certificate publishes as its CN', async () => {
    const code = await ca.code('dora', 600)
    const d = csr('dora', 'dora', 'ed25519')
    assert.equal((await enroll(d, 'simpleenroll', ['-u', `dora:${code}`])).status, 200)
    certsOf(d)
    const ok = await run('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(h.ports.mqtts), '--cafile', caFile, '--cert', `${d}.crt`, '--key', `${d}.key`, '-t', 'users/dora/x', '-m', 'x', '-q', '1', '-i', 'dora-pub'])
    assert.equal(ok.code, 0, ok.stderr)
    assert.ok(logins.some((s) => s.clientId === 'dora-pub' && s.principal.username === 'dora' && s.principal.kind === 'certificate'))
  })
})
