// Issue 2 §6: one store suite on SQLite (better-sqlite3, WAL, in the data directory) and PostgreSQL:
// per-owner migrations, the UserStore behind `herald user`, and openStore's errors.
import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { sql, type Migration } from 'kysely'
import pg from 'pg'
import { migrate, openStore, type Store } from '../../src/core/store/db.ts'
import { coreMigrations, UserStore } from '../../src/core/store/users.ts'
import { connect, createPgSchema, dropPgSchema, PG_URL, pgUrlForSchema, requireService, startTestHerald } from '../helpers.ts'

async function pgAvailable(): Promise<boolean> {
  const c = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 3000 })
  try { await c.connect(); await c.end(); return true } catch { return false }
}

const demoV1: Record<string, Migration> = {
  '001_things': {
    async up(db) {
      await db.schema.createTable('demo_things')
        .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute()
    },
  },
}
const demoV2: Record<string, Migration> = {
  ...demoV1,
  '002_label': { async up(db) { await db.schema.alterTable('demo_things').addColumn('label', 'varchar(255)').execute() } },
}

const kinds = [
  { kind: 'sqlite' as const, available: true },
  { kind: 'postgres' as const, available: await pgAvailable() },
]

for (const { kind, available } of kinds) {
  describe(`store on ${kind}`, () => {
    const opts = requireService(available, 'PostgreSQL at ' + PG_URL)
    let dataDir: string
    let schema: string | undefined
    let store: Store

    before(async () => {
      if (opts.skip) return
      dataDir = mkdtempSync(join(tmpdir(), 'herald-store-'))
      if (kind === 'postgres') schema = await createPgSchema()
      store = openStore({ dataDir, databaseUrl: schema ? pgUrlForSchema(schema) : '' })
      await migrate(store.db, 'core', coreMigrations)
    })
    after(async () => {
      if (opts.skip) return
      await store.close()
      rmSync(dataDir, { recursive: true, force: true })
      if (schema) await dropPgSchema(schema)
    })

    test('opens the expected database', opts, async () => {
      assert.equal(store.kind, kind)
      if (kind === 'sqlite') {
        assert.equal(store.where, join(dataDir, 'herald.db'))
        assert.ok(existsSync(store.where))
        const { rows } = await sql<{ journal_mode: string }>`PRAGMA journal_mode`.execute(store.db)
        assert.equal(rows[0].journal_mode, 'wal')
      } else {
        assert.match(store.where, /^postgres:\/\/127\.0\.0\.1:5432\/test$/)
        const { rows } = await sql<{ s: string }>`SELECT current_schema() AS s`.execute(store.db)
        assert.equal(rows[0].s, schema)
      }
    })

    test('UserStore: add, verify, find, list, change password, remove', opts, async () => {
      const users = new UserStore(store.db)
      await users.add('zed', 'first')
      await users.add('amy', 'pw', true)
      assert.deepEqual(await users.verify('zed', 'first'), { superuser: false })
      assert.equal(await users.verify('zed', 'wrong'), null)
      assert.equal(await users.verify('nobody', 'first'), null)
      assert.deepEqual(await users.find('amy'), { superuser: true })
      const list = await users.list()
      assert.deepEqual(list.map((u) => [u.username, u.superuser]), [['amy', true], ['zed', false]])
      assert.equal(typeof list[0].created_at, 'number')
      assert.ok(Date.now() - list[0].created_at < 60_000)
      await users.add('zed', 'second')
      assert.equal(await users.verify('zed', 'first'), null)
      assert.deepEqual(await users.verify('zed', 'second'), { superuser: false })
      assert.equal((await users.list()).length, 2)
      assert.equal(await users.remove('zed'), true)
      assert.equal(await users.remove('zed'), false)
      assert.deepEqual((await users.list()).map((u) => u.username), ['amy'])
    })

    test('passwords are stored as scrypt hashes, never in clear', opts, async () => {
      await new UserStore(store.db).add('hashme', 'clear-text-secret')
      const row = await store.db.selectFrom('herald_users').select('password_hash').where('username', '=', 'hashme').executeTakeFirstOrThrow()
      assert.match(row.password_hash, /^scrypt\$\d+\$\d+\$\d+\$[^$]+\$[^$]+$/)
      assert.ok(!row.password_hash.includes('clear-text-secret'))
    })

    test('migrations are per owner, run once, and only the new ones run later', opts, async () => {
      await migrate(store.db, 'demo', demoV1)
      await migrate(store.db, 'demo', demoV1)
      await store.db.insertInto('demo_things').values({ id: 'a', created_at: 1_700_000_000_000 }).execute()
      await migrate(store.db, 'demo', demoV2)
      await store.db.updateTable('demo_things').set({ label: 'labelled' }).where('id', '=', 'a').execute()
      const row = await store.db.selectFrom('demo_things').selectAll().executeTakeFirstOrThrow()
      assert.deepEqual(row, { id: 'a', created_at: 1_700_000_000_000, label: 'labelled' })
      assert.equal(typeof row.created_at, 'number', 'BIGINT comes back as a number on both databases')
      const done = await store.db.selectFrom('herald_demo_migrations').select('name').orderBy('name').execute()
      assert.deepEqual(done.map((r) => r.name), ['001_things', '002_label'])
      // the core's own record is separate
      const core = await store.db.selectFrom('herald_core_migrations').select('name').execute()
      assert.deepEqual(core.map((r) => r.name), ['001_users'])
    })

    test('a failing migration names its owner and migration', opts, async () => {
      const broken: Record<string, Migration> = {
        '001_bad': { async up(db) { await sql`CREATE TABLE broken_x (id NOT A TYPE ((`.execute(db) } },
      }
      await assert.rejects(migrate(store.db, 'broken', broken), /migration broken\/001_bad failed: /)
    })
  })
}

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
