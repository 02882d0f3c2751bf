// CMS SignedData checks (RFC 5652 §5; issue 13 §5, specs/synrc.md §8.3): the signature verifies, the signer's
// certificate chains to a trusted CA, is in its validity period, is not revoked, and its CN is the expected name.
// pkijs parses; node:crypto verifies (it has Ed25519, which §8.3 names for message signatures, and pkijs does not).
import { constants, createHash, verify, X509Certificate } from 'node:crypto'
import { readFileSync } from 'node:fs'
import * as asn1js from 'asn1js'
import * as pkijs from 'pkijs'
import pino from 'pino'
import { bool, ConfigError, num, str, type Config } from '../../config.ts'
import { CrlWatch } from './crl.ts'
import { certificateFieldOf, certificateName, type CertificateField } from './peer.ts'
import { runningIdentities } from './running.ts'
import { CaFiles, FileCaStore } from './store.ts'
import { caStoreKindOf } from './stores.ts'
import { normalSerial, x509 } from './x509.ts'

const ID_SIGNED_DATA = '1.2.840.113549.1.7.2'
const ID_DATA = '1.2.840.113549.1.7.1'
const ID_CONTENT_TYPE = '1.2.840.113549.1.9.3'
const ID_MESSAGE_DIGEST = '1.2.840.113549.1.9.4'
const ID_ED25519 = '1.3.101.112'
const ID_ED448 = '1.3.101.113'
const RSA_PSS = '1.2.840.113549.1.1.10'
/** digestAlgorithm OIDs (RFC 5754) as node:crypto names them */
const DIGESTS: Record<string, string> = {
  '1.3.14.3.2.26': 'sha1', '2.16.840.1.101.3.4.2.4': 'sha224', '2.16.840.1.101.3.4.2.1': 'sha256',
  '2.16.840.1.101.3.4.2.2': 'sha384', '2.16.840.1.101.3.4.2.3': 'sha512',
}
/** a chain through intermediates the SignedData carries is at most this long below the trust anchor */
const MAX_CHAIN = 4

export interface VerifyOptions {
  /** the name the signer's certificate must carry: the sender's own name */
  expectedName: string
  /** where that name is read (HERALD_TLS_CLIENT_IDENTITY, as at the TLS login): the CN by default */
  identityField?: CertificateField
  /** trust anchors: Herald's CA root and/or HERALD_TLS_CLIENT_CA's certificates (PEM text, or parsed) */
  trustedCa: string | X509Certificate[]
  /** a certificate this issuer revoked (Herald's CA index); serial as normalSerial prints it */
  isRevoked?(serial: string, issuer: X509Certificate): boolean
  now?: Date
}

export type Verified = { ok: true; signerName: string; content: Uint8Array } | { ok: false; reason: string }

class CmsError extends Error {}

/**
 * What a Desc (or any) mime says of a CMS payload: `signed` for application/pkcs7-signature,
 * application/pkcs7-mime; smime-type=signed-data and multipart/signed (RFC 8551 §3.2, §3.5; x-pkcs7-* too);
 * `enveloped` for any other application/pkcs7-mime (enveloped-data, or no smime-type): opaque, never read.
 */
export function cmsKindOf(mime: string): 'signed' | 'enveloped' | undefined {
  const [type, ...params] = mime.toLowerCase().split(';').map((p) => p.trim())
  const smimeType = params.find((p) => p.startsWith('smime-type='))?.slice(11).replace(/^"|"$/g, '')
  if (type === 'application/pkcs7-signature' || type === 'application/x-pkcs7-signature' || type === 'multipart/signed') return 'signed'
  if (type === 'application/pkcs7-mime' || type === 'application/x-pkcs7-mime') return smimeType === 'signed-data' ? 'signed' : 'enveloped'
  return undefined
}

/** split a MIME entity into its header block and body at the first blank line */
function entity(text: string): { headers: Map<string, string>; body: string; bodyAt: number } | undefined {
  const m = /\r?\n\r?\n/.exec(text)
  if (!m) return undefined
  const headers = new Map<string, string>()
  for (const line of text.slice(0, m.index).replace(/\r?\n[ \t]+/g, ' ').split(/\r?\n/)) {
    const colon = line.indexOf(':')
    if (colon <= 0) return undefined
    headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim())
  }
  return { headers, body: text.slice(m.index + m[0].length), bodyAt: m.index + m[0].length }
}

