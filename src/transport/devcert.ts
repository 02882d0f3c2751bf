// TLS material: the configured certificate, or a self-signed development certificate made on first start.
import { execFileSync } from 'node:child_process'
import { generateKeyPairSync } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import type { GenerateResult, SelfsignedOptions } from 'selfsigned'

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
    // the key from Node's crypto: node-forge's own RSA key generation is JavaScript and takes from one to tens of
    // seconds on a busy machine, at every first start
    const keyPair = generateKeyPairSync('rsa', {
      modulusLength: 2048,
      publicKeyEncoding: { type: 'spki', format: 'pem' },
      privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
    })
    // selfsigned 2.4 takes a key pair (`keyPair`, PEM); its type declarations do not name the option yet
    const options: SelfsignedOptions & { keyPair: typeof keyPair } = {
      keyPair, days: 825, algorithm: 'sha256',
      extensions: [
        { name: 'basicConstraints', cA: false },
        { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
        { name: 'extKeyUsage', serverAuth: true },
        { name: 'subjectAltName', altNames: [{ type: 2, value: 'localhost' }, { type: 7, ip: '127.0.0.1' }, { type: 7, ip: '::1' }] },
      ],
    }
    const pems = generateInChild(options)
    writeFileSync(keyFile, pems.private, { mode: 0o600 })
    writeFileSync(certFile, pems.cert)
  }
  return { cert: readFileSync(certFile, 'utf8'), key: readFileSync(keyFile, 'utf8'), ca, generated: true, certFile }
}

/** selfsigned's certificate, made in a child node process: node-forge (~40 modules) would otherwise stay loaded, and its
 *  ~4 MB held, in a server that made its certificate once at its first start (issue 11 item 7). */
function generateInChild(options: SelfsignedOptions): GenerateResult {
  const code = `const o = JSON.parse(require('node:fs').readFileSync(0, 'utf8'));
process.stdout.write(JSON.stringify(require(o.module).generate(o.attrs, o.options)))`
  const input = JSON.stringify({ module: createRequire(import.meta.url).resolve('selfsigned'), attrs: [{ name: 'commonName', value: 'localhost' }], options })
  try {
    return JSON.parse(execFileSync(process.execPath, ['-e', code], { input, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'], timeout: 120_000 }))
  } catch (e) {
    const stderr = (e as { stderr?: string }).stderr?.trim()
    throw new Error(`cannot make the development certificate: ${stderr || (e as Error).message}`)
  }
}
