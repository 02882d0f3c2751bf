// DANE (RFC 6698, issue 13 §6): the TLSA 3 1 1 record of a server certificate, usage DANE-EE, selector
// SubjectPublicKeyInfo, matching SHA-256.
import { createHash, X509Certificate } from 'node:crypto'

export function tlsa311(certPem: string): string {
  const spki = new X509Certificate(certPem).publicKey.export({ type: 'spki', format: 'der' })
  return `3 1 1 ${createHash('sha256').update(spki).digest('hex')}`
}

/** The owner name to publish it under, from the certificate's first DNS name (or its CN). */
export function tlsaHost(certPem: string): string {
  const c = new X509Certificate(certPem)
  const dns = /DNS:([^,\s]+)/.exec(c.subjectAltName ?? '')?.[1]
  return dns ?? /CN=([^\n,]+)/.exec(c.subject)?.[1] ?? 'localhost'
}
