// Herald's CA in the database (issue 13 §1, cluster mode): every node and `herald ca …` share one root, one serial
// counter and one list of revocations. Tables herald_ca (one row: root, counter, revocation counter, CRL),
// herald_ca_certs (the issued certificates) and herald_ca_codes (hashed one-time codes); core migration 007, frozen.
import { timingSafeEqual } from 'node:crypto'
import type { Migration, Transaction } from 'kysely'
import { sql } from '../store/kysely.ts'
import type { Db } from '../store/db.ts'
import { FIRST_SERIAL, type CaRoot, type CaStore, type CodeEntry, type FileCaStore, type IssuedEntry } from './store.ts'
import { normalSerial } from './serial.ts'

export const caMigration: Migration = {
  async up(db) {
    await db.schema.createTable('herald_ca')
      // always 1: inserting it is how one node wins the race to create the CA
      .addColumn('id', 'integer', (c) => c.primaryKey())
      .addColumn('key_pem', 'text', (c) => c.notNull())
      .addColumn('cert_pem', 'text', (c) => c.notNull())
      .addColumn('next_serial', 'bigint', (c) => c.notNull())
      // counts revocations: what running nodes poll
      .addColumn('revocations', 'bigint', (c) => c.notNull().defaultTo(0))
      .addColumn('crl_pem', 'text')
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .execute()
    await db.schema.createTable('herald_ca_certs')
      .addColumn('serial', 'varchar(64)', (c) => c.primaryKey())
      .addColumn('name', 'varchar(255)', (c) => c.notNull())
      .addColumn('subject', 'text', (c) => c.notNull())
      .addColumn('not_before', 'bigint', (c) => c.notNull())
      .addColumn('not_after', 'bigint', (c) => c.notNull())
      .addColumn('revoked_at', 'bigint')
      .addColumn('issued_at', 'bigint', (c) => c.notNull())
      .addColumn('cert_pem', 'text', (c) => c.notNull())
      .execute()
    await db.schema.createIndex('herald_ca_certs_name').on('herald_ca_certs').column('name').execute()
    await db.schema.createTable('herald_ca_codes')
      .addColumn('name', 'varchar(255)', (c) => c.primaryKey())
      .addColumn('sha256', 'varchar(64)', (c) => c.notNull())
      .addColumn('expires_at', 'bigint', (c) => c.notNull())
      .execute()
  },
}

interface CertRow { serial: string; name: string; subject: string; not_before: number; not_after: number; revoked_at: number | null }

const iso = (ms: number | string) => new Date(Number(ms)).toISOString()

function entryOf(r: CertRow): IssuedEntry {
  const e: IssuedEntry = { serial: r.serial, name: r.name, subject: r.subject, notBefore: iso(r.not_before), notAfter: iso(r.not_after) }
  if (r.revoked_at !== null && r.revoked_at !== undefined) e.revokedAt = iso(r.revoked_at)
  return e
}

const CERT_COLUMNS = ['serial', 'name', 'subject', 'not_before', 'not_after', 'revoked_at'] as const

/** rolls the revocation transaction back when there was nothing to revoke (the counter stays) */
class NothingRevoked extends Error {}

export class SqlCaStore implements CaStore {
  /** `where` names the database for messages; `onClose` closes what was opened for this store alone (the CLI's connection) */
  constructor(private readonly db: Db, readonly where: string, private readonly onClose?: () => Promise<void>) {}

  async root(): Promise<CaRoot | undefined> {
    const r = await this.db.selectFrom('herald_ca').select(['key_pem', 'cert_pem']).where('id', '=', 1).executeTakeFirst()
    return r && { keyPem: r.key_pem, certPem: r.cert_pem }
  }

