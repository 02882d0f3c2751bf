// Issue 2 §6: the core store contract (test/contracts/store.ts) on SQLite and PostgreSQL; Herald on PostgreSQL,
// schemas side by side, and openStore's errors.
import assert from 'node:assert/strict'
import { copyFileSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import Database from 'better-sqlite3'
import { sql } from '../../src/core/store/kysely.ts'
import pg from 'pg'
import { migrate, openStore } from '../../src/core/store/db.ts'
import { coreMigrations, UserStore } from '../../src/core/store/users.ts'
import { coreStoreContract } from '../contracts/store.ts'
import { connect, createPgSchema, eventually, dropPgSchema, PG_URL, pgUrlForSchema, requireService, startTestHerald } from '../helpers.ts'

async function pgAvailable(): Promise<boolean> {
  const c = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 3000 })
  try { await c.connect(); await c.end(); return true } catch { return false }
}

const kinds = [
  { kind: 'sqlite' as const, available: true },
  { kind: 'postgres' as const, available: await pgAvailable() },
]

for (const { kind, available } of kinds) coreStoreContract(kind, requireService(available, 'PostgreSQL at ' + PG_URL))

describe('Herald on PostgreSQL', () => {
  test('users added through Herald log in over MQTT; the data directory holds no SQLite file', requireService(kinds[1].available, 'PostgreSQL'), async () => {
    const h = await startTestHerald({ db: 'postgres' })
    try {
      assert.equal(h.store.kind, 'postgres')
      await h.users.add('pguser', 'pgpw')
      const c = await connect(h.mqttUrl, { username: 'pguser', password: 'pgpw' })
      await c.endAsync()
      assert.ok(!existsSync(join(h.dataDir, 'herald.db')))
    } finally {
      await h.close()
    }
  })
})

describe('two Herald schemas in one PostgreSQL database', () => {
  test('migrations in a fresh schema are not fooled by the same tables in another schema', requireService(kinds[1].available, 'PostgreSQL'), async () => {
    const schemas = [await createPgSchema(), await createPgSchema()]
    const stores = schemas.map((s) => openStore({ dataDir: tmpdir(), databaseUrl: pgUrlForSchema(s) }))
    try {
      for (const store of stores) {
        await migrate(store.db, 'core', coreMigrations)
        await new UserStore(store.db).add('same-name', 'pw')
      }
      for (const [i, s] of schemas.entries()) {
        const { rows } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM information_schema.tables WHERE table_schema = ${s} AND table_name LIKE 'herald_core_%'`.execute(stores[i].db)
        assert.equal(rows[0].n, 2, `migration tables in ${s}`)
      }
    } finally {
      for (const store of stores) await store.close()
      for (const s of schemas) await dropPgSchema(s)
    }
  })
})

describe('openStore errors', () => {
  test('a database URL that is not postgres:// is refused with a clear message', () => {
    assert.throws(() => openStore({ dataDir: tmpdir(), databaseUrl: 'mysql://root@localhost/x' }),
      /HERALD_DATABASE_URL must start with postgres:\/\/ \(got mysql:…\); leave it empty for SQLite/)
  })

  test('an unreachable PostgreSQL fails at the first query (migration), naming the owner', async () => {
    const store = openStore({ dataDir: tmpdir(), databaseUrl: 'postgres://postgres@127.0.0.1:1/none' })
    try {
      await assert.rejects(migrate(store.db, 'core', coreMigrations), /^Error: migration core.* failed: .*ECONNREFUSED/)
    } finally {
      await store.close()
    }
  })

  test('the password of a PostgreSQL URL is not part of `where`', () => {
    const store = openStore({ dataDir: tmpdir(), databaseUrl: 'postgres://u:s3cret@127.0.0.1:5432/db' })
    assert.equal(store.where, 'postgres://127.0.0.1:5432/db')
    return store.close()
  })

  test('a data directory that cannot be created is reported', () => {
    const dir = mkdtempSync(join(tmpdir(), 'herald-store-'))
    try {
      writeFileSync(join(dir, 'a-file'), '')
      assert.throws(() => openStore({ dataDir: join(dir, 'a-file', 'data'), databaseUrl: '' }), /ENOTDIR|EEXIST/)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe('SQLite background checkpoints', () => {
  /** what the database file holds without its WAL: what has been checkpointed into it */
  const checkpointed = (dir: string): string[] => {
    const copy = join(dir, 'copy.db')
    copyFileSync(join(dir, 'herald.db'), copy)
    const db = new Database(copy, { readonly: true })
    try {
      return (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 't_%'").all() as { name: string }[]).map((r) => r.name)
    } catch {
      return []
    } finally {
      db.close()
      rmSync(copy, { force: true })
    }
  }

  test('a write reaches the database file by the worker\'s checkpoints; an idle store\'s worker ends, the next write starts one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'herald-ckpt-'))
    const store = openStore({ dataDir: dir, checkpoints: { everyMs: 20, idleMs: 200, watchMs: 50 } })
    try {
      await sql`CREATE TABLE t_one (x INTEGER)`.execute(store.db)
      await eventually(() => checkpointed(dir).includes('t_one'), 'the first write checkpointed')
      // idle for longer than idleMs: the worker has ended; the writer's own auto-checkpoint is far away (10000 pages)
      await new Promise((r) => setTimeout(r, 600))
      await sql`CREATE TABLE t_two (x INTEGER)`.execute(store.db)
      await eventually(() => checkpointed(dir).includes('t_two'), 'a write after the idle period checkpointed by a new worker')
    } finally {
      await store.close()
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
