// Issue 13 §5, specs/synrc.md §8.3: CMS SignedData checks with openssl as the signer. The right certificate in
// every form `openssl cms -sign` writes is accepted; another user's, a foreign CA's, a revoked, an expired one, a
// changed content, two signers, detached without content, EnvelopedData and garbage are refused with a reason.
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { sign, X509Certificate } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import * as asn1js from 'asn1js'
import * as pkijs from 'pkijs'
import type { Config } from '../../src/config.ts'
import { HeraldCA } from '../../src/core/identity/ca.ts'
import { cmsKindOf, signatureTrust, verifySigned, type VerifyOptions } from '../../src/core/identity/cms.ts'
import { x509 } from '../../src/core/identity/x509.ts'

let dir: string
let ca: HeraldCA
let opts: Omit<VerifyOptions, 'expectedName'>

const openssl = (args: string[]): Buffer => execFileSync('openssl', args, { cwd: dir, stdio: ['pipe', 'pipe', 'pipe'] })
const sign$ = (who: string, extra: string[] = ['-outform', 'DER', '-nodetach'], file = 'msg'): Buffer =>
  openssl(['cms', '-sign', '-signer', `${who}.crt`, '-inkey', `${who}.key`, '-in', file, ...extra])
const check = (payload: Uint8Array | string, expectedName: string, o = opts) => verifySigned(payload, { expectedName, ...o })
const refused = (payload: Uint8Array | string, name: string, why: RegExp, o = opts) => {
  const r = check(payload, name, o)
  assert.equal(r.ok, false, 'expected a refusal')
  assert.match((r as { reason: string }).reason, why)
}

async function issue(name: string, days = 30): Promise<void> {
  const c = await ca.issue(name, days)
  writeFileSync(join(dir, `${name}.crt`), c.certPem)
  writeFileSync(join(dir, `${name}.key`), c.keyPem)
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'herald-cms-'))
  ca = (await HeraldCA.init(join(dir, 'data'), { subject: 'CN=CMS Test Root', days: 60 })).ca
  await issue('alice')
  await issue('bob')
  writeFileSync(join(dir, 'msg'), 'Hello, Bob\n')
  // a foreign CA with its own "alice"
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'foreign.key', '-out', 'foreign.crt', '-subj', '/CN=Foreign CA', '-days', '5',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign'])
  openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'falice.key', '-out', 'falice.csr', '-subj', '/CN=alice'])
  openssl(['x509', '-req', '-in', 'falice.csr', '-CA', 'foreign.crt', '-CAkey', 'foreign.key', '-CAcreateserial', '-out', 'falice.crt', '-days', '5'])
  opts = { trustedCa: ca.certPem, isRevoked: signatureTrust(config()).isRevoked }
})
after(() => rmSync(dir, { recursive: true, force: true }))

/** the settings signatureTrust reads */
const config = (o: Record<string, unknown> = {}): Config => ({ 'ca.enabled': true, dataDir: join(dir, 'data'), 'tls.clientCa': '', ...o }) as Config