  async createRoot(make: () => Promise<CaRoot>): Promise<{ root: CaRoot; created: boolean }> {
    const there = await this.root()
    if (there) return { root: there, created: false }
    const mine = await make()
    await this.db.insertInto('herald_ca')
      .values({ id: 1, key_pem: mine.keyPem, cert_pem: mine.certPem, next_serial: Number(FIRST_SERIAL), revocations: 0, crl_pem: null, created_at: Date.now() })
      .onConflict((oc) => oc.column('id').doNothing())
      .execute()
    // another node may have inserted first: its root is the CA, ours is dropped
    const root = (await this.root())!
    return { root, created: root.certPem === mine.certPem }
  }

  async allocateSerial(): Promise<string> {
    const r = await this.db.updateTable('herald_ca').set({ next_serial: sql`next_serial + 1` }).where('id', '=', 1)
      .returning('next_serial').executeTakeFirst()
    if (!r) throw new Error(`no certificate authority in ${this.where}`)
    return (BigInt(r.next_serial) - 1n).toString(16).toUpperCase()
  }

  async addIssued(e: IssuedEntry, certPem: string): Promise<void> {
    await this.db.insertInto('herald_ca_certs').values({
      serial: normalSerial(e.serial), name: e.name, subject: e.subject, not_before: Date.parse(e.notBefore), not_after: Date.parse(e.notAfter),
      revoked_at: e.revokedAt ? Date.parse(e.revokedAt) : null, issued_at: Date.now(), cert_pem: certPem,
    }).execute()
  }

  private async entries(db: Db | Transaction<any>, unrevokedOnly = false): Promise<IssuedEntry[]> {
    let q = db.selectFrom('herald_ca_certs').select([...CERT_COLUMNS])
    if (unrevokedOnly) q = q.where('revoked_at', 'is', null)
    // serials count up: shorter hex first, then by text, is numeric order
    const rows = await q.orderBy('issued_at').orderBy(sql`length(serial)`).orderBy('serial').execute() as CertRow[]
    return rows.map(entryOf)
  }

  issued(): Promise<IssuedEntry[]> { return this.entries(this.db) }

  async issuedPem(serial: string): Promise<string | undefined> {
    const r = await this.db.selectFrom('herald_ca_certs').select('cert_pem').where('serial', '=', normalSerial(serial)).executeTakeFirst()
    return r?.cert_pem
  }

  async revoked(): Promise<Set<string>> {
    const rows = await this.db.selectFrom('herald_ca_certs').select('serial').where('revoked_at', 'is not', null).execute()
    return new Set(rows.map((r) => r.serial as string))
  }

  async revoke(pick: (unrevoked: IssuedEntry[]) => IssuedEntry[], crl: (revoked: IssuedEntry[]) => Promise<string>): Promise<IssuedEntry[]> {
    try {
      return await this.db.transaction().execute(async (trx) => {
        // the update first: it locks the CA's row (PostgreSQL) or the database (SQLite), so revocations take turns
        const bumped = await trx.updateTable('herald_ca').set({ revocations: sql`revocations + 1` }).where('id', '=', 1).executeTakeFirst()
        if (!bumped.numUpdatedRows) throw new Error(`no certificate authority in ${this.where}`)
        const hit = pick(await this.entries(trx, true))
        if (!hit.length) throw new NothingRevoked()
        const at = Date.now()
        const serials = hit.map((e) => e.serial)
        await trx.updateTable('herald_ca_certs').set({ revoked_at: at }).where('serial', 'in', serials).where('revoked_at', 'is', null).execute()
        const revoked = (await this.entries(trx)).filter((e) => e.revokedAt)
        await trx.updateTable('herald_ca').set({ crl_pem: await crl(revoked) }).where('id', '=', 1).execute()
        return revoked.filter((e) => serials.includes(e.serial))
      })
    } catch (e) {
      if (e instanceof NothingRevoked) return []
      throw e
    }
  }

  async crl(): Promise<string | undefined> {
    const r = await this.db.selectFrom('herald_ca').select('crl_pem').where('id', '=', 1).executeTakeFirst()
    return r?.crl_pem ?? undefined
  }

