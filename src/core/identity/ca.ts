// Herald's certificate authority (issue 13 §1): an ECDSA P-384 root, client certificates with the name as CN and SAN
// (clientAuth), revocation with a regenerated CRL, one-time enrollment codes stored hashed. Its state is in a CaStore:
// <dataDir>/ca, or the database in cluster mode (stores.ts picks).
import { createHash, randomBytes, X509Certificate as NodeCertificate } from 'node:crypto'
import { FileCaStore, statusOf, type CaRoot, type CaStore, type CertStatus, type IssuedEntry } from './store.ts'
import { CA_ALGORITHM, normalSerial, privateKeyPem, subtle, x509 } from './x509.ts'

export { commonName } from './peer.ts'

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

const sha256 = (s: string): string => createHash('sha256').update(s).digest('hex')

/** a data directory means its files; anything else is a store already chosen */
const storeOf = (where: string | CaStore): CaStore => (typeof where === 'string' ? new FileCaStore(where) : where)

async function newRoot(o: { subject: string; days: number }): Promise<CaRoot> {
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
  return { keyPem: await privateKeyPem(keys.privateKey), certPem: cert.toString('pem') + '\n' }
}

export class HeraldCA {
  private constructor(readonly store: CaStore, readonly cert: x509.X509Certificate, private readonly key: CryptoKey) {}

  /** the root certificate, PEM */
  get certPem(): string { return this.cert.toString('pem') }

  /** SHA-256 fingerprint as Node's TLS layer prints it (AA:BB:…), to recognise certificates this CA issued */
  get fingerprint256(): string { return new NodeCertificate(this.certPem).fingerprint256 }

  private static async of(store: CaStore, root: CaRoot): Promise<HeraldCA> {
    const key = await subtle.importKey('pkcs8', x509.PemConverter.decodeFirst(root.keyPem), CA_ALGORITHM, false, ['sign'])
    return new HeraldCA(store, new x509.X509Certificate(root.certPem), key)
  }

  /** Open the CA in a data directory (its files) or a store; undefined when there is none. */
  static async open(where: string | CaStore): Promise<HeraldCA | undefined> {
    const store = storeOf(where)
    const root = await store.root()
    return root && HeraldCA.of(store, root)
  }

  /** Open the CA, creating the root first when there is none (`herald ca init`, first start); a root another node made at the same time wins. */
  static async init(where: string | CaStore, o: { subject: string; days: number }): Promise<{ ca: HeraldCA; created: boolean }> {
    const store = storeOf(where)
    const { root, created } = await store.createRoot(() => newRoot(o))
    const ca = await HeraldCA.of(store, root)
    await store.ensureCrl((revoked) => ca.crlOf(revoked))
    return { ca, created }
  }

  /** Sign a certificate for `name` over a public key (a CSR's, or one `issue` generated). */
  async sign(name: string, publicKey: x509.PublicKey | CryptoKey, days: number): Promise<Issued> {
    checkName(name)
    const pub = publicKey instanceof x509.PublicKey ? publicKey : await x509.PublicKey.create(publicKey)
    const rsa = pub.algorithm.name.startsWith('RSA')
    // Ed25519 and RSASSA-PSS keys sign only (RFC 8410 §5, RFC 4055 §1.2)
    const signOnly = /^Ed/i.test(pub.algorithm.name) || pub.algorithm.name === 'RSA-PSS'
    // key agreement (EC) or key transport (RSA) too, so the same certificate can receive CMS EnvelopedData (issue 13 §5)
    const usage = x509.KeyUsageFlags.digitalSignature | (signOnly ? 0 : rsa ? x509.KeyUsageFlags.keyEncipherment : x509.KeyUsageFlags.keyAgreement)
    const san = name.includes('@') ? { type: 'email' as const, value: name } : { type: 'dns' as const, value: name }
    const serial = await this.store.allocateSerial()
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
    await this.store.addIssued({
      serial: normalSerial(serial), name, subject: cert.subject, notBefore: cert.notBefore.toISOString(), notAfter: cert.notAfter.toISOString(),
    }, certPem)
    return { serial: normalSerial(serial), certPem, cert }
  }

  /** `herald ca issue`: a new ECDSA P-256 key and its certificate (P-256: every TLS client stack has it). */
  async issue(name: string, days: number): Promise<Issued & { keyPem: string }> {
    const keys = await subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify'])
    const issued = await this.sign(name, keys.publicKey, days)
    return { ...issued, keyPem: await privateKeyPem(keys.privateKey) }
  }

  /** Revoke by serial (hex) or every valid certificate of a name; the CRL is regenerated. */
  revoke(nameOrSerial: string): Promise<IssuedEntry[]> {
    const serial = /^[0-9a-f:]+$/i.test(nameOrSerial) ? normalSerial(nameOrSerial) : undefined
    return this.store.revoke((unrevoked) => {
      // a name first: "cafe" is a name before it is the serial 0xCAFE
      const byName = unrevoked.filter((e) => e.name === nameOrSerial)
      return byName.length ? byName : unrevoked.filter((e) => e.serial === serial)
    }, (revoked) => this.crlOf(revoked))
  }

  async list(now = new Date()): Promise<ListedCert[]> {
    return (await this.store.issued()).map((e) => ({ ...e, status: statusOf(e, now) }))
  }

  /** the current certificate of a name: its newest valid one */
  async current(name: string): Promise<{ entry: IssuedEntry; pem: string } | undefined> {
    const entry = (await this.list()).filter((e) => e.name === name && e.status === 'valid').at(-1)
    const pem = entry && await this.store.issuedPem(entry.serial)
    return entry && pem ? { entry, pem } : undefined
  }

  async crlPem(): Promise<string> {
    const pem = await this.store.crl()
    if (!pem) throw new CaError(`no CRL in ${this.store.where}`)
    return pem
  }

  private async crlOf(revoked: IssuedEntry[]): Promise<string> {
    const crl = await x509.X509CrlGenerator.create({
      issuer: this.cert.subjectName, signingKey: this.key, signingAlgorithm: CA_ALGORITHM,
      thisUpdate: new Date(), nextUpdate: new Date(Date.now() + 7 * DAY_MS),
      entries: revoked.map((e) => ({ serialNumber: e.serial, revocationDate: new Date(e.revokedAt!) })),
    })
    // RFC 7468 §5: the label is X509 CRL (what openssl crl reads)
    return x509.PemConverter.encode(crl.rawData, 'X509 CRL') + '\n'
  }

  /** A one-time enrollment code for `name` (EST simpleenroll's Basic password); replaces an unused earlier one. */
  async code(name: string, ttlSeconds: number): Promise<string> {
    checkName(name)
    const code = randomBytes(18).toString('base64url')
    await this.store.putCode({ name, sha256: sha256(code), expiresAt: new Date(Date.now() + ttlSeconds * 1000).toISOString() })
    return code
  }

  /** Use up `name`'s code: true once, if it matches and has not expired. */
  consumeCode(name: string, code: string): Promise<boolean> { return this.store.takeCode(name, sha256(code)) }
}
