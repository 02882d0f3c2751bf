// heartsms §8: all SQL of the dialect (Kysely; SQLite and PostgreSQL). Cascades and triggers of the original
// schema are done here, inside transactions; a public account_id maps to the internal id through a small cache.
import { performance } from 'node:perf_hooks'
import type { Kysely } from 'kysely'
import type { Store } from '../../core/store/db.ts'
import { BoundedMap } from '../../core/util/bounded-map.ts'
import { boolColumns, columnInfo, SETTINGS, TABLES, type Table } from './schema.ts'

/** Any SQL failure: the route answers 500 `could not query database` (heartsms §2). */
export class DbError extends Error {}

export type Row = Record<string, any>
type Cond = unknown | ['<', unknown]
export type Where = Record<string, Cond>
export type Order = 'U' | 'T' | 'N'

export interface Account {
  id: number; session_id: string; username: string; password_hash: string
  real_name: string | null; salt1: string; salt2: string; phone_number: string
}

interface PendingInsert { table: Table; values: Row[]; resolve: () => void; reject: (err: Error) => void }

const BOOLS: Record<string, Set<string>> = Object.fromEntries(
  Object.entries(TABLES).map(([t, cols]) => [t, new Set(boolColumns(cols))]),
)
const SETTING_BOOLS = new Set(boolColumns(SETTINGS))
const CLEANED: Table[] = ['messages', 'conversations', 'contacts', 'drafts', 'scheduled_messages', 'blacklists', 'folders', 'auto_replies', 'templates']
const ACCOUNT_CACHE_LIMIT = 100_000
const ACCOUNT_CACHE_TTL_MS = 60_000

const INT8 = 2 ** 63

/**
 * Booleans as 0/1. Every numeric column of the original is an integer type, so a NaN (a non-numeric string, §2), a
 * fraction, an infinity or a value beyond BIGINT fails as PostgreSQL fails it, on SQLite too.
 */
function dbValue(v: unknown): unknown {
  if (typeof v === 'boolean') return v ? 1 : 0
  if (typeof v === 'number' && (!Number.isInteger(v) || v >= INT8 || v < -INT8)) throw new DbError(`invalid input syntax for type bigint: "${v}"`)
  return v
}

function readRow(bools: Set<string>, row: Row): Row {
  for (const c of bools) if (row[c] !== null && row[c] !== undefined) row[c] = Boolean(row[c])
  return row
}

async function guard<T>(p: Promise<T>): Promise<T> {
  try { return await p } catch (err) { throw new DbError((err as Error).message) }
}

export class HeartStore {
  private db: Kysely<any>
  private lastStamp = 0
  private accounts = new BoundedMap<string, { id: number; at: number }>(ACCOUNT_CACHE_LIMIT)
  private pending: PendingInsert[] = []
  private flushing = 0
  /** SQLite has one writer; PostgreSQL commits in parallel on the pool's connections */
  private maxFlushes: number
  /** PostgreSQL fsyncs every commit: a batch spanning tables commits once (SQLite's WAL commits are cheap) */
  private oneCommit: boolean

  constructor(store: Store) {
    this.db = store.db
    this.maxFlushes = store.kind === 'sqlite' ? 1 : 4
    this.oneCommit = store.kind === 'postgres'
  }

  /**
   * `updated_at` for one request: microseconds, strictly increasing, so a later request always sorts first in the U
   * lists as with the original's NOW(); the rows of one request share it, so they keep insertion order (by id).
   */
  private stamp(): number {
    const now = Math.floor((performance.timeOrigin + performance.now()) * 1000)
    this.lastStamp = now > this.lastStamp ? now : this.lastStamp + 1
    return this.lastStamp
  }

  /** heartsms §13 fix: writes for an unknown account_id change nothing; undefined when it does not exist. */
  async accountId(session: string): Promise<number | undefined> {
    const hit = this.accounts.get(session)
    if (hit && Date.now() - hit.at < ACCOUNT_CACHE_TTL_MS) return hit.id
    const row = await guard(this.db.selectFrom('heartsms_accounts').select('id').where('session_id', '=', session).executeTakeFirst())
    if (!row) { this.accounts.delete(session); return undefined }
    this.accounts.set(session, { id: Number(row.id), at: Date.now() })
    return Number(row.id)
  }

  async findAccount(username: string): Promise<Account | undefined> {
    const row = await guard(this.db.selectFrom('heartsms_accounts').selectAll().where('username', '=', username).executeTakeFirst())
    return row ? { ...row, id: Number(row.id) } as Account : undefined
  }

