// Issue 13 §2, §3, §5 with HERALD_TLS_CLIENT_IDENTITY=san-email: EST re-enrollment and the CMS signer check read the
// certificate's identity as the TLS login does (peer.ts certificateName), not its CN. A certificate of Herald's CA
// for an e-mail address renews; one whose name is not an e-mail address (no e-mail SAN) is no identity at the TLS
// login, and may not renew either. An openssl CA's certificate whose CN differs from its e-mail SAN signs as the SAN.
import assert from 'node:assert/strict'
import { execFile, execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import type { MqttClient } from 'mqtt'
import { HeraldCA } from '../../src/core/identity/ca.ts'
import { signatureTrust, verifySigned } from '../../src/core/identity/cms.ts'
import type { SessionInfo } from '../../src/core/sessions/types.ts'
import { connect, eventually, startTestHerald, type TestHerald } from '../helpers.ts'

let dir: string
let h: TestHerald
let ca: HeraldCA
const logins: SessionInfo[] = []
const open: MqttClient[] = []
const sh = (cmd: string) => execFileSync('sh', ['-c', cmd], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] }).toString()

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'herald-identity-field-'))
  sh('openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout other.key -out other.crt -subj /CN=Other-CA -days 2 -addext basicConstraints=critical,CA:TRUE')
  writeFileSync(join(dir, 'smith.ext'), 'subjectAltName=email:alice@example.com\nextendedKeyUsage=clientAuth\nkeyUsage=digitalSignature\n')
  sh("openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout smith.key -out smith.csr -subj '/CN=Alice Smith'")
  sh('openssl x509 -req -in smith.csr -CA other.crt -CAkey other.key -CAcreateserial -out smith.crt -days 2 -extfile smith.ext')
  h = await startTestHerald({ overrides: {
    'ca.enabled': true, 'tls.clientAuth': 'optional', 'tls.clientIdentity': 'san-email', 'tls.clientCa': join(dir, 'other.crt'),
  } })
  h.sessions.on('connect', (s) => { logins.push(s) })
  ca = (await HeraldCA.open(h.dataDir))!
})
after(async () => {
  for (const c of open) c.end(true)
  await h?.close()
  rmSync(dir, { recursive: true, force: true })
})

async function issued(name: string): Promise<string> {
  const i = await ca.issue(name, 1)
  const base = join(dir, name)
  writeFileSync(`${base}.key`, i.keyPem)
  writeFileSync(`${base}.crt`, i.certPem)
  return base
}

/** POST an openssl request for `cn` to simplereenroll with the client certificate `base`: the status and body */
function reenroll(base: string, cn: string): Promise<{ status: number; body: string }> {
  const req = join(dir, `renew-${Math.random().toString(36).slice(2)}`)
  sh(`openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ${req}.key -subj '/CN=${cn}' -outform DER -out ${req}.der`)
  writeFileSync(`${req}.b64`, readFileSync(`${req}.der`).toString('base64'))
  return new Promise((resolve, reject) => execFile('curl', ['-sS', '--cacert', join(h.dataDir, 'tls', 'dev-cert.pem'), '--cert', `${base}.crt`, '--key', `${base}.key`,
    '-H', 'Content-Type: application/pkcs10', '--data-binary', `@${req}.b64`, '-o', `${req}.out`, '-w', '%{http_code}',
    `https://127.0.0.1:${h.ports.https}/.well-known/est/simplereenroll`], { timeout: 20_000 },
  (err, stdout) => (err ? reject(err) : resolve({ status: Number(stdout), body: readFileSync(`${req}.out`, 'utf8') }))))
}

async function mqttsLogin(base: string): Promise<string> {
  const c = await connect(`mqtts://127.0.0.1:${h.ports.mqtts}`, {
    ca: readFileSync(join(h.dataDir, 'tls', 'dev-cert.pem')), rejectUnauthorized: true, clientId: `c-${Math.random().toString(36).slice(2)}`,
    key: readFileSync(`${base}.key`), cert: readFileSync(`${base}.crt`),
  })
  open.push(c)
  return (await eventually(() => logins.find((s) => s.clientId === c.options.clientId), 'the login'))!.principal.username
}

describe('HERALD_TLS_CLIENT_IDENTITY=san-email for EST re-enrollment (RFC 7030 §4.2.2)', () => {
  test('a certificate for an e-mail address logs in as it, and renews for it; not for another name', async () => {
    const bob = await issued('bob@example.com')
    assert.equal(await mqttsLogin(bob), 'bob@example.com')
    const r = await reenroll(bob, 'bob@example.com')
    assert.equal(r.status, 200, r.body)
    const other = await reenroll(bob, 'carol@example.com')
    assert.equal(other.status, 403)
    assert.match(other.body, /must be the current certificate's identity \(san-email bob@example\.com\)/)
  })

  test('a certificate without an e-mail SAN is no identity at the TLS login, and may not renew even for its own CN', async () => {
    const plain = await issued('plain')
    await assert.rejects(mqttsLogin(plain), /Not authorized/i)
    const r = await reenroll(plain, 'plain')
    assert.equal(r.status, 403)
    assert.match(r.body, /has no san-email name/)
  })
})

describe('HERALD_TLS_CLIENT_IDENTITY=san-email for CMS signers (issue 13 §5)', () => {
  test('the signer is its e-mail SAN, not its CN, as at the TLS login', async () => {
    assert.equal(await mqttsLogin(join(dir, 'smith')), 'alice@example.com')
    const trust = signatureTrust(h.config)
    assert.equal(trust.identityField, 'san-email')
    const signed = execFileSync('openssl', ['cms', '-sign', '-signer', 'smith.crt', '-inkey', 'smith.key', '-outform', 'DER', '-nodetach', '-binary'], { cwd: dir, input: 'hello' })
    assert.deepEqual(verifySigned(signed, { expectedName: 'alice@example.com', ...trust }).ok, true)
    const byCn = verifySigned(signed, { expectedName: 'Alice Smith', ...trust })
    assert.equal(byCn.ok, false)
    assert.match((byCn as { reason: string }).reason, /the signer is "alice@example.com", not "Alice Smith" \(san-email\)/)
    // the CN, when the deployment says so
    assert.equal(verifySigned(signed, { expectedName: 'Alice Smith', ...trust, identityField: 'cn' }).ok, true)
  })
})