describe('verifySigned: the right signer (issue 13 §5)', () => {
  const forms: [string, string[]][] = [
    ['DER, attached (-outform DER -nodetach)', ['-outform', 'DER', '-nodetach']],
    ['S/MIME application/pkcs7-mime (-nodetach)', ['-nodetach']],
    ['S/MIME multipart/signed (the default, detached)', []],
    ['S/MIME streamed BER (-nodetach -stream)', ['-nodetach', '-stream']],
    ['PEM (-outform PEM -nodetach)', ['-outform', 'PEM', '-nodetach']],
    ['DER without signed attributes (-noattr)', ['-outform', 'DER', '-nodetach', '-noattr']],
    ['DER with SHA-384 (-md sha384)', ['-outform', 'DER', '-nodetach', '-md', 'sha384']],
    ['DER with a subject key identifier (-keyid)', ['-outform', 'DER', '-nodetach', '-keyid']],
    ['DER, binary content as is (-binary)', ['-outform', 'DER', '-nodetach', '-binary']],
  ]
  for (const [what, extra] of forms) {
    test(`${what}: accepted, signer alice, the content back`, () => {
      const r = check(sign$('alice', extra), 'alice')
      // openssl signs text in S/MIME canonical form (CRLF) unless -binary
      const content = extra.includes('-binary') ? 'Hello, Bob\n' : 'Hello, Bob\r\n'
      assert.deepEqual(r.ok && [r.signerName, Buffer.from(r.content).toString()], ['alice', content])
    })
  }

  test('S/MIME with -text (§8.3): the signed content is the text/plain entity, CRLF', () => {
    const r = check(sign$('alice', ['-text']), 'alice')
    assert.deepEqual(r.ok && Buffer.from(r.content).toString(), 'Content-Type: text/plain\r\n\r\nHello, Bob\r\n')
  })

  test('the S/MIME text given as a string, as bytes, or with CRLF line ends: the same answer', () => {
    const smime = sign$('alice', ['-nodetach']).toString('latin1')
    assert.equal(check(smime, 'alice').ok, true)
    assert.equal(check(smime.replace(/\r?\n/g, '\r\n'), 'alice').ok, true)
  })

  test('an RSA 2048 key certified by Herald (an EST CSR): accepted', async () => {
    openssl(['req', '-new', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'rsa.key', '-out', 'rsa.csr', '-subj', '/CN=rita', '-outform', 'DER'])
    const csr = new x509.Pkcs10CertificateRequest(readFileSync(join(dir, 'rsa.csr')))
    writeFileSync(join(dir, 'rsa.crt'), (await ca.sign('rita', csr.publicKey, 5)).certPem)
    const r = check(sign$('rsa'), 'rita')
    assert.deepEqual(r.ok && r.signerName, 'rita')
  })

  test('RSASSA-PSS signatures (openssl cms -keyopt rsa_padding_mode:pss), with an RSA key or an RSA-PSS key: accepted; a changed signature is not', async () => {
    const signatureOid = (der: Buffer) => new pkijs.SignedData({ schema: pkijs.ContentInfo.fromBER(new Uint8Array(der)).content }).signerInfos[0].signatureAlgorithm.algorithmId
    const pss = sign$('rsa', ['-outform', 'DER', '-nodetach', '-keyopt', 'rsa_padding_mode:pss'])
    assert.equal(signatureOid(pss), '1.2.840.113549.1.1.10')
    const r = check(pss, 'rita')
    assert.deepEqual(r.ok && r.signerName, 'rita')
    assert.deepEqual(check(sign$('rsa', ['-outform', 'DER', '-nodetach', '-md', 'sha384', '-keyopt', 'rsa_padding_mode:pss', '-keyopt', 'rsa_pss_saltlen:32']), 'rita').ok, true)
    openssl(['req', '-new', '-newkey', 'rsa-pss', '-pkeyopt', 'rsa_keygen_bits:2048', '-nodes', '-keyout', 'pss.key', '-out', 'pss.csr', '-subj', '/CN=petra', '-outform', 'DER'])
    const csr = new x509.Pkcs10CertificateRequest(readFileSync(join(dir, 'pss.csr')))
    writeFileSync(join(dir, 'pss.crt'), (await ca.sign('petra', csr.publicKey, 5)).certPem)
    // openssl labels an RSA-PSS key's CMS signature rsaEncryption unless told the padding
    const der = sign$('pss', ['-outform', 'DER', '-nodetach', '-keyopt', 'rsa_padding_mode:pss'])
    assert.equal(signatureOid(der), '1.2.840.113549.1.1.10')
    assert.deepEqual(check(der, 'petra').ok, true)
    refused(Buffer.concat([der.subarray(0, der.length - 1), Buffer.from([der.at(-1)! ^ 1])]), 'petra', /does not verify/)
  })

  test('an Ed25519 key (§8.3 names it for signatures; openssl 3.0 cannot sign CMS with it, so pkijs builds and node:crypto signs)', async () => {
    openssl(['genpkey', '-algorithm', 'ed25519', '-out', 'ed.key'])
    openssl(['req', '-new', '-key', 'ed.key', '-out', 'ed.csr', '-subj', '/CN=edna', '-outform', 'DER'])
    const csr = new x509.Pkcs10CertificateRequest(readFileSync(join(dir, 'ed.csr')))
    const cert = await ca.sign('edna', csr.publicKey, 5)
    const der = ed25519SignedData(Buffer.from('Hello, Bob\n'), Buffer.from(cert.cert.rawData), readFileSync(join(dir, 'ed.key'), 'utf8'))
    // openssl 3.0 reads it (its content) though it cannot check Ed25519 CMS signatures either
    writeFileSync(join(dir, 'ed.p7'), der)
    assert.match(openssl(['cms', '-cmsout', '-print', '-inform', 'DER', '-in', 'ed.p7']).toString(), /ED25519[\s\S]*edna/)
    const r = check(der, 'edna')
    assert.deepEqual(r.ok && r.signerName, 'edna')
    refused(Buffer.concat([der.subarray(0, der.length - 1), Buffer.from([der.at(-1)! ^ 1])]), 'edna', /does not verify/)
  })
})

