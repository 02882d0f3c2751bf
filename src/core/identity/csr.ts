// PKCS#10 requests for EST (RFC 7030 §4.2): the body as base64 DER (or PEM), the key types Herald signs, the proof of
// possession (the request's own signature).
import { createPublicKey } from 'node:crypto'
import { commonName } from './peer.ts'
import { x509 } from './x509.ts'

export class CsrError extends Error {}

/** P-256/P-384 ECDSA, Ed25519 and RSA (also RSASSA-PSS keys) of at least 2048 bits (issue 13 §2); anything else is refused. */
export function keyKind(pub: x509.PublicKey): string {
  let key
  try { key = createPublicKey({ key: Buffer.from(pub.rawData), format: 'der', type: 'spki' }) } catch {
    throw new CsrError('unsupported public key algorithm: P-256/P-384 ECDSA, Ed25519 or RSA (2048 bits or more) only')
  }
  const d = key.asymmetricKeyDetails ?? {}
  switch (key.asymmetricKeyType) {
    case 'ec':
      if (d.namedCurve === 'prime256v1') return 'ECDSA P-256'
      if (d.namedCurve === 'secp384r1') return 'ECDSA P-384'
      throw new CsrError(`unsupported elliptic curve ${d.namedCurve}: P-256 or P-384 only`)
    case 'ed25519': return 'Ed25519'
    case 'rsa':
    case 'rsa-pss': {
      // an RSASSA-PSS key (RFC 4055) signs only; @peculiar/x509 verifies its requests
      const kind = key.asymmetricKeyType === 'rsa' ? 'RSA' : 'RSA-PSS'
      if ((d.modulusLength ?? 0) >= 2048) return `${kind} ${d.modulusLength}`
      throw new CsrError(`${kind} key of ${d.modulusLength} bits refused: 2048 bits or more`)
    }
    default:
      throw new CsrError(`unsupported public key algorithm ${key.asymmetricKeyType}: P-256/P-384 ECDSA, Ed25519 or RSA (2048 bits or more) only`)
  }
}

export interface CheckedCsr { csr: x509.Pkcs10CertificateRequest; cn: string; kind: string }

/** Decode, check the key and the signature, and read the CN of an EST request body. */
export async function readCsr(body: string): Promise<CheckedCsr> {
  const b64 = body.replace(/-----(BEGIN|END)[^-]*-----/g, '').replace(/\s+/g, '')
  if (!b64 || !/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) throw new CsrError('the body must be a base64-encoded PKCS#10 request (RFC 7030 §4.2.1)')
  let csr: x509.Pkcs10CertificateRequest
  try { csr = new x509.Pkcs10CertificateRequest(Buffer.from(b64, 'base64')) } catch {
    throw new CsrError('the body is not a PKCS#10 certification request')
  }
  const kind = keyKind(csr.publicKey)
  let valid = false
  try { valid = await csr.verify() } catch { valid = false }
  if (!valid) throw new CsrError('the request signature does not verify (proof of possession failed)')
  const cn = commonName(csr.subjectName)
  if (!cn) throw new CsrError('the request subject needs exactly one CN')
  return { csr, cn, kind }
}