  async ensureCrl(crl: (revoked: IssuedEntry[]) => Promise<string>): Promise<void> {
    if (await this.crl()) return
    const pem = await crl((await this.issued()).filter((e) => e.revokedAt))
    await this.db.updateTable('herald_ca').set({ crl_pem: pem }).where('id', '=', 1).where('crl_pem', 'is', null).execute()
  }

  async revocationStamp(): Promise<string> {
    const r = await this.db.selectFrom('herald_ca').select('revocations').where('id', '=', 1).executeTakeFirst()
    return r ? String(r.revocations) : 'none'
  }

  async putCode(c: CodeEntry): Promise<void> {
    const row = { sha256: c.sha256, expires_at: Date.parse(c.expiresAt) }
    await this.db.deleteFrom('herald_ca_codes').where('expires_at', '<=', Date.now()).execute()
    await this.db.insertInto('herald_ca_codes').values({ name: c.name, ...row })
      .onConflict((oc) => oc.column('name').doUpdateSet(row)).execute()
  }

  async takeCode(name: string, sha256: string, now = new Date()): Promise<boolean> {
    const r = await this.db.selectFrom('herald_ca_codes').select('sha256').where('name', '=', name).where('expires_at', '>', now.getTime()).executeTakeFirst()
    if (!r || r.sha256.length !== sha256.length || !timingSafeEqual(Buffer.from(r.sha256, 'hex'), Buffer.from(sha256, 'hex'))) return false
    // the delete decides: of two nodes taking the same code at once, one deletes the row
    const d = await this.db.deleteFrom('herald_ca_codes').where('name', '=', name).where('sha256', '=', sha256).executeTakeFirst()
    return Number(d.numDeletedRows) === 1
  }

  /**
   * `herald ca import`: a CA's files (one node) into this empty database (cluster mode), in one transaction: the root,
   * the serial counter, every issued certificate with its revocation, the CRL and the unexpired codes.
   */
  async importFiles(from: FileCaStore): Promise<{ certificates: number }> {
    const root = await from.root()
    if (!root) throw new Error(`no certificate authority in ${from.where}`)
    const issued = await from.issued()
    let next = FIRST_SERIAL
    try { next = BigInt('0x' + from.files.read('serial').trim()) } catch { /* nothing issued yet */ }
    for (const e of issued) if (BigInt('0x' + e.serial) >= next) next = BigInt('0x' + e.serial) + 1n
    const pems = await Promise.all(issued.map(async (e) => (await from.issuedPem(e.serial)) ?? ''))
    const now = Date.now()
    await this.db.transaction().execute(async (trx) => {
      const inserted = await trx.insertInto('herald_ca').values({
        id: 1, key_pem: root.keyPem, cert_pem: root.certPem, next_serial: Number(next), revocations: 1, crl_pem: (await from.crl()) ?? null, created_at: now,
      }).onConflict((oc) => oc.column('id').doNothing()).executeTakeFirst()
      if (!Number(inserted.numInsertedOrUpdatedRows)) throw new Error(`${this.where} has a certificate authority already`)
      for (const [i, e] of issued.entries()) {
        await trx.insertInto('herald_ca_certs').values({
          serial: normalSerial(e.serial), name: e.name, subject: e.subject, not_before: Date.parse(e.notBefore), not_after: Date.parse(e.notAfter),
          revoked_at: e.revokedAt ? Date.parse(e.revokedAt) : null, issued_at: now - issued.length + i, cert_pem: pems[i],
        }).execute()
      }
      for (const c of from.files.codes().filter((c) => Date.parse(c.expiresAt) > now)) {
        await trx.insertInto('herald_ca_codes').values({ name: c.name, sha256: c.sha256, expires_at: Date.parse(c.expiresAt) }).execute()
      }
    })
    return { certificates: issued.length }
  }

  async close(): Promise<void> { await this.onClose?.() }
}