describe('verifySigned: refused (issue 13 §5)', () => {
  test("another user's certificate: the signer is bob, not alice", () => {
    refused(sign$('bob'), 'alice', /the signer is "bob", not "alice"/)
  })

  test("a foreign CA's certificate with CN alice: not issued by a trusted CA; trusted once HERALD_TLS_CLIENT_CA names that CA", () => {
    const p = sign$('falice')
    refused(p, 'alice', /not issued by a trusted CA/)
    writeFileSync(join(dir, 'clients.pem'), readFileSync(join(dir, 'foreign.crt')))
    const trust = signatureTrust(config({ 'tls.clientCa': join(dir, 'clients.pem') }))
    assert.equal(trust.trustedCa.length, 2)
    assert.deepEqual(check(p, 'alice', trust).ok, true)
    // Herald's own users still verify with both anchors
    assert.deepEqual(check(sign$('alice'), 'alice', trust).ok, true)
  })

  test('expired: after the certificate\'s notAfter', () => {
    const later = new Date(Date.now() + 31 * 86_400_000)
    refused(sign$('alice'), 'alice', /signer certificate is expired/, { ...opts, now: later })
  })

  test('the content changed after signing: the digest does not match', () => {
    const der = sign$('alice')
    const i = der.indexOf('Hello')
    der[i] ^= 0x20
    refused(der, 'alice', /message digest does not match/)
    const smime = sign$('alice', []).toString('latin1').replace('Hello, Bob', 'Hello, Eve')
    refused(smime, 'alice', /message digest does not match/)
  })

  test('two signers, a detached signature without its content, EnvelopedData, garbage', () => {
    refused(sign$('alice', ['-outform', 'DER', '-nodetach', '-signer', 'bob.crt', '-inkey', 'bob.key']), 'alice', /expected one signer, found 2/)
    refused(sign$('alice', ['-outform', 'DER']), 'alice', /detached signature without its content/)
    const enveloped = openssl(['cms', '-encrypt', '-aes256', '-recip', 'bob.crt', '-keyopt', 'ecdh_kdf_md:sha256', '-in', 'msg', '-outform', 'DER'])
    refused(enveloped, 'bob', /not SignedData \(content type 1\.2\.840\.113549\.1\.7\.3\)/)
    refused(Buffer.from([0x30, 0x03, 0x02, 0x01]), 'alice', /not a CMS ContentInfo/)
    refused('Content-Type: text/plain\n\nhello\n', 'alice', /not a CMS S\/MIME entity/)
    refused(new Uint8Array(0), 'alice', /base64|ContentInfo/)
  })

  test("revoked by Herald's CA: refused, read again from the CA's index (herald ca revoke on a running server)", async () => {
    await issue('carol')
    const p = sign$('carol')
    assert.equal(check(p, 'carol').ok, true)
    await ca.revoke('carol')
    refused(p, 'carol', /is revoked/)
  })
})

