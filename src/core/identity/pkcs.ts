// What EST answers (RFC 7030 §4.1.3, §4.2.3, §4.5.2): PKCS#7 certs-only and CSR attributes, base64 in 64-column lines;
// and the PKCS#12 bundle of `herald ca issue`, made by `openssl pkcs12 -export` (neither @peculiar/x509 nor Node
// writes PKCS#12).
import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as asn1js from 'asn1js'
import { x509 } from './x509.ts'

export const CERTS_ONLY = 'application/pkcs7-mime; smime-type=certs-only'

export function base64Lines(der: ArrayBuffer | Buffer): string {
  return (Buffer.from(der as ArrayBuffer).toString('base64').match(/.{1,64}/g) ?? []).join('\r\n') + '\r\n'
}

/** A degenerate SignedData holding only certificates (RFC 7030 §4.1.3). */
export function certsOnly(certs: x509.X509Certificate[]): string {
  return base64Lines(new x509.X509Certificates(certs).export('raw'))
}

/** CsrAttrs (RFC 7030 §4.5.2): sign with ecdsa-with-SHA384 over a P-384 key, as the root does (a recommendation;
 *  the other accepted key types still enroll). */
export function csrAttrs(): string {
  const oid = (value: string) => new asn1js.ObjectIdentifier({ value })
  const attrs = new asn1js.Sequence({
    value: [
      oid('1.2.840.10045.4.3.3'), // ecdsa-with-SHA384
      new asn1js.Sequence({ value: [oid('1.2.840.10045.2.1'), new asn1js.Set({ value: [oid('1.3.132.0.34')] })] }), // id-ecPublicKey: secp384r1
    ],
  })
  return base64Lines(attrs.toBER())
}

/** PKCS#12 with the key, the certificate and the CA, protected by `password` (passed through the environment). */
export async function pkcs12(o: { keyPem: string; certPem: string; caPem: string; name: string; password: string }): Promise<Buffer> {
  const dir = mkdtempSync(join(tmpdir(), 'herald-p12-'))
  try {
    writeFileSync(join(dir, 'key.pem'), o.keyPem, { mode: 0o600 })
    writeFileSync(join(dir, 'cert.pem'), o.certPem)
    writeFileSync(join(dir, 'ca.pem'), o.caPem)
    const out = join(dir, 'bundle.p12')
    await new Promise<void>((resolve, reject) => {
      execFile('openssl', ['pkcs12', '-export', '-inkey', join(dir, 'key.pem'), '-in', join(dir, 'cert.pem'), '-certfile', join(dir, 'ca.pem'),
        '-name', o.name, '-out', out, '-passout', 'env:HERALD_P12_PASSWORD'],
      { env: { ...process.env, HERALD_P12_PASSWORD: o.password }, timeout: 20_000 }, (err, _stdout, stderr) => {
        if (!err) return resolve()
        reject(new Error((err as NodeJS.ErrnoException).code === 'ENOENT'
          ? 'the PKCS#12 bundle needs the openssl command (install openssl, or use the PEM key and certificate)'
          : `openssl pkcs12 failed: ${stderr.trim() || err.message}`))
      })
    })
    return readFileSync(out)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
