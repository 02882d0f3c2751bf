// @peculiar/x509 on Node's WebCrypto; its dependency injection (tsyringe) needs the Reflect polyfill loaded first.
import 'reflect-metadata'
import { webcrypto } from 'node:crypto'
import * as x509 from '@peculiar/x509'

x509.cryptoProvider.set(webcrypto as unknown as Crypto)

export { x509 }
export const subtle = webcrypto.subtle

/** Herald's root: ECDSA P-384 signing with SHA-384 (issue 13 §1). */
export const CA_ALGORITHM = { name: 'ECDSA', namedCurve: 'P-384', hash: 'SHA-384' } as const

export { normalSerial } from './serial.ts'

export function pemBody(pem: string): Buffer {
  return Buffer.from(pem.replace(/-----(BEGIN|END)[^-]*-----/g, '').replace(/\s+/g, ''), 'base64')
}

/** PKCS#8 PEM of a private key, for files and PKCS#12 bundles. */
export async function privateKeyPem(key: CryptoKey): Promise<string> {
  return x509.PemConverter.encode(await subtle.exportKey('pkcs8', key), 'PRIVATE KEY')
}
