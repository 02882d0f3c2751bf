// Issue 13 §1, §6: Herald's CA in the data directory, checked with openssl as the other side: the root, issued
// certificates (CN, SAN, clientAuth), PKCS#12, revocation and the CRL, one-time codes, `herald ca …`, `herald ca tlsa`.
import assert from 'node:assert/strict'
import { execFile, execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { HeraldCA } from '../../src/core/identity/ca.ts'
import { tlsa311 } from '../../src/core/identity/tlsa.ts'

const CLI = join(import.meta.dirname, '..', '..', 'src', 'cli.ts')
const TSX = join(import.meta.dirname, '..', '..', 'node_modules', 'tsx', 'dist', 'loader.mjs')

let dir: string
let dataDir: string
let ca: HeraldCA

const openssl = (args: string[], input?: string) => execFileSync('openssl', args, { input, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] })

function herald(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', TSX, CLI, ...args], {
      cwd: dir, timeout: 60_000, env: { ...process.env, HERALD_DATA_DIR: dataDir, HERALD_CA_SUBJECT: 'CN=Test Root,O=Herald' },
    }, (err, stdout, stderr) => resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }))
  })
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'herald-ca-'))
  dataDir = join(dir, 'data')
})
after(() => rmSync(dir, { recursive: true, force: true }))

describe('herald ca init (issue 13 §1)', () => {
  test('makes an ECDSA P-384 root with the configured subject; the key is 0600; a second init keeps it', async () => {
    const r = await herald(['ca', 'init'])
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /^created: CN=Test Root, O=Herald/)
    const text = openssl(['x509', '-in', join(dataDir, 'ca', 'ca.crt'), '-noout', '-text'])
    assert.match(text, /ASN1 OID: secp384r1/)
    assert.match(text, /Signature Algorithm: ecdsa-with-SHA384/)
    assert.match(text, /CA:TRUE/)
    assert.match(text, /Certificate Sign, CRL Sign/)
    assert.match(openssl(['x509', '-in', join(dataDir, 'ca', 'ca.crt'), '-noout', '-subject']), /CN = Test Root, O = Herald/)
    assert.equal(statSync(join(dataDir, 'ca', 'ca.key')).mode & 0o777, 0o600)
    const before = readFileSync(join(dataDir, 'ca', 'ca.crt'), 'utf8')
    const again = await herald(['ca', 'init'])
    assert.match(again.stdout, /^already there/)
    assert.equal(readFileSync(join(dataDir, 'ca', 'ca.crt'), 'utf8'), before)
    ca = (await HeraldCA.open(dataDir))!
  })
})

describe('herald ca issue / list / revoke', () => {
  test('issue writes a key, a certificate (CN and SAN = name, clientAuth) that openssl verifies, and a PKCS#12 bundle', async () => {
    const r = await herald(['ca', 'issue', 'alice', '--days', '10', '--p12-password', 'secret'])
    assert.equal(r.code, 0, r.stderr)
    const cert = join(dir, 'alice.crt')
    assert.equal(openssl(['verify', '-CAfile', join(dataDir, 'ca', 'ca.crt'), cert]).trim(), `${cert}: OK`)
    const text = openssl(['x509', '-in', cert, '-noout', '-text'])
    assert.match(text, /Subject: CN = alice/)
    assert.match(text, /DNS:alice/)
    assert.match(text, /TLS Web Client Authentication/)
    assert.match(text, /CA:FALSE/)
    const days = (new Date(/Not After : (.*)/.exec(text)![1]).getTime() - Date.now()) / 86_400_000
    assert.ok(days > 9.9 && days < 10.1, `valid for ${days} days`)
    assert.equal(statSync(join(dir, 'alice.key')).mode & 0o777, 0o600)
    // the key matches the certificate
    assert.equal(openssl(['pkey', '-in', join(dir, 'alice.key'), '-pubout']), openssl(['x509', '-in', cert, '-noout', '-pubkey']))
    const p12 = openssl(['pkcs12', '-in', join(dir, 'alice.p12'), '-passin', 'pass:secret', '-nodes'])
    assert.match(p12, /subject=CN = alice/)
    assert.match(p12, /subject=CN = Test Root, O = Herald/)
    assert.match(p12, /BEGIN PRIVATE KEY/)
    assert.throws(() => openssl(['pkcs12', '-in', join(dir, 'alice.p12'), '-passin', 'pass:wrong', '-nodes']))
  })

  test('list shows subject, serial, not-after and status; revoke by name or serial regenerates the CRL', async () => {
    await herald(['ca', 'issue', 'bob'])
    const serialOf = (name: string) => openssl(['x509', '-in', join(dir, `${name}.crt`), '-noout', '-serial']).trim().replace('serial=', '')
    const list = await herald(['ca', 'list'])
    assert.equal(list.stdout.split('\n')[0], 'subject\tserial\tnot-after\tstatus')
    assert.match(list.stdout, new RegExp(`CN=alice\\t${serialOf('alice')}\\t\\S+\\tvalid`))
    assert.match(list.stdout, new RegExp(`CN=bob\\t${serialOf('bob')}\\t\\S+\\tvalid`))

    const byName = await herald(['ca', 'revoke', 'alice'])
    assert.equal(byName.code, 0, byName.stderr)
    const bySerial = await herald(['ca', 'revoke', serialOf('bob').toLowerCase()])
    assert.equal(bySerial.code, 0, bySerial.stderr)
    assert.match((await herald(['ca', 'list'])).stdout, /CN=alice\t\S+\t\S+\trevoked[\s\S]*CN=bob\t\S+\t\S+\trevoked/)
    assert.equal((await herald(['ca', 'revoke', 'nobody'])).code, 1)

    const crl = join(dataDir, 'ca', 'crl.pem')
    const crlText = openssl(['crl', '-in', crl, '-noout', '-text', '-CAfile', join(dataDir, 'ca', 'ca.crt')])
    assert.match(crlText, new RegExp(`Serial Number: ${serialOf('alice')}`))
    assert.match(crlText, new RegExp(`Serial Number: ${serialOf('bob')}`))
    // openssl's own CRL check refuses the revoked certificate
    const chain = join(dir, 'chain.pem')
    writeFileSync(chain, readFileSync(join(dataDir, 'ca', 'ca.crt'), 'utf8') + readFileSync(crl, 'utf8'))
    assert.throws(() => openssl(['verify', '-crl_check', '-CAfile', chain, join(dir, 'alice.crt')]), /certificate revoked/)
  })

  test('a name that is not a plain account, mail or host name is refused', async () => {
    const r = await herald(['ca', 'issue', 'a b/c'])
    assert.notEqual(r.code, 0)
    assert.match(r.stderr, /invalid certificate name/)
  })
})

