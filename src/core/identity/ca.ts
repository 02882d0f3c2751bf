// Herald's certificate authority (issue 13 §1): an ECDSA P-384 root in <dataDir>/ca, client certificates with the
// name as CN and SAN (clientAuth), revocation with a regenerated CRL, one-time enrollment codes stored hashed.
import { createHash, randomBytes, timingSafeEqual, X509Certificate as NodeCertificate } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import { CaFiles, statusOf, type CertStatus, type IssuedEntry } from './store.ts'
import { CA_ALGORITHM, normalSerial, privateKeyPem, subtle, x509 } from './x509.ts'

const DAY_MS = 86_400_000
/** names a certificate may carry (CN, SAN): account names, e-mail addresses, host names */
const NAME = /^[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}$/

export class CaError extends Error {}

export function checkName(name: string): string {
  if (!NAME.test(name)) throw new CaError(`invalid certificate name ${JSON.stringify(name)}: letters, digits and . _ @ + - only, at most 128`)
  return name
}

export interface Issued { serial: string; certPem: string; cert: x509.X509Certificate }

export interface ListedCert extends IssuedEntry { status: CertStatus }

function sha256(s: string): Buffer { return createHash('sha256').update(s).digest() }

/** The common name of a certificate or CSR subject (the last CN, as Node's TLS layer reads it). */
export function commonName(name: x509.Name): string | undefined {
  const cns = name.getField('CN')
  return cns.length ? cns[cns.length - 1] : undefined
}

export class HeraldCA {
  private constructor(readonly files: CaFiles, readonly cert: x509.X509Certificate, private readonly key: CryptoKey) {}

  /** the root certificate, PEM */
  get certPem(): string { return this.cert.toString('pem') }

  /** SHA-256 fingerprint as Node's TLS layer prints it (AA:BB:…), to recognise certificates this CA issued */
  get fingerprint256(): string { return new NodeCertificate(this.certPem).fingerprint256 }

  /** Open the CA in the data directory; undefined when there is none. */
  static async open(dataDir: string): Promise<HeraldCA | undefined> {
    const files = new CaFiles(dataDir)
    if (!files.exists()) return undefined
    const cert = new x509.X509Certificate(files.read('ca.crt'))
    const der = x509.PemConverter.decodeFirst(files.read('ca.key'))
    const key = await subtle.importKey('pkcs8', der, CA_ALGORITHM, false, ['sign'])
    return new HeraldCA(files, cert, key)
  }

  /** Open the CA, creating the root first when there is none (`herald ca init`, first start). */
  static async init(dataDir: string, o: { subject: string; days: number }): Promise<{ ca: HeraldCA; created: boolean }> {
    const files = new CaFiles(dataDir)
    const created = await files.locked(async () => {
      if (files.exists()) return false
      const keys = await subtle.generateKey(CA_ALGORITHM, true, ['sign', 'verify'])
      const now = Date.now()
      const cert = await x509.X509CertificateGenerator.createSelfSigned({
        name: o.subject, keys, signingAlgorithm: CA_ALGORITHM, serialNumber: randomBytes(8).toString('hex').replace(/^[89a-f]/, '7'),
        notBefore: new Date(now - 60_000), notAfter: new Date(now + o.days * DAY_MS),
        extensions: [
          new x509.BasicConstraintsExtension(true, 0, true),
          new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
          await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
        ],
      })
      files.write(files.path('ca.key'), await privateKeyPem(keys.privateKey), 0o600)
      files.write(files.path('ca.crt'), cert.toString('pem') + '\n')
      return true
    })
    const ca = (await HeraldCA.open(dataDir))!
    if (created || !existsSync(files.path('crl.pem'))) await files.locked(() => ca.writeCrl(files.index()))
    return { ca, created }
  }

