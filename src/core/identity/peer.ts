// Which name of a verified client certificate is the identity on every TLS listener (issue 13 §3): its CN, or the
// first subjectAltName of the type HERALD_TLS_CLIENT_IDENTITY names.
import type { PeerCertificate, TLSSocket } from 'node:tls'
import { x509 } from './x509.ts'

export type CertificateField = 'cn' | 'san-email' | 'san-dns' | 'san-uri'

export const SAN_TYPE = { 'san-email': 'email', 'san-dns': 'dns', 'san-uri': 'url' } as const

/** The certificate's name in `field`; undefined when it has none there. */
export function certificateName(peer: PeerCertificate, field: CertificateField = 'cn'): string | undefined {
  if (field === 'cn') {
    const cn = peer.subject?.CN
    return (Array.isArray(cn) ? cn[0] : cn) || undefined
  }
  if (!peer.raw?.length) return undefined
  // the DER itself: Node's `subjectaltname` string quotes and escapes some values
  const san = new x509.X509Certificate(peer.raw).getExtension(x509.SubjectAlternativeNameExtension)
  return san?.names.items.find((n) => n.type === SAN_TYPE[field])?.value || undefined
}

/** The identity of a TLS connection whose client certificate verified against the client CA list; else undefined. */
export function verifiedName(socket: TLSSocket | undefined, field: CertificateField = 'cn'): string | undefined {
  if (!socket?.authorized) return undefined
  const peer = socket.getPeerCertificate()
  return peer?.subject ? certificateName(peer, field) : undefined
}
