// Where Herald's CA keeps its state (issue 13 §1): the root key and certificate, the serial counter, the index of
// issued certificates with their revocations, the CRL and the hashed one-time enrollment codes. Two implementations
// of one interface: files in <dataDir>/ca (one node, SQLite; below) and the database (sql-store.ts; PostgreSQL, so
// that every node of a cluster and `herald ca …` on any machine share one CA). test/identity/ca-store.test.ts is the
// contract both pass.
import { timingSafeEqual } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, renameSync, rmdirSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { normalSerial } from './serial.ts'

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

export interface CaRoot { keyPem: string; certPem: string }

export type CertStatus = 'valid' | 'revoked' | 'expired'

export function statusOf(e: IssuedEntry, now = new Date()): CertStatus {
  return e.revokedAt ? 'revoked' : new Date(e.notAfter) <= now ? 'expired' : 'valid'
}

/** the first serial number a CA hands out */
export const FIRST_SERIAL = 0x1000n

export interface CaStore {
  /** where the CA lives, for messages (a directory, or the database) */
  readonly where: string
  root(): Promise<CaRoot | undefined>
  /** Store the root `make` creates unless there is one: an existing root wins (two nodes starting at once end with one CA). */
  createRoot(make: () => Promise<CaRoot>): Promise<{ root: CaRoot; created: boolean }>
  /** a serial number (upper-case hex) never handed out before, also under concurrent callers */
  allocateSerial(): Promise<string>
  addIssued(entry: IssuedEntry, certPem: string): Promise<void>
  /** every issued certificate, in issue order */
  issued(): Promise<IssuedEntry[]>
  issuedPem(serial: string): Promise<string | undefined>
  /** serials of the revoked certificates */
  revoked(): Promise<Set<string>>
  /**
   * As one step (no other revocation in between): mark revoked the not yet revoked entries `pick` chooses, then store
   * the CRL `crl` makes of every revoked entry. Answers the entries revoked now.
   */
  revoke(pick: (unrevoked: IssuedEntry[]) => IssuedEntry[], crl: (revoked: IssuedEntry[]) => Promise<string>): Promise<IssuedEntry[]>
  crl(): Promise<string | undefined>
  /** store a CRL made from the current revocations when there is none yet (a new CA) */
  ensureCrl(crl: (revoked: IssuedEntry[]) => Promise<string>): Promise<void>
  /** changes whenever a certificate is revoked; cheap, a running node polls it */
  revocationStamp(): Promise<string>
  /** `name`'s one-time code, replacing an earlier one; expired codes are dropped */
  putCode(code: CodeEntry): Promise<void>
  /** use up `name`'s code if its hash matches and it has not expired: true once */
  takeCode(name: string, sha256: string, now?: Date): Promise<boolean>
  close(): Promise<void>
}

const LOCK_WAIT_MS = 5000
const LOCK_STALE_MS = 30_000

/** The CA's files in <dataDir>/ca: written atomically (rename), serialized by a lock directory across processes. */
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

  /** the next serial number (hex), counting up from FIRST_SERIAL */
  nextSerial(): string {
    let n = FIRST_SERIAL
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

/** The CA in <dataDir>/ca: the key 0600, PEM files openssl reads, `herald ca …` next to a running server on the same directory. */
export class FileCaStore implements CaStore {
  readonly files: CaFiles
  constructor(dataDir: string) { this.files = new CaFiles(dataDir) }

  get where(): string { return this.files.dir }

  async root(): Promise<CaRoot | undefined> {
    if (!this.files.exists()) return undefined
    return { keyPem: this.files.read('ca.key'), certPem: this.files.read('ca.crt') }
  }

  createRoot(make: () => Promise<CaRoot>): Promise<{ root: CaRoot; created: boolean }> {
    return this.files.locked(async () => {
      const there = await this.root()
      if (there) return { root: there, created: false }
      const root = await make()
      this.files.write(this.files.path('ca.key'), root.keyPem, 0o600)
      this.files.write(this.files.path('ca.crt'), root.certPem)
      return { root, created: true }
    })
  }

  allocateSerial(): Promise<string> { return this.files.locked(() => this.files.nextSerial()) }

  addIssued(entry: IssuedEntry, certPem: string): Promise<void> {
    return this.files.locked(() => {
      this.files.write(this.files.issuedPath(entry.serial), certPem)
      this.files.writeIndex([...this.files.index(), entry])
    })
  }

  async issued(): Promise<IssuedEntry[]> { return this.files.index() }

  async issuedPem(serial: string): Promise<string | undefined> {
    try { return readFileSync(this.files.issuedPath(serial), 'utf8') } catch { return undefined }
  }

  async revoked(): Promise<Set<string>> { return new Set(this.files.index().filter((e) => e.revokedAt).map((e) => e.serial)) }

  revoke(pick: (unrevoked: IssuedEntry[]) => IssuedEntry[], crl: (revoked: IssuedEntry[]) => Promise<string>): Promise<IssuedEntry[]> {
    return this.files.locked(async () => {
      const index = this.files.index()
      const hit = pick(index.filter((e) => !e.revokedAt))
      if (!hit.length) return []
      const at = new Date().toISOString()
      const serials = new Set(hit.map((e) => e.serial))
      for (const e of index) if (serials.has(e.serial)) e.revokedAt = at
      const pem = await crl(index.filter((e) => e.revokedAt))
      this.files.writeIndex(index)
      this.files.write(this.files.path('crl.pem'), pem)
      return index.filter((e) => serials.has(e.serial))
    })
  }

  async crl(): Promise<string | undefined> {
    try { return this.files.read('crl.pem') } catch { return undefined }
  }

  ensureCrl(crl: (revoked: IssuedEntry[]) => Promise<string>): Promise<void> {
    return this.files.locked(async () => {
      if (existsSync(this.files.path('crl.pem'))) return
      this.files.write(this.files.path('crl.pem'), await crl(this.files.index().filter((e) => e.revokedAt)))
    })
  }

  async revocationStamp(): Promise<string> { return this.files.indexStamp() }

  putCode(code: CodeEntry): Promise<void> {
    return this.files.locked(() => {
      const now = Date.now()
      const codes = this.files.codes().filter((c) => c.name !== code.name && new Date(c.expiresAt).getTime() > now)
      this.files.writeCodes([...codes, code])
    })
  }

  takeCode(name: string, sha256: string, now = new Date()): Promise<boolean> {
    const given = Buffer.from(sha256, 'hex')
    return this.files.locked(() => {
      const codes = this.files.codes().filter((c) => new Date(c.expiresAt) > now)
      const i = codes.findIndex((c) => c.name === name && c.sha256.length === sha256.length && timingSafeEqual(Buffer.from(c.sha256, 'hex'), given))
      if (i < 0) return false
      codes.splice(i, 1)
      this.files.writeCodes(codes)
      return true
    })
  }

  async close(): Promise<void> {}
}