  async createAccount(a: Omit<Account, 'id'>): Promise<void> {
    // heartsms §8 Accounts.username VARCHAR(64): SQLite does not enforce the length, PostgreSQL does
    if ([...a.username].length > 64) throw new DbError('value too long for type character varying(64)')
    await guard(this.db.transaction().execute(async (trx) => {
      const row = await trx.insertInto('heartsms_accounts').values({ ...a, created_at: Date.now() }).returning('id').executeTakeFirstOrThrow()
      await trx.insertInto('heartsms_settings').values({ account_id: Number(row.id) }).execute()
    }))
  }

  async settings(account: number | undefined, columns: string[]): Promise<Row | undefined> {
    if (account === undefined) return undefined
    const row = await guard(this.db.selectFrom('heartsms_settings').select(columns).where('account_id', '=', account).executeTakeFirst())
    return row ? readRow(SETTING_BOOLS, row) : undefined
  }

  /** heartsms §4.1 update_setting: the column must exist and accept the value, as PostgreSQL would decide. */
  async updateSetting(account: number | undefined, pref: string, value: string | number | boolean): Promise<void> {
    const decl = Object.hasOwn(SETTINGS, pref) ? SETTINGS[pref] : undefined
    if (!decl) throw new DbError(`column "${pref}" does not exist`)
    const stored = settingValue(decl, value)
    if (account === undefined) return
    await guard(this.db.updateTable('heartsms_settings').set({ [pref]: stored }).where('account_id', '=', account).execute())
  }

  async removeAccount(account: number, session: string): Promise<void> {
    this.accounts.delete(session)
    await guard(this.db.transaction().execute(async (trx) => {
      for (const t of [...Object.keys(TABLES), 'settings']) await trx.deleteFrom(`heartsms_${t}`).where('account_id', '=', account).execute()
      await trx.deleteFrom('heartsms_accounts').where('id', '=', account).execute()
    }))
  }