function base64(text: string): Uint8Array {
  const clean = text.replace(/\s+/g, '')
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(clean)) throw new CmsError('not base64')
  return Buffer.from(clean, 'base64')
}

/**
 * The forms `openssl cms -sign` writes: DER (starts with a SEQUENCE, 0x30), PEM (-----BEGIN CMS----- or PKCS7),
 * S/MIME application/pkcs7-mime (headers, blank line, base64; -nodetach), S/MIME multipart/signed (the default:
 * the signed part's bytes, then a base64 pkcs7-signature part), or bare base64.
 */
export function readCms(input: Uint8Array | string): { der: Uint8Array; detached?: Uint8Array } {
  const bytes = typeof input === 'string' ? Buffer.from(input, 'latin1') : Buffer.from(input.buffer, input.byteOffset, input.byteLength)
  if (bytes[0] === 0x30) return { der: bytes }
  const text = bytes.toString('latin1')
  const pem = /-----BEGIN (?:CMS|PKCS7)-----([\s\S]*?)-----END (?:CMS|PKCS7)-----/.exec(text)
  if (pem) return { der: base64(pem[1]) }
  const e = entity(text.replace(/^\s+/, ''))
  if (!e) return { der: base64(text) }
  const type = e.headers.get('content-type') ?? ''
  if (/^multipart\/signed/i.test(type)) return multipartSigned(type, e.body)
  if (!/^application\/(x-)?pkcs7-(mime|signature)/i.test(type)) throw new CmsError(`not a CMS S/MIME entity (${type || 'no content-type'})`)
  return { der: base64(e.body) }
}

/** RFC 1847 §2.1 multipart/signed: part one is the signed content (its MIME headers included, CRLF line ends) */
function multipartSigned(type: string, body: string): { der: Uint8Array; detached: Uint8Array } {
  const boundary = /boundary="?([^";]+)"?/i.exec(type)?.[1]
  if (!boundary) throw new CmsError('multipart/signed without a boundary')
  // a delimiter is a line of its own: the line break before it belongs to it (RFC 2046 §5.1.1)
  const parts = body.split(new RegExp(`(?:^|\\r?\\n)--${boundary.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?:--)?[ \\t]*(?:\\r?\\n|$)`))
  // [preamble, content, signature, epilogue]
  if (parts.length < 4) throw new CmsError('multipart/signed needs two parts')
  const sig = entity(parts[2])
  if (!sig) throw new CmsError('multipart/signed: the signature part has no headers')
  // S/MIME canonical form (RFC 8551 §3.1.1): the signed bytes have CRLF line ends
  const content = Buffer.from(parts[1].replace(/\r?\n/g, '\r\n'), 'latin1')
  return { der: base64(sig.body), detached: content }
}

function octets(v: asn1js.OctetString): Uint8Array {
  // BER (openssl's streamed S/MIME output): a constructed OCTET STRING is its segments in order
  if (v.idBlock.isConstructed) return Buffer.concat(v.valueBlock.value.map((s) => octets(s as asn1js.OctetString)))
  return new Uint8Array(v.valueBlock.valueHexView)
}

function parseSignedData(der: Uint8Array): pkijs.SignedData {
  let info: pkijs.ContentInfo
  try { info = pkijs.ContentInfo.fromBER(new Uint8Array(der)) } catch { throw new CmsError('not a CMS ContentInfo') }
  if (info.contentType !== ID_SIGNED_DATA) throw new CmsError(`not SignedData (content type ${info.contentType})`)
  try { return new pkijs.SignedData({ schema: info.content }) } catch { throw new CmsError('malformed SignedData') }
}

const asNode = (c: pkijs.Certificate): X509Certificate => new X509Certificate(Buffer.from(c.toSchema().toBER()))

