// The store: Kysely over SQLite (better-sqlite3, WAL; the default) or PostgreSQL (HERALD_DATABASE_URL).
// Each owner (core, each dialect) brings its own migrations, tracked in its own table.
import { mkdirSync, statSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { Worker } from 'node:worker_threads'
import SQLite from 'better-sqlite3'
import type { Migration } from 'kysely'
import { Kysely, Migrator, PostgresAdapter, PostgresDialect, SqliteDialect, sql } from './kysely.ts'
import type pgModule from 'pg'

export type Db = Kysely<any>
export type DbKind = 'sqlite' | 'postgres'

export interface Store {
  db: Db
  kind: DbKind
  /** human-readable location, password-free */
  where: string
  close(): Promise<void>
}

export interface StoreOptions {
  databaseUrl?: string
  dataDir: string
  /** SQLite file name inside dataDir */
  file?: string
  /** SQLite: the background checkpointer's pace (defaults: every 50 ms, ends after 10 s idle, WAL looked at every 1 s) */
  checkpoints?: Checkpoints
}

export interface Checkpoints { everyMs: number; idleMs: number; watchMs: number }
const CHECKPOINTS: Checkpoints = { everyMs: 50, idleMs: 10_000, watchMs: 1000 }

// pg is loaded when a PostgreSQL store is opened: an embedded Herald never pays its memory (issue 11 item 7)
let pgLoaded: typeof pgModule | undefined
function pgModuleSync(): typeof pgModule {
  if (!pgLoaded) {
    pgLoaded = createRequire(import.meta.url)('pg') as typeof pgModule
    // PostgreSQL BIGINT (int8) comes back as a string by default; Herald's ids and timestamps fit in a double.
    pgLoaded.types.setTypeParser(20, (v) => Number(v))
  }
  return pgLoaded
}

export function openStore(o: StoreOptions): Store {
  if (o.databaseUrl && /^postgres(ql)?:\/\//.test(o.databaseUrl)) {
    const pool = new (pgModuleSync().Pool)({ connectionString: o.databaseUrl, max: 10 })
    // an idle client losing its server must not take the process down; the next query reports it
    pool.on('error', () => {})
    const db = new Kysely<any>({ dialect: new PostgresDialect({ pool }) })
    const u = new URL(o.databaseUrl)
    return { db, kind: 'postgres', where: `postgres://${u.host}${u.pathname}`, close: () => db.destroy() }
  }
  if (o.databaseUrl) throw new Error(`HERALD_DATABASE_URL must start with postgres:// (got ${o.databaseUrl.split(':')[0]}:…); leave it empty for SQLite`)
  mkdirSync(o.dataDir, { recursive: true })
  const file = join(o.dataDir, o.file ?? 'herald.db')
  const sqlite = new SQLite(file)
  sqlite.pragma('journal_mode = WAL')
  sqlite.pragma('synchronous = NORMAL')
  sqlite.pragma('busy_timeout = 5000')
  sqlite.pragma('foreign_keys = ON')
  cachePreparedStatements(sqlite)
  const stopCheckpoints = checkpointInBackground(sqlite, file, o.checkpoints ?? CHECKPOINTS)
  const db = new Kysely<any>({ dialect: new SqliteDialect({ database: sqlite }) })
  return { db, kind: 'sqlite', where: file, close: async () => { await stopCheckpoints(); await db.destroy() } }
}

const CHECKPOINTER = `
const { parentPort, workerData } = require('node:worker_threads')
const db = new (require(workerData.driver))(workerData.file, { fileMustExist: true })
db.pragma('busy_timeout = 5000')
let last = '', idle = 0
const stop = () => { clearInterval(timer); db.close(); parentPort.close() }
const timer = setInterval(() => {
  try {
    const r = db.pragma('wal_checkpoint(PASSIVE)')[0]
    const now = r.log + '/' + r.checkpointed
    idle = now === last && r.log === r.checkpointed ? idle + 1 : 0
    last = now
  } catch { idle = 0 }
  if (idle >= workerData.idleTicks) stop()
}, workerData.everyMs)
parentPort.on('message', stop)
`

/**
 * WAL checkpoints copy and fsync pages; run inside a commit they block the event loop for ~10-30 ms. A worker
 * thread with its own connection checkpoints (PASSIVE: never blocks the writer) every 50 ms; the writer's
 * own auto-checkpoint stays as a fallback at a higher threshold, for when the worker falls behind. An idle store
 * holds no worker (a thread costs ~8 MB and 20 wake-ups a second): it ends after 10 s with nothing to checkpoint,
 * and the next write (the WAL file's mtime, looked at every second) starts one again.
 */
function checkpointInBackground(sqlite: SQLite.Database, file: string, pace: Checkpoints): () => Promise<void> {
  const driver = createRequire(import.meta.url).resolve('better-sqlite3')
  const wal = `${file}-wal`
  const walTime = () => { try { return statSync(wal).mtimeMs } catch { return 0 } }
  let worker: { thread: Worker; exited: Promise<void> } | undefined
  let seen = 0
  const start = () => {
    const thread = new Worker(CHECKPOINTER, { eval: true, workerData: { driver, file, everyMs: pace.everyMs, idleTicks: Math.ceil(pace.idleMs / pace.everyMs) } })
    thread.unref()
    thread.on('error', () => {})
    const exited = new Promise<void>((r) => thread.once('exit', () => {
      // what was written up to now was checkpointed, or will be by the next worker the next write starts
      if (worker?.thread === thread) { worker = undefined; seen = walTime() }
      r()
    }))
    worker = { thread, exited }
  }
  sqlite.pragma('wal_autocheckpoint = 10000')
  start()
  const watch = setInterval(() => {
    if (worker) return
    const t = walTime()
    if (t !== seen) { seen = t; start() }
  }, pace.watchMs)
  watch.unref()
  return async () => {
    clearInterval(watch)
    const w = worker
    if (!w) return
    w.thread.ref()
    w.thread.postMessage('close')
    let timer: NodeJS.Timeout | undefined
    await Promise.race([w.exited, new Promise((r) => { timer = setTimeout(r, 2000) })])
    clearTimeout(timer)
    await w.thread.terminate()
  }
}

/**
 * Kysely's SQLite driver prepares every query anew; hot paths repeat the same SQL text, so reuse the prepared
 * statement (better-sqlite3 re-prepares after a schema change by itself). Bounded; statements are only run or
 * iterated to the end on the one connection, never interleaved.
 */
function cachePreparedStatements(sqlite: SQLite.Database): void {
  const prepare = sqlite.prepare.bind(sqlite)
  const cache = new Map<string, SQLite.Statement>()
  sqlite.prepare = ((source: string) => {
    let stmt = cache.get(source)
    if (!stmt) {
      if (cache.size >= 1000) cache.clear()
      stmt = prepare(source)
      cache.set(source, stmt)
    }
    return stmt
  }) as typeof sqlite.prepare
}

/** Run one owner's migrations (owner = `core` or a dialect name); tables are prefixed with the owner's name. */
export async function migrate(db: Db, owner: string, migrations: Record<string, Migration>): Promise<void> {
  // On PostgreSQL, name the schema: without it Kysely takes a same-named table in *any* schema of the database
  // for its own and never creates it in ours (several Herald schemas in one database, e.g. tests or tenants).
  let schema: string | undefined
  if (db.getExecutor().adapter instanceof PostgresAdapter) {
    try {
      schema = (await sql<{ s: string }>`SELECT current_schema() AS s`.execute(db)).rows[0]?.s
    } catch (e) {
      throw new Error(`migration ${owner} failed: ${(e as Error).message}`)
    }
  }
  const migrator = new Migrator({
    db,
    provider: { getMigrations: async () => migrations },
    migrationTableName: `herald_${owner}_migrations`,
    migrationLockTableName: `herald_${owner}_migrations_lock`,
    ...(schema ? { migrationTableSchema: schema } : {}),
  })
  for (let attempt = 1; ; attempt++) {
    const { error, results } = await migrator.migrateToLatest()
    if (!error) return
    const failed = results?.find((r) => r.status === 'Error')
    // Kysely looks for its tables by introspecting every schema of the database; a schema or table another client
    // drops meanwhile fails that query (42P01, 3F000) before any migration ran, so it is safe to look again
    const code = (error as { code?: string }).code
    if (!failed && (code === '42P01' || code === '3F000') && attempt < 5) continue
    throw new Error(`migration ${owner}/${failed?.migrationName ?? '?'} failed: ${(error as Error).message ?? error}`)
  }
}