  /** heartsms §4.1 clean_account: devices and settings stay; media goes only with its messages (the trigger). */
  async cleanAccount(account: number): Promise<void> {
    await guard(this.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('heartsms_media').where('account_id', '=', account)
        .where('message_id', 'in', trx.selectFrom('heartsms_messages').select('device_id').where('account_id', '=', account)).execute()
      for (const t of CLEANED) await trx.deleteFrom(`heartsms_${t}`).where('account_id', '=', account).execute()
    }))
  }

  /** issue 15: the admin console's section: accounts and devices in all */
  async summaryCounts(): Promise<{ accounts: number; devices: number }> {
    const row = await guard(this.db.selectNoFrom([
      this.db.selectFrom('heartsms_accounts').select((eb) => eb.fn.countAll().as('c')).as('accounts'),
      this.db.selectFrom('heartsms_devices').select((eb) => eb.fn.countAll().as('c')).as('devices'),
    ]).executeTakeFirstOrThrow())
    return { accounts: Number(row.accounts), devices: Number(row.devices) }
  }

  async counts(account: number): Promise<Record<string, number>> {
    const tables: [string, Table][] = [
      ['device_count', 'devices'], ['message_count', 'messages'], ['conversation_count', 'conversations'],
      ['draft_count', 'drafts'], ['scheduled_count', 'scheduled_messages'], ['blacklist_count', 'blacklists'],
      ['contact_count', 'contacts'], ['template_count', 'templates'], ['folder_count', 'folders'], ['auto_reply_count', 'auto_replies'],
    ]
    const row = await guard(this.db.selectNoFrom(tables.map(([k, t]) =>
      this.db.selectFrom(`heartsms_${t}`).select((eb) => eb.fn.countAll().as('c')).where('account_id', '=', account).as(k),
    )).executeTakeFirstOrThrow())
    return Object.fromEntries(tables.map(([k]) => [k, Number(row[k])]))
  }

  /**
   * One `updated_at` per request, insertion order kept by the serial id. Concurrent requests are group-committed:
   * the rows waiting at the time go into one multi-row INSERT per table, so the database commits once, not per request.
   */
  insert(table: Table, account: number, rows: Row[]): Promise<void> {
    const now = this.stamp()
    const cols = Object.keys(TABLES[table])
    const values = rows.map((r) => {
      const v: Row = { account_id: account, updated_at: now }
      for (const c of cols) if (r[c] !== undefined) v[c] = dbValue(r[c])
      return v
    })
    return new Promise((resolve, reject) => {
      this.pending.push({ table, values, resolve, reject })
      if (this.flushing < this.maxFlushes) this.flush()
    })
  }

  private async flush(): Promise<void> {
    this.flushing++
    try {
      while (this.pending.length) {
        await new Promise((r) => setImmediate(r))
        const batch = this.takeBatch()
        if (batch.length === 0) break
        const byTable = new Map<Table, PendingInsert[]>()
        for (const b of batch) byTable.set(b.table, [...(byTable.get(b.table) ?? []), b])
        // one multi-row INSERT per table (rows keep request order, so serial ids do too); on PostgreSQL one commit
        await this.insertAll(byTable)
      }
    } finally {
      this.flushing--
    }
  }

  /** Waiting inserts up to ~1000 rows (bound parameters stay far below SQLite's and PostgreSQL's limits). */
  private takeBatch(): PendingInsert[] {
    let rows = 0, n = 0
    while (n < this.pending.length && (n === 0 || rows + this.pending[n].values.length <= 1000)) rows += this.pending[n++].values.length
    return this.pending.splice(0, n)
  }

  /** PostgreSQL, several tables: one transaction, so one commit (one fsync); on failure, per table as below. */
  private async insertAll(byTable: Map<Table, PendingInsert[]>): Promise<void> {
    if (byTable.size === 1 || !this.oneCommit) {
      await Promise.all([...byTable].map(([table, items]) => this.insertTogether(table, items)))
      return
    }
    try {
      await this.db.transaction().execute(async (trx) => {
        for (const [table, items] of byTable) await trx.insertInto(`heartsms_${table}`).values(items.flatMap((i) => i.values)).execute()
      })
    } catch {
      await Promise.all([...byTable].map(([table, items]) => this.insertTogether(table, items)))
      return
    }
    for (const items of byTable.values()) for (const i of items) i.resolve()
  }

  private async insertTogether(table: Table, items: PendingInsert[]): Promise<void> {
    const run = (values: Row[]) => this.db.insertInto(`heartsms_${table}`).values(values).execute()
    try {
      await run(items.flatMap((i) => i.values))
      for (const i of items) i.resolve()
    } catch (err) {
      if (items.length === 1) { items[0].reject(new DbError((err as Error).message)); return }
      // one bad request must not fail the others: retry each on its own
      for (const i of items) await run(i.values).then(() => i.resolve(), (e) => i.reject(new DbError((e as Error).message)))
    }
  }

  async list(table: Table, account: number, o: { where?: Where; order: Order; limit?: number; offset?: number; filter?: ConversationIndex }): Promise<Row[]> {
    let q = this.db.selectFrom(`heartsms_${table}`).selectAll().where('account_id', '=', account)
    for (const [c, v] of Object.entries(o.where ?? {})) q = q.where(c, '=', dbValue(v))
    if (o.filter) q = q.where((eb) => indexFilter(eb, o.filter!))
    if (o.order === 'U') q = q.orderBy('updated_at', 'desc').orderBy('id', 'asc')
    else if (o.order === 'T') q = q.orderBy('timestamp', 'desc').orderBy('id', 'asc')
    else q = q.orderBy('id', 'asc')
    if (o.limit !== undefined && o.limit > 0) {
      q = q.limit(o.limit)
      if (o.offset !== undefined && o.offset > 0) q = q.offset(o.offset)
    }
    const rows = await guard(q.execute())
    return rows.map((r) => readRow(BOOLS[table], r))
  }

  /** UPDATE … SET only the supplied fields; with `returning`, the rows as they are after the update. */
  async update(table: Table, account: number, where: Where, set: Row, returning = false): Promise<Row[]> {
    const values: Row = { updated_at: this.stamp() }
    for (const [c, v] of Object.entries(set)) if (v !== undefined) values[c] = dbValue(v)
    return guard(this.db.transaction().execute(async (trx) => {
      let q = trx.updateTable(`heartsms_${table}`).set(values).where('account_id', '=', account)
      for (const [c, v] of Object.entries(where)) q = q.where(c, '=', dbValue(v))
      if (!returning) { await q.execute(); return [] }
      const rows = await q.returningAll().execute()
      return rows.map((r) => readRow(BOOLS[table], r))
    }))
  }

  /** DELETE with the original triggers: messages take their media, conversations their messages and drafts. */
  async remove(table: Table, account: number, where: Where): Promise<void> {
    await guard(this.db.transaction().execute(async (trx) => {
      const cond = (q: any) => {
        let r = q.where('account_id', '=', account)
        for (const [c, v] of Object.entries(where)) r = Array.isArray(v) ? r.where(c, v[0], dbValue(v[1])) : r.where(c, '=', dbValue(v))
        return r
      }
      const dropMessages = async (msgWhere: (q: any) => any) => {
        await trx.deleteFrom('heartsms_media').where('account_id', '=', account)
          .where('message_id', 'in', msgWhere(trx.selectFrom('heartsms_messages').select('device_id'))).execute()
        await msgWhere(trx.deleteFrom('heartsms_messages')).execute()
      }
      if (table === 'messages') return dropMessages(cond)
      if (table === 'conversations') {
        const ids = (await cond(trx.selectFrom('heartsms_conversations').select('device_id')).execute()).map((r: Row) => r.device_id)
        if (ids.length) {
          await dropMessages((q) => q.where('account_id', '=', account).where('device_conversation_id', 'in', ids))
          await trx.deleteFrom('heartsms_drafts').where('account_id', '=', account).where('device_conversation_id', 'in', ids).execute()
        }
      }
      if (table === 'folders') {
        const ids = (await cond(trx.selectFrom('heartsms_folders').select('device_id')).execute()).map((r: Row) => r.device_id)
        if (ids.length) {
          await trx.updateTable('heartsms_conversations').set({ folder_id: -1, updated_at: this.stamp() })
            .where('account_id', '=', account).where('folder_id', 'in', ids).execute()
        }
      }
      if (table === 'devices') {
        // heartsms §13.9: the original trigger compares sent_device with the internal serial id
        const ids = (await cond(trx.selectFrom('heartsms_devices').select('id')).execute()).map((r: Row) => Number(r.id))
        if (ids.length) {
          await trx.updateTable('heartsms_messages').set({ sent_device: -1 })
            .where('account_id', '=', account).where('sent_device', 'in', ids).execute()
        }
      }
      await cond(trx.deleteFrom(`heartsms_${table}`)).execute()
    }))
  }

  /** heartsms §4.2 contacts/remove_ids: internal ids, a comma list. */
  async removeContactsById(account: number, ids: number[]): Promise<void> {
    if (ids.length === 0) return
    await guard(this.db.deleteFrom('heartsms_contacts').where('account_id', '=', account).where('id', 'in', ids.map(dbValue)).execute())
  }

  async updatePrimaryDevice(account: number, deviceId: number): Promise<void> {
    await guard(this.db.transaction().execute(async (trx) => {
      const now = this.stamp()
      await trx.updateTable('heartsms_devices').set({ primary: 0, updated_at: now }).where('account_id', '=', account).execute()
      await trx.updateTable('heartsms_devices').set({ primary: 1, updated_at: now })
        .where('account_id', '=', account).where('device_id', '=', dbValue(deviceId)).execute()
    }))
  }
}

