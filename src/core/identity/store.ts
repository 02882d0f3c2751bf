// The CA's files in <dataDir>/ca/: key (0600), certificate, serial counter, index of issued certificates, CRL,
// hashed one-time enrollment codes. The CLI and running servers share them: writes are atomic (rename) and serialized by
// a lock directory, so a `herald ca revoke` next to a running server is safe.
import { existsSync, mkdirSync, readFileSync, renameSync, rmdirSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { normalSerial } from './x509.ts'

export interface IssuedEntry {
  /** upper-case hex (normalSerial) */
  serial: string
  name: string
  subject: string
  notBefore: string
  notAfter: string
  /** ISO time of the revocation */
  revokedAt?: string
}

export interface CodeEntry { name: string; sha256: string; expiresAt: string }

export type CertStatus = 'valid' | 'revoked' | 'expired'

export function statusOf(e: IssuedEntry, now = new Date()): CertStatus {
  return e.revokedAt ? 'revoked' : new Date(e.notAfter) <= now ? 'expired' : 'valid'
}

const LOCK_WAIT_MS = 5000
const LOCK_STALE_MS = 30_000

export class CaFiles {
  readonly dir: string
  constructor(dataDir: string) { this.dir = join(dataDir, 'ca') }

  path(name: 'ca.key' | 'ca.crt' | 'serial' | 'index.json' | 'crl.pem' | 'codes.json'): string { return join(this.dir, name) }
  issuedPath(serial: string): string { return join(this.dir, 'issued', `${normalSerial(serial)}.pem`) }

  exists(): boolean { return existsSync(this.path('ca.key')) && existsSync(this.path('ca.crt')) }

  read(name: Parameters<CaFiles['path']>[0]): string { return readFileSync(this.path(name), 'utf8') }

  /** write through a temporary file and rename: a reader never sees half a file */
  write(file: string, text: string, mode = 0o644): void {
    mkdirSync(join(file, '..'), { recursive: true })
    const tmp = `${file}.${process.pid}.tmp`
    writeFileSync(tmp, text, { mode })
    renameSync(tmp, file)
  }

  index(): IssuedEntry[] {
    try { return JSON.parse(this.read('index.json')) as IssuedEntry[] } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return []
      throw new Error(`cannot read ${this.path('index.json')}: ${(e as Error).message}`)
    }
  }

  writeIndex(entries: IssuedEntry[]): void { this.write(this.path('index.json'), JSON.stringify(entries, null, 1) + '\n') }

  /** mtime and size of the index: a running server re-reads it when they change */
  indexStamp(): string {
    try { const s = statSync(this.path('index.json')); return `${s.mtimeMs}:${s.size}` } catch { return 'none' }
  }

  codes(): CodeEntry[] {
    try { return JSON.parse(this.read('codes.json')) as CodeEntry[] } catch { return [] }
  }

  writeCodes(codes: CodeEntry[]): void { this.write(this.path('codes.json'), JSON.stringify(codes) + '\n', 0o600) }

  /** the next serial number (hex), counting up from 0x1000 */
  nextSerial(): string {
    let n = 0x1000n
    try { n = BigInt('0x' + this.read('serial').trim()) } catch { /* first certificate */ }
    this.write(this.path('serial'), (n + 1n).toString(16).toUpperCase() + '\n')
    return n.toString(16).toUpperCase()
  }

  /** run `fn` holding the CA's lock (a directory: mkdir is atomic); a lock older than 30 s is a crashed holder's */
  async locked<T>(fn: () => Promise<T> | T): Promise<T> {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 })
    const lock = join(this.dir, '.lock')
    const until = Date.now() + LOCK_WAIT_MS
    for (;;) {
      try { mkdirSync(lock); break } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e
        try { if (Date.now() - statSync(lock).mtimeMs > LOCK_STALE_MS) { rmdirSync(lock); continue } } catch { continue }
        if (Date.now() > until) throw new Error(`the CA in ${this.dir} is locked by another process (${lock})`)
        await new Promise((r) => setTimeout(r, 25))
      }
    }
    try { return await fn() } finally { rmdirSync(lock) }
  }
}