  /** Sign a certificate for `name` over a public key (a CSR's, or one `issue` generated). */
  async sign(name: string, publicKey: x509.PublicKey | CryptoKey, days: number): Promise<Issued> {
    checkName(name)
    const pub = publicKey instanceof x509.PublicKey ? publicKey : await x509.PublicKey.create(publicKey)
    const rsa = pub.algorithm.name.startsWith('RSA')
    const ed = /^Ed/i.test(pub.algorithm.name)
    // key agreement (EC) or key transport (RSA) too, so the same certificate can receive CMS EnvelopedData (issue 13 §5)
    const usage = x509.KeyUsageFlags.digitalSignature | (rsa ? x509.KeyUsageFlags.keyEncipherment : ed ? 0 : x509.KeyUsageFlags.keyAgreement)
    const san = name.includes('@') ? { type: 'email' as const, value: name } : { type: 'dns' as const, value: name }
    return this.files.locked(async () => {
      const serial = this.files.nextSerial()
      const now = Date.now()
      const cert = await x509.X509CertificateGenerator.create({
        serialNumber: serial, subject: [{ CN: [name] }], issuer: this.cert.subjectName,
        notBefore: new Date(now - 60_000), notAfter: new Date(now + days * DAY_MS),
        publicKey: pub, signingKey: this.key, signingAlgorithm: CA_ALGORITHM,
        extensions: [
          new x509.BasicConstraintsExtension(false, undefined, true),
          new x509.KeyUsagesExtension(usage, true),
          new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth]),
          new x509.SubjectAlternativeNameExtension([san]),
          await x509.SubjectKeyIdentifierExtension.create(pub),
          await x509.AuthorityKeyIdentifierExtension.create(this.cert),
        ],
      })
      const certPem = cert.toString('pem') + '\n'
      this.files.write(this.files.issuedPath(serial), certPem)
      const index = this.files.index()
      index.push({ serial: normalSerial(serial), name, subject: cert.subject, notBefore: cert.notBefore.toISOString(), notAfter: cert.notAfter.toISOString() })
      this.files.writeIndex(index)
      return { serial: normalSerial(serial), certPem, cert }
    })
  }

  /** `herald ca issue`: a new ECDSA P-256 key and its certificate (P-256: every TLS client stack has it). */
  async issue(name: string, days: number): Promise<Issued & { keyPem: string }> {
    const keys = await subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify'])
    const issued = await this.sign(name, keys.publicKey, days)
    return { ...issued, keyPem: await privateKeyPem(keys.privateKey) }
  }

  /** Revoke by serial (hex) or every valid certificate of a name; the CRL is regenerated. */
  async revoke(nameOrSerial: string): Promise<IssuedEntry[]> {
    return this.files.locked(async () => {
      const index = this.files.index()
      const serial = /^[0-9a-f:]+$/i.test(nameOrSerial) ? normalSerial(nameOrSerial) : undefined
      // a name first: "cafe" is a name before it is the serial 0xCAFE
      const byName = index.filter((e) => !e.revokedAt && e.name === nameOrSerial)
      const hit = byName.length ? byName : index.filter((e) => !e.revokedAt && e.serial === serial)
      if (!hit.length) return []
      const at = new Date().toISOString()
      for (const e of hit) e.revokedAt = at
      this.files.writeIndex(index)
      await this.writeCrl(index)
      return hit
    })
  }

  list(now = new Date()): ListedCert[] {
    return this.files.index().map((e) => ({ ...e, status: statusOf(e, now) }))
  }

  /** the current certificate of a name: its newest valid one */
  current(name: string): { entry: IssuedEntry; pem: string } | undefined {
    const entry = this.list().filter((e) => e.name === name && e.status === 'valid').at(-1)
    return entry && { entry, pem: readFileSync(this.files.issuedPath(entry.serial), 'utf8') }
  }

  crlPem(): string { return this.files.read('crl.pem') }

  private async writeCrl(index: IssuedEntry[]): Promise<void> {
    const crl = await x509.X509CrlGenerator.create({
      issuer: this.cert.subjectName, signingKey: this.key, signingAlgorithm: CA_ALGORITHM,
      thisUpdate: new Date(), nextUpdate: new Date(Date.now() + 7 * DAY_MS),
      entries: index.filter((e) => e.revokedAt).map((e) => ({ serialNumber: e.serial, revocationDate: new Date(e.revokedAt!) })),
    })
    // RFC 7468 §5: the label is X509 CRL (what openssl crl reads)
    this.files.write(this.files.path('crl.pem'), x509.PemConverter.encode(crl.rawData, 'X509 CRL') + '\n')
  }

  /** A one-time enrollment code for `name` (EST simpleenroll's Basic password); replaces an unused earlier one. */
  async code(name: string, ttlSeconds: number): Promise<string> {
    checkName(name)
    const code = randomBytes(18).toString('base64url')
    await this.files.locked(() => {
      const now = Date.now()
      const codes = this.files.codes().filter((c) => c.name !== name && new Date(c.expiresAt).getTime() > now)
      codes.push({ name, sha256: sha256(code).toString('hex'), expiresAt: new Date(now + ttlSeconds * 1000).toISOString() })
      this.files.writeCodes(codes)
    })
    return code
  }

  /** Use up `name`'s code: true once, if it matches and has not expired. */
  async consumeCode(name: string, code: string): Promise<boolean> {
    const given = sha256(code)
    return this.files.locked(() => {
      const now = Date.now()
      const codes = this.files.codes().filter((c) => new Date(c.expiresAt).getTime() > now)
      const i = codes.findIndex((c) => c.name === name && timingSafeEqual(Buffer.from(c.sha256, 'hex'), given))
      if (i < 0) return false
      codes.splice(i, 1)
      this.files.writeCodes(codes)
      return true
    })
  }
}
