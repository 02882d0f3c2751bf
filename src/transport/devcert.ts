// TLS material: the configured certificate, or a self-signed development certificate made on first start.
import { generateKeyPairSync } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import type selfsignedModule from 'selfsigned'

export interface TlsMaterial { cert: string; key: string; ca?: string; generated: boolean; certFile: string }

export function loadTls(o: { cert: string; key: string; clientCa: string; dataDir: string }): TlsMaterial {
  const read = (file: string, what: string) => {
    try { return readFileSync(file, 'utf8') } catch (e) { throw new Error(`cannot read ${what} ${file}: ${(e as Error).message}`) }
  }
  const ca = o.clientCa ? read(o.clientCa, 'client CA (HERALD_TLS_CLIENT_CA)') : undefined
  if (o.cert || o.key) {
    if (!o.cert || !o.key) throw new Error('HERALD_TLS_CERT and HERALD_TLS_KEY must be set together')
    return { cert: read(o.cert, 'certificate (HERALD_TLS_CERT)'), key: read(o.key, 'key (HERALD_TLS_KEY)'), ca, generated: false, certFile: o.cert }
  }
  const dir = join(o.dataDir, 'tls')
  const certFile = join(dir, 'dev-cert.pem'), keyFile = join(dir, 'dev-key.pem')
  if (!existsSync(certFile) || !existsSync(keyFile)) {
    mkdirSync(dir, { recursive: true })
    // loaded only to make the certificate (node-forge is large): issue 11 item 7
    const selfsigned = createRequire(import.meta.url)('selfsigned') as typeof selfsignedModule
    // the key from Node's crypto: node-forge's own RSA key generation is JavaScript and takes from one to tens of
    // seconds on a busy machine, at every first start
    const keyPair = generateKeyPairSync('rsa', {
      modulusLength: 2048,
      publicKeyEncoding: { type: 'spki', format: 'pem' },
      privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
    })
    // selfsigned 2.4 takes a key pair (`keyPair`, PEM); its type declarations do not name the option yet
    const options: Parameters<typeof selfsigned.generate>[1] & { keyPair: typeof keyPair } = {
      keyPair, days: 825, algorithm: 'sha256',
      extensions: [
        { name: 'basicConstraints', cA: false },
        { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
        { name: 'extKeyUsage', serverAuth: true },
        { name: 'subjectAltName', altNames: [{ type: 2, value: 'localhost' }, { type: 7, ip: '127.0.0.1' }, { type: 7, ip: '::1' }] },
      ],
    }
    const pems = selfsigned.generate([{ name: 'commonName', value: 'localhost' }], options)
    writeFileSync(keyFile, pems.private, { mode: 0o600 })
    writeFileSync(certFile, pems.cert)
  }
  return { cert: readFileSync(certFile, 'utf8'), key: readFileSync(keyFile, 'utf8'), ca, generated: true, certFile }
}
