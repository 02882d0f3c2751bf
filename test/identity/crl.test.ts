// Issue 13 §3, HERALD_TLS_CLIENT_CRL: the other CA (HERALD_TLS_CLIENT_CA) is a throw-away `openssl ca`; its CRL
// (`openssl ca -gencrl`) is applied at the handshake on MQTTS, secure WebSocket and HTTPS; a revocation written to the
// file later closes the open connection and refuses the next one; its other certificates still log in. Also with
// Herald's CA enabled next to it, for CMS signers, and the configuration errors.
import assert from 'node:assert/strict'
import { execFile, execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import type { MqttClient } from 'mqtt'
import { loadConfig, coreSettings } from '../../src/config.ts'
import { signatureTrust, verifySigned } from '../../src/core/identity/cms.ts'
import { startHerald } from '../../src/server.ts'
import { connect, eventually, startTestHerald, type TestHerald } from '../helpers.ts'

let dir: string
const open: MqttClient[] = []
const running: TestHerald[] = []
const sh = (cmd: string) => execFileSync('sh', ['-c', cmd], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] }).toString()

/** a certificate of the openssl CA (`openssl ca`, so that it is in the CA's database) */
function issue(name: string): { key: string; cert: string } {
  sh(`openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ${name}.key -out ${name}.csr -subj /CN=${name}`)
  sh(`openssl ca -batch -config ca.cnf -in ${name}.csr -out ${name}.crt -days 2 -notext -extensions client`)
  return { key: join(dir, `${name}.key`), cert: join(dir, `${name}.crt`) }
}
const gencrl = () => sh('openssl ca -batch -config ca.cnf -gencrl -out crl.pem')

let pat: { key: string; cert: string }, quinn: { key: string; cert: string }

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'herald-crl-'))
  writeFileSync(join(dir, 'ca.cnf'), `[ ca ]
default_ca = other
[ other ]
dir = ${dir}
database = $dir/index.txt
new_certs_dir = $dir
certificate = $dir/ca.crt
private_key = $dir/ca.key
serial = $dir/serial
crlnumber = $dir/crlnumber
default_md = sha256
default_crl_days = 7
policy = any
[ any ]
commonName = supplied
[ client ]
basicConstraints = CA:FALSE
extendedKeyUsage = clientAuth
`)
  sh('touch index.txt && echo 1000 > serial && echo 01 > crlnumber')
  sh('openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.crt -subj /CN=Other-CA -days 2 -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign')
  pat = issue('pat')
  quinn = issue('quinn')
  gencrl()
})
after(async () => {
  for (const c of open) c.end(true)
  for (const h of running) await h.close()
  rmSync(dir, { recursive: true, force: true })
})

async function herald(overrides: Record<string, unknown> = {}): Promise<TestHerald> {
  const h = await startTestHerald({ overrides: {
    'tls.clientCa': join(dir, 'ca.crt'), 'tls.clientCrl': join(dir, 'crl.pem'), 'tls.clientAuth': 'optional', 'ca.revocationPollMs': 200, ...overrides,
  } })
  running.push(h)
  return h
}

async function mqtt(url: string, h: TestHerald, o: { key: string; cert: string }): Promise<MqttClient> {
  const c = await connect(url, { ca: readFileSync(join(h.dataDir, 'tls', 'dev-cert.pem')), rejectUnauthorized: true, key: readFileSync(o.key), cert: readFileSync(o.cert) })
  open.push(c)
  return c
}
const mqtts = (h: TestHerald, o: { key: string; cert: string }) => mqtt(`mqtts://127.0.0.1:${h.ports.mqtts}`, h, o)
const wss = (h: TestHerald, o: { key: string; cert: string }) => mqtt(`wss://127.0.0.1:${h.ports.https}/mqtt`, h, o)

/** curl's exit code for GET /healthz over HTTPS with a client certificate (35/52/56: the TLS connection was closed) */
function https(h: TestHerald, o: { key: string; cert: string }): Promise<number> {
  return new Promise((resolve) => execFile('curl', ['-sS', '-o', '/dev/null', '--cacert', join(h.dataDir, 'tls', 'dev-cert.pem'), '--cert', o.cert, '--key', o.key,
    `https://127.0.0.1:${h.ports.https}/healthz`], { timeout: 20_000 }, (err) => resolve(err ? Number((err as { code?: number }).code ?? 1) : 0)))
}