/** RFC 5652 §5.3 SignerIdentifier: issuerAndSerialNumber, or [0] subjectKeyIdentifier */
function signerCertOf(sd: pkijs.SignedData, si: pkijs.SignerInfo): pkijs.Certificate | undefined {
  const certs = (sd.certificates ?? []).filter((c): c is pkijs.Certificate => c instanceof pkijs.Certificate)
  const sid = si.sid as pkijs.IssuerAndSerialNumber | asn1js.Primitive
  if (sid instanceof pkijs.IssuerAndSerialNumber) {
    return certs.find((c) => c.issuer.isEqual(sid.issuer) && c.serialNumber.isEqual(sid.serialNumber))
  }
  // [0] IMPLICIT SubjectKeyIdentifier: the key id octets themselves
  if (!(sid instanceof asn1js.Primitive)) return undefined
  const ski = Buffer.from(sid.valueBlock.valueHexView)
  return certs.find((c) => {
    const ext = c.extensions?.find((x) => x.extnID === '2.5.29.14')
    return ext && Buffer.from((ext.parsedValue as asn1js.OctetString).valueBlock.valueHexView).equals(ski)
  })
}

function digestName(oid: string): string {
  const name = DIGESTS[oid]
  if (!name) throw new CmsError(`unsupported digest algorithm ${oid}`)
  return name
}

/** RFC 5652 §5.4: with signed attributes, their DER (as a SET) is signed, and they bind the content type and digest */
function signedBytes(sd: pkijs.SignedData, si: pkijs.SignerInfo, content: Uint8Array): Uint8Array {
  if (!si.signedAttrs) {
    if (sd.encapContentInfo.eContentType !== ID_DATA) throw new CmsError('signed attributes are required for a non-data content type')
    return content
  }
  const attr = (oid: string) => si.signedAttrs!.attributes.find((a) => a.type === oid)?.values[0]
  const type = attr(ID_CONTENT_TYPE) as asn1js.ObjectIdentifier | undefined
  if (type?.valueBlock.toString() !== sd.encapContentInfo.eContentType) throw new CmsError('content-type attribute missing or different')
  const digest = attr(ID_MESSAGE_DIGEST) as asn1js.OctetString | undefined
  if (!digest) throw new CmsError('message-digest attribute missing')
  const expected = createHash(digestName(si.digestAlgorithm.algorithmId)).update(content).digest()
  if (!expected.equals(Buffer.from(digest.valueBlock.valueHexView))) throw new CmsError('message digest does not match the content')
  return new Uint8Array(si.signedAttrs.encodedValue)
}

function signatureVerifies(si: pkijs.SignerInfo, cert: X509Certificate, data: Uint8Array): boolean {
  const alg = si.signatureAlgorithm.algorithmId
  const sig = new Uint8Array(si.signature.valueBlock.valueHexView)
  if (alg === ID_ED25519 || alg === ID_ED448) return verify(null, data, cert.publicKey, sig)
  if (alg === RSA_PSS) {
    const [digest, pss] = pssParams(si.signatureAlgorithm)
    return verify(digest, data, { key: cert.publicKey, ...pss }, sig)
  }
  // ECDSA (DER-encoded r,s) and RSA PKCS #1 v1.5 hash with the signer's digestAlgorithm (RFC 5753 §2.1.1, RFC 3370 §3.2)
  const key = cert.publicKey.asymmetricKeyType === 'ec' ? { key: cert.publicKey, dsaEncoding: 'der' as const } : cert.publicKey
  return verify(digestName(si.digestAlgorithm.algorithmId), data, key, sig)
}

const ID_MGF1 = '1.2.840.113549.1.1.8'

/** RFC 4055 §3.1 RSASSA-PSS-params as node:crypto takes them: the digest, and the salt length (MGF1 over the same digest) */
function pssParams(alg: pkijs.AlgorithmIdentifier): [string, { padding: number; saltLength: number }] {
  let p: pkijs.RSASSAPSSParams
  try { p = new pkijs.RSASSAPSSParams({ schema: alg.algorithmParams }) } catch { throw new CmsError('malformed RSASSA-PSS parameters') }
  const digest = digestName(p.hashAlgorithm.algorithmId)
  const mgf = p.maskGenAlgorithm
  const mgfHash = mgf.algorithmParams ? new pkijs.AlgorithmIdentifier({ schema: mgf.algorithmParams }).algorithmId : '1.3.14.3.2.26'
  if (mgf.algorithmId !== ID_MGF1 || digestName(mgfHash) !== digest) throw new CmsError('RSASSA-PSS with a mask generation other than MGF1 over the same digest is not supported')
  if (p.trailerField !== 1) throw new CmsError('RSASSA-PSS trailer field other than 1')
  return [digest, { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: p.saltLength }]
}

