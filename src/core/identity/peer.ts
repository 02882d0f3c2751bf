// Which name of a verified client certificate is the identity (issue 13 §3): its CN, or the first subjectAltName of
// the type HERALD_TLS_CLIENT_IDENTITY names. One function for every place that asks: the TLS login (MQTTS, secure
// WebSocket, HTTPS), EST re-enrollment and the CMS signer check.
import { webcrypto } from 'node:crypto'
import { createRequire } from 'node:module'
import type { PeerCertificate, TLSSocket } from 'node:tls'
import type * as X509 from '@peculiar/x509'
import { ConfigError, str, type Config } from '../../config.ts'

let x509Lib: typeof X509 | undefined

/**
 * @peculiar/x509 (~20 MB resident with its polyfill), loaded at the first certificate read: a server without client
 * certificates never reads one, and the TLS login asks synchronously. The package is CommonJS, so this is the very
 * instance x509.ts imports, set up the same way.
 */
function x509(): typeof X509 {
  if (x509Lib) return x509Lib
  const require = createRequire(import.meta.url)
  require('reflect-metadata')
  const lib = require('@peculiar/x509') as typeof X509
  lib.cryptoProvider.set(webcrypto as unknown as Crypto)
  return (x509Lib = lib)
}

export type CertificateField = 'cn' | 'san-email' | 'san-dns' | 'san-uri'

export const SAN_TYPE = { 'san-email': 'email', 'san-dns': 'dns', 'san-uri': 'url' } as const

/** The common name of a certificate or CSR subject; none when there is none, or more than one (ambiguous). */
export function commonName(name: X509.Name): string | undefined {
  const cns = name.getField('CN')
  return cns.length === 1 && cns[0] ? cns[0] : undefined
}

/** The certificate's name in `field` (read from its DER: Node's strings quote and escape some values); undefined when it has none there. */
export function certificateName(cert: PeerCertificate | X509.X509Certificate | Uint8Array, field: CertificateField = 'cn'): string | undefined {
  const lib = x509()
  let c: X509.X509Certificate
  try {
    c = cert instanceof lib.X509Certificate ? cert : new lib.X509Certificate(new Uint8Array(cert instanceof Uint8Array ? cert : cert.raw))
  } catch {
    return undefined
  }
  if (field === 'cn') return commonName(c.subjectName)
  const san = c.getExtension(lib.SubjectAlternativeNameExtension)
  return san?.names.items.find((n) => n.type === SAN_TYPE[field])?.value || undefined
}

/** The identity of a TLS connection whose client certificate verified against the client CA list; else undefined. */
export function verifiedName(socket: TLSSocket | undefined, field: CertificateField = 'cn'): string | undefined {
  if (!socket?.authorized) return undefined
  const peer = socket.getPeerCertificate()
  return peer?.raw?.length ? certificateName(peer, field) : undefined
}

/** HERALD_TLS_CLIENT_IDENTITY: which name of a verified client certificate is the identity */
export function certificateFieldOf(cfg: Config): CertificateField {
  const v = str(cfg, 'tls.clientIdentity') || 'cn'
  if (v === 'cn' || v in SAN_TYPE) return v as CertificateField
  throw new ConfigError(`tls.clientIdentity (HERALD_TLS_CLIENT_IDENTITY): expected cn, san-email, san-dns or san-uri, got ${JSON.stringify(v)}`)
}