describe('HERALD_TLS_CLIENT_CRL (issue 13 §3)', () => {
  test('a revocation written to the file later: the open connection is closed, the certificate refused on MQTTS, WSS and HTTPS; others still log in', async () => {
    const h = await herald()
    const c = await mqtts(h, pat)
    assert.ok(c.connected)
    assert.equal(await https(h, pat), 0)
    const closed = new Promise<void>((r) => c.once('close', () => r()))
    let gone = false
    void closed.then(() => { gone = true })
    sh('openssl ca -batch -config ca.cnf -revoke pat.crt')
    gencrl()
    assert.match(sh('openssl crl -in crl.pem -noout -text'), /Serial Number: 1000/)
    await eventually(() => gone, 'the open connection closed', 5_000)
    await assert.rejects(mqtts(h, pat))
    await assert.rejects(wss(h, pat))
    assert.notEqual(await https(h, pat), 0)
    assert.ok((await mqtts(h, quinn)).connected)
    assert.ok((await wss(h, quinn)).connected)
    assert.equal(await https(h, quinn), 0)
  })

  test("next to Herald's CA: the foreign revoked certificate is refused at connect, and as a CMS signer", async () => {
    const h = await herald({ 'ca.enabled': true })
    await assert.rejects(mqtts(h, pat))
    assert.ok((await mqtts(h, quinn)).connected)
    const trust = signatureTrust(h.config)
    const signed = (who: string) => execFileSync('openssl', ['cms', '-sign', '-signer', `${who}.crt`, '-inkey', `${who}.key`, '-outform', 'DER', '-nodetach', '-binary'],
      { cwd: dir, input: 'hello' })
    assert.deepEqual(verifySigned(signed('quinn'), { expectedName: 'quinn', ...trust }).ok, true)
    const r = verifySigned(signed('pat'), { expectedName: 'pat', ...trust })
    assert.equal(r.ok, false)
    assert.match((r as { reason: string }).reason, /certificate 1000 is revoked/)
  })

  test('a CRL no configured CA signed, a file without a CRL, or no HERALD_TLS_CLIENT_AUTH stop the start with a message', async () => {
    sh('openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout stranger.key -out stranger.crt -subj /CN=Other-CA -days 2')
    sh('openssl crl -in crl.pem -out crl.der -outform DER')
    // the same issuer name, signed by another key: the signature decides
    writeFileSync(join(dir, 'forged.cnf'), readFileSync(join(dir, 'ca.cnf'), 'utf8').replace('$dir/ca.crt', '$dir/stranger.crt').replace('$dir/ca.key', '$dir/stranger.key'))
    sh('openssl ca -batch -config forged.cnf -gencrl -out forged.pem')
    writeFileSync(join(dir, 'empty.pem'), readFileSync(join(dir, 'ca.crt')))
    const start = (o: Record<string, unknown>) => startHerald({ dialects: [], config: loadConfig({ settings: coreSettings, env: {}, overrides: {
      dataDir: join(dir, 'data-bad'), host: '127.0.0.1', logLevel: 'silent', 'tls.clientCa': join(dir, 'ca.crt'), 'tls.clientAuth': 'optional',
      'http.port': 0, 'https.port': 0, 'mqtt.port': 0, 'mqtts.port': 0, 'metrics.port': 0, ...o,
    } }) })
    await assert.rejects(start({ 'tls.clientCrl': join(dir, 'forged.pem') }), /HERALD_TLS_CLIENT_CRL .*not signed by a CA of HERALD_TLS_CLIENT_CA/)
    await assert.rejects(start({ 'tls.clientCrl': join(dir, 'empty.pem') }), /HERALD_TLS_CLIENT_CRL .*no CRL in it/)
    await assert.rejects(start({ 'tls.clientCrl': join(dir, 'missing.pem') }), /HERALD_TLS_CLIENT_CRL .*missing\.pem/)
    await assert.rejects(start({ 'tls.clientCrl': join(dir, 'crl.pem'), 'tls.clientAuth': '' }), /set HERALD_TLS_CLIENT_AUTH=optional or required/)
  })
})