const inPeriod = (c: X509Certificate, now: Date) => new Date(c.validFrom) <= now && now <= new Date(c.validTo)

/** PEM text (one or more certificates) as node certificates */
export function certificatesOf(pem: string): X509Certificate[] {
  return [...pem.matchAll(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g)].map((m) => new X509Certificate(m[0]))
}

/** the signer's chain up to a trust anchor: [signer, …intermediates, anchor], or why there is none */
function chainOf(signer: X509Certificate, pool: X509Certificate[], anchors: X509Certificate[], now: Date): X509Certificate[] | string {
  const path = [signer]
  for (let depth = 0; depth <= MAX_CHAIN; depth++) {
    const cur = path.at(-1)!
    const anchor = anchors.find((a) => cur.checkIssued(a) && cur.verify(a.publicKey))
    if (anchor) return inPeriod(anchor, now) ? [...path, anchor] : 'the CA certificate is expired'
    const up = pool.find((p) => p.ca && !path.some((q) => q.fingerprint256 === p.fingerprint256) && cur.checkIssued(p) && cur.verify(p.publicKey))
    if (!up) break
    if (!inPeriod(up, now)) return 'an intermediate CA certificate is expired'
    path.push(up)
  }
  return 'the signer certificate is not issued by a trusted CA'
}

/** RFC 5280 §4.2.1.3: a key usage, when there is one, must allow signatures (digitalSignature or nonRepudiation) */
function maySign(cert: X509Certificate): boolean {
  const ku = new x509.X509Certificate(cert.raw).getExtension(x509.KeyUsagesExtension)
  return !ku || (ku.usages & (x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.nonRepudiation)) !== 0
}

/**
 * Check a CMS SignedData (DER or the S/MIME forms readCms reads) for one signer, who must be `expectedName`. A
 * SignedData with more than one SignerInfo is refused: a message has one sender.
 */
export function verifySigned(input: Uint8Array | string, o: VerifyOptions): Verified {
  try {
    const { der, detached } = readCms(input)
    const sd = parseSignedData(der)
    if (sd.signerInfos.length !== 1) throw new CmsError(`expected one signer, found ${sd.signerInfos.length}`)
    const si = sd.signerInfos[0]
    const eContent = sd.encapContentInfo.eContent
    if (eContent && detached) throw new CmsError('both attached and detached content')
    const content = eContent ? octets(eContent) : detached
    if (!content) throw new CmsError('detached signature without its content')
    const signerCert = signerCertOf(sd, si)
    if (!signerCert) throw new CmsError("the signer's certificate is not in the SignedData")
    const signer = asNode(signerCert)
    if (!signatureVerifies(si, signer, signedBytes(sd, si, content))) throw new CmsError('the signature does not verify')
    const now = o.now ?? new Date()
    if (!inPeriod(signer, now)) throw new CmsError(new Date(signer.validTo) < now ? 'the signer certificate is expired' : 'the signer certificate is not yet valid')
    if (!maySign(signer)) throw new CmsError("the signer certificate's key usage does not allow signatures")
    const anchors = typeof o.trustedCa === 'string' ? certificatesOf(o.trustedCa) : o.trustedCa
    const pool = (sd.certificates ?? []).filter((c): c is pkijs.Certificate => c instanceof pkijs.Certificate).map(asNode)
    const chain = chainOf(signer, pool, anchors, now)
    if (typeof chain === 'string') throw new CmsError(chain)
    for (let i = 0; i + 1 < chain.length; i++) {
      if (o.isRevoked?.(normalSerial(chain[i].serialNumber), chain[i + 1])) throw new CmsError(`certificate ${normalSerial(chain[i].serialNumber)} is revoked`)
    }
    const field = o.identityField ?? 'cn'
    const name = certificateName(signer.raw, field)
    if (name !== o.expectedName) throw new CmsError(`the signer is ${JSON.stringify(name ?? '')}, not ${JSON.stringify(o.expectedName)}${field === 'cn' ? '' : ` (${field})`}`)
    return { ok: true, signerName: name, content }
  } catch (e) {
    if (e instanceof CmsError) return { ok: false, reason: e.message }
    return { ok: false, reason: `unreadable CMS: ${(e as Error).message}` }
  }
}

