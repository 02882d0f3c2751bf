// HERALD_TLS_CLIENT_CRL (issue 13 §3): certificate revocation lists of the other configured CA (HERALD_TLS_CLIENT_CA),
// one or more in a PEM file. Each CRL must be signed by one of the trusted CA certificates; its serials are refused at
// the TLS handshake on MQTTS, secure WebSocket and HTTPS. The file is re-read when it changes (looked at, at most every
// pollMs, at a handshake and while connections it may have to close are open); a file that became unreadable keeps
// the revocations read before, with an error line.
import { verify, X509Certificate } from 'node:crypto'
import { readFileSync, statSync } from 'node:fs'
import * as asn1js from 'asn1js'
import type { Logger } from 'pino'
import { Revocations } from './revocation.ts'
import { normalSerial, x509 } from './x509.ts'

export class CrlError extends Error {}

const NODE_HASH: Record<string, string> = { 'SHA-1': 'sha1', 'SHA-256': 'sha256', 'SHA-384': 'sha384', 'SHA-512': 'sha512' }

/** the revoked serials of each issuer (SHA-256 fingerprint) whose CRL is in `pem` and verifies with its certificate */
export function readCrls(pem: string, issuers: X509Certificate[], now = new Date()): { revoked: Map<string, Set<string>>; stale: string[] } {
  const blocks = [...pem.matchAll(/-----BEGIN X509 CRL-----[\s\S]*?-----END X509 CRL-----/g)].map((m) => m[0])
  if (!blocks.length) throw new CrlError('no CRL in it (-----BEGIN X509 CRL-----)')
  const revoked = new Map<string, Set<string>>()
  const stale: string[] = []
  for (const block of blocks) {
    let crl: x509.X509Crl
    try { crl = new x509.X509Crl(block) } catch (e) { throw new CrlError(`a CRL that does not parse: ${(e as Error).message}`) }
    const name = crl.issuerName.toString()
    const issuer = issuers.find((c) => new x509.X509Certificate(c.raw).subjectName.toString() === name && signedBy(crl, c))
    if (!issuer) throw new CrlError(`the CRL of ${crl.issuer} is not signed by a CA of HERALD_TLS_CLIENT_CA (or Herald's CA)`)
    if (crl.nextUpdate && crl.nextUpdate < now) stale.push(crl.issuer)
    const set = revoked.get(issuer.fingerprint256) ?? new Set<string>()
    for (const e of crl.entries) set.add(normalSerial(e.serialNumber))
    revoked.set(issuer.fingerprint256, set)
  }
  return { revoked, stale }
}

/** RFC 5280 §5.1: the signature over tbsCertList verifies with the issuer's key (node:crypto: ECDSA, RSA PKCS #1, EdDSA) */
function signedBy(crl: x509.X509Crl, ca: X509Certificate): boolean {
  try {
    const seq = asn1js.fromBER(new Uint8Array(crl.rawData)).result as asn1js.Sequence
    const [tbs, , sig] = seq.valueBlock.value
    const data = new Uint8Array(tbs.valueBeforeDecodeView)
    const signature = (sig as asn1js.BitString).valueBlock.valueHexView
    const key = ca.publicKey
    const hash = (crl.signatureAlgorithm as { hash?: { name: string } }).hash?.name
    if (key.asymmetricKeyType === 'ed25519' || key.asymmetricKeyType === 'ed448') return verify(null, data, key, signature)
    const name = hash && NODE_HASH[hash]
    if (!name) return false
    return verify(name, data, key.asymmetricKeyType === 'ec' ? { key, dsaEncoding: 'der' } : key, signature)
  } catch {
    return false
  }
}

/** HERALD_TLS_CLIENT_CRL at the handshake: a Revocations source for the issuers whose CRLs the file holds. */
export class CrlWatch extends Revocations {
  readonly what = 'HERALD_TLS_CLIENT_CRL'
  private revoked = new Map<string, Set<string>>()
  private stamp = ''
  private lookedAt = 0
  private timer: NodeJS.Timeout | undefined

  /** reads the file now: an unreadable file, or a CRL no trusted CA signed, is an error here (at start) */
  constructor(readonly file: string, private readonly issuers: X509Certificate[], log: Logger, private readonly pollMs: number) {
    super(log)
    this.read(true)
  }

  covers(issuer: string): boolean {
    this.fresh()
    return this.revoked.has(issuer)
  }

  isRevoked(serial: string, issuer: string): boolean {
    this.fresh()
    return this.revoked.get(issuer)?.has(normalSerial(serial)) ?? false
  }

  /** while connections are open under this source, look at the file every pollMs to close the ones revoked later */
  override track(...args: Parameters<Revocations['track']>): void {
    super.track(...args)
    if (this.timer) return
    this.timer = setInterval(() => this.fresh(), Math.max(50, this.pollMs))
    this.timer.unref()
  }

  protected override onUntrack(left: number): void {
    if (left > 0 || !this.timer) return
    clearInterval(this.timer)
    this.timer = undefined
  }

  /** re-read the file when its modification time or size changed, at most every pollMs */
  fresh(): void {
    const now = Date.now()
    if (now - this.lookedAt < this.pollMs) return
    this.lookedAt = now
    if (this.read(false)) this.closeRevoked()
  }

  private read(first: boolean): boolean {
    try {
      const s = statSync(this.file)
      const stamp = `${s.mtimeMs}:${s.size}`
      if (stamp === this.stamp) return false
      const { revoked, stale } = readCrls(readFileSync(this.file, 'utf8'), this.issuers)
      for (const issuer of stale) this.log.warn({ file: this.file, issuer }, 'HERALD_TLS_CLIENT_CRL: a CRL is past its nextUpdate (still applied)')
      this.revoked = revoked
      this.stamp = stamp
      return true
    } catch (e) {
      const message = `HERALD_TLS_CLIENT_CRL ${this.file}: ${(e as Error).message}`
      if (first) throw new CrlError(message)
      this.log.error(`${message}; the revocations read before still apply`)
      return false
    }
  }

  close(): void {
    clearInterval(this.timer)
    this.timer = undefined
    this.forget()
  }
}