describe('one-time enrollment codes (issue 13 §2)', () => {
  test('herald ca code prints the code alone on its last line; it works once, for that name only; stored hashed', async () => {
    const r = await herald(['ca', 'code', 'carol'])
    assert.equal(r.code, 0, r.stderr)
    const code = r.stdout.trimEnd().split('\n').at(-1)!
    assert.match(code, /^[A-Za-z0-9_-]{20,}$/)
    assert.ok(!readFileSync(join(dataDir, 'ca', 'codes.json'), 'utf8').includes(code), 'the code is stored hashed')
    assert.equal(statSync(join(dataDir, 'ca', 'codes.json')).mode & 0o777, 0o600)
    assert.equal(await ca.consumeCode('dave', code), false)
    assert.equal(await ca.consumeCode('carol', code + 'x'), false)
    assert.equal(await ca.consumeCode('carol', code), true)
    assert.equal(await ca.consumeCode('carol', code), false)
  })

  test('an expired code is refused', async () => {
    const code = await ca.code('erin', 0)
    assert.equal(await ca.consumeCode('erin', code), false)
  })
})

describe('herald ca tlsa (issue 13 §6)', () => {
  test('prints 3 1 1 with the SHA-256 of the development certificate\'s SubjectPublicKeyInfo, as openssl computes it', async () => {
    const r = await herald(['ca', 'tlsa'])
    assert.equal(r.code, 0, r.stderr)
    const pem = readFileSync(join(dataDir, 'tls', 'dev-cert.pem'), 'utf8')
    const spki = execFileSync('openssl', ['pkey', '-pubin', '-outform', 'DER'], { input: openssl(['x509', '-noout', '-pubkey'], pem) })
    const digest = execFileSync('openssl', ['dgst', '-sha256', '-r'], { input: spki }).toString().split(' ')[0]
    const lines = r.stdout.trimEnd().split('\n')
    assert.equal(lines.at(-1), `3 1 1 ${digest}`)
    assert.ok(lines.includes(`_8883._tcp.localhost. IN TLSA 3 1 1 ${digest}`), r.stdout)
    assert.equal(tlsa311(pem), `3 1 1 ${digest}`)
  })

  test('with HERALD_TLS_CERT, that certificate', async () => {
    const key = join(dir, 'srv.key'), cert = join(dir, 'srv.crt')
    openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert, '-subj', '/CN=herald.example', '-days', '2'])
    const r = await herald(['ca', 'tlsa', '--tls-cert', cert, '--tls-key', key])
    assert.equal(r.code, 0, r.stderr)
    assert.equal(r.stdout.trimEnd().split('\n').at(-1), tlsa311(readFileSync(cert, 'utf8')))
    assert.match(r.stdout, /_8443\._tcp\.herald\.example\. IN TLSA 3 1 1 [0-9a-f]{64}/)
    assert.notEqual(tlsa311(readFileSync(cert, 'utf8')), tlsa311(readFileSync(join(dataDir, 'tls', 'dev-cert.pem'), 'utf8')))
  })
})