export interface SignatureTrust {
  trustedCa: X509Certificate[]
  isRevoked(serial: string, issuer: X509Certificate): boolean
  /** HERALD_TLS_CLIENT_IDENTITY: the signer's name is read as at the TLS login */
  identityField: CertificateField
}

/**
 * The CAs a signer may chain to, with their revocations: Herald's CA (when HERALD_CA_ENABLED) and
 * HERALD_TLS_CLIENT_CA's certificates, with HERALD_TLS_CLIENT_CRL. In a running server (the Config its identity
 * service started with) Herald's CA and its revocations are that service's, in whichever store; otherwise the CA's
 * files in the data directory, re-read when they change.
 */
export function signatureTrust(config: Config): SignatureTrust {
  const trustedCa: X509Certificate[] = []
  const identityField = certificateFieldOf(config)
  const running = runningIdentities.get(config)
  let ours: ((serial: string) => boolean) | undefined
  let root = ''
  const store = running?.ca.store
  if (running && !(store instanceof FileCaStore)) {
    // the database: the running watch's revocations (polled every HERALD_CA_REVOCATION_POLL_MS)
    const cert = new X509Certificate(running.ca.certPem)
    root = cert.fingerprint256
    trustedCa.push(cert)
    ours = (serial) => running.watch.isRevoked(serial)
  } else if (running || bool(config, 'ca.enabled')) {
    if (!running && caStoreKindOf(config) !== 'files') throw new ConfigError("signature checks on Herald's CA in the database need the running server's identity service")
    // files: the index itself, re-read when it changed (a stat per check: a revocation applies to the next message)
    const files = store instanceof FileCaStore ? store.files : new CaFiles(str(config, 'dataDir'))
    if (!files.exists()) throw new ConfigError(`HERALD_CA_ENABLED: no CA in ${files.dir} (herald ca init)`)
    const cert = new X509Certificate(files.read('ca.crt'))
    root = cert.fingerprint256
    trustedCa.push(cert)
    let stamp = ''
    let revoked = new Set<string>()
    ours = (serial) => {
      const now = files.indexStamp()
      if (now !== stamp) {
        revoked = new Set(files.index().filter((e) => e.revokedAt).map((e) => e.serial))
        stamp = now
      }
      return revoked.has(serial)
    }
  }
  const clientCa = str(config, 'tls.clientCa')
  if (clientCa) trustedCa.push(...certificatesOf(readFileSync(clientCa, 'utf8')))
  if (!trustedCa.length) throw new ConfigError('signature checks need a CA: HERALD_CA_ENABLED=true or HERALD_TLS_CLIENT_CA')
  const crl = running ? running.crl : crlFileOf(config, trustedCa)
  return {
    trustedCa,
    identityField,
    isRevoked: (serial, issuer) => {
      if (issuer.fingerprint256 === root && ours?.(serial)) return true
      return crl ? crl.covers(issuer.fingerprint256) && crl.isRevoked(serial, issuer.fingerprint256) : false
    },
  }
}

/** HERALD_TLS_CLIENT_CRL outside a running server (no connections to close: it is re-read when it changes) */
function crlFileOf(config: Config, cas: X509Certificate[]): CrlWatch | undefined {
  const file = str(config, 'tls.clientCrl')
  if (!file) return undefined
  try {
    return new CrlWatch(file, cas, pino({ level: 'silent' }), num(config, 'ca.revocationPollMs') || 1000)
  } catch (e) {
    throw new ConfigError((e as Error).message)
  }
}