test('signatureTrust: no CA configured (HERALD_CA_ENABLED off, no HERALD_TLS_CLIENT_CA) is a configuration error', () => {
  assert.throws(() => signatureTrust(config({ 'ca.enabled': false })), /HERALD_CA_ENABLED=true or HERALD_TLS_CLIENT_CA/)
  assert.throws(() => signatureTrust(config({ dataDir: join(dir, 'none') })), /no CA in/)
})

test('cmsKindOf: which Desc mimes are checked (signed) and which pass through unread (enveloped)', () => {
  const table: [string, string | undefined][] = [
    ['application/pkcs7-signature', 'signed'],
    ['application/pkcs7-mime; smime-type=signed-data', 'signed'],
    ['Application/PKCS7-MIME; name=smime.p7m; smime-type="signed-data"', 'signed'],
    ['application/x-pkcs7-signature', 'signed'],
    ['multipart/signed; protocol="application/pkcs7-signature"; micalg=sha-256; boundary=x', 'signed'],
    ['application/pkcs7-mime; smime-type=enveloped-data', 'enveloped'],
    ['application/pkcs7-mime', 'enveloped'],
    ['application/x-pkcs7-mime; smime-type=enveloped-data; name=smime.p7m', 'enveloped'],
    ['text', undefined],
    ['image/jpeg', undefined],
  ]
  for (const [mime, kind] of table) assert.equal(cmsKindOf(mime), kind, mime)
})

/** RFC 8419 §3: Ed25519 SignedData with signed attributes (sha512 digest), built with pkijs and signed by node:crypto */
function ed25519SignedData(content: Buffer, certDer: Buffer, keyPem: string): Buffer {
  const cert = pkijs.Certificate.fromBER(new Uint8Array(certDer))
  const digest = execFileSync('openssl', ['dgst', '-sha512', '-binary'], { input: content })
  const attrs = new pkijs.SignedAndUnsignedAttributes({
    type: 0,
    attributes: [
      new pkijs.Attribute({ type: '1.2.840.113549.1.9.3', values: [new asn1js.ObjectIdentifier({ value: '1.2.840.113549.1.7.1' })] }),
      new pkijs.Attribute({ type: '1.2.840.113549.1.9.4', values: [new asn1js.OctetString({ valueHex: new Uint8Array(digest) })] }),
    ],
  })
  const set = new Uint8Array(attrs.toSchema().toBER())
  set[0] = 0x31
  const sha512 = new pkijs.AlgorithmIdentifier({ algorithmId: '2.16.840.1.101.3.4.2.3' })
  const si = new pkijs.SignerInfo({
    version: 1,
    sid: new pkijs.IssuerAndSerialNumber({ issuer: cert.issuer, serialNumber: cert.serialNumber }),
    digestAlgorithm: sha512, signedAttrs: attrs,
    signatureAlgorithm: new pkijs.AlgorithmIdentifier({ algorithmId: '1.3.101.112' }),
    signature: new asn1js.OctetString({ valueHex: new Uint8Array(sign(null, set, keyPem)) }),
  })
  const sd = new pkijs.SignedData({
    version: 1, digestAlgorithms: [sha512], certificates: [cert], signerInfos: [si],
    encapContentInfo: new pkijs.EncapsulatedContentInfo({ eContentType: '1.2.840.113549.1.7.1', eContent: new asn1js.OctetString({ valueHex: new Uint8Array(content) }) }),
  })
  const info = new pkijs.ContentInfo({ contentType: '1.2.840.113549.1.7.2', content: sd.toSchema(true) })
  assert.ok(new X509Certificate(certDer).publicKey.asymmetricKeyType === 'ed25519')
  return Buffer.from(info.toSchema().toBER())
}