export type ConversationIndex = 'archived' | 'private' | 'public_unarchived' | 'public_unread'

/** heartsms §4.2 conversation index filters. */
function indexFilter(eb: any, f: ConversationIndex) {
  const notInFolder = eb.or([eb('folder_id', 'is', null), eb('folder_id', '<', 0)])
  switch (f) {
    case 'archived': return eb.and([eb('archive', '=', 1), notInFolder])
    case 'private': return eb.and([eb('private_notifications', '=', 1), notInFolder])
    case 'public_unarchived': return eb.and([eb('archive', '=', 0), eb('private_notifications', '=', 0)])
    case 'public_unread': return eb.and([eb('read', '=', 0), eb('private_notifications', '=', 0)])
  }
}

const INT4 = 2 ** 31
const BOOL_WORDS: [string, boolean][] = [['true', true], ['yes', true], ['false', false], ['no', false], ['on', true], ['off', false]]

/** PostgreSQL's boolean input: 1, 0, or a prefix of true/yes/false/no, or of on/off (at least two letters). */
function pgBool(text: string): boolean | undefined {
  const t = text.toLowerCase()
  if (t === '1' || t === '0') return t === '1'
  const hit = BOOL_WORDS.find(([w]) => t !== '' && w.startsWith(t) && (w[0] !== 'o' || t.length >= 2))
  return hit?.[1]
}

/** What PostgreSQL stores for a parameter sent as text into a column of this type; DbError where it refuses. */
export function settingValue(decl: string, value: string | number | boolean): number | string | null {
  const i = columnInfo(decl)
  const text = String(value).trim()
  if (i.kind === 'n' || i.kind === 'i') {
    if (!/^[+-]?\d+$/.test(text)) throw new DbError(`invalid input syntax for type integer: "${value}"`)
    const n = Number(text)
    const limit = i.kind === 'i' ? INT4 : INT8
    if (n >= limit || n < -limit) throw new DbError(`${i.kind === 'i' ? 'integer' : 'bigint'} out of range`)
    return n
  }
  if (i.kind === 'b') {
    const b = pgBool(text)
    if (b === undefined) throw new DbError(`invalid input syntax for type boolean: "${value}"`)
    return b ? 1 : 0
  }
  const s = String(value)
  if (i.max !== undefined && s.length > i.max) throw new DbError(`value too long for type character varying(${i.max})`)
  return s
}
