// The core store contract (issue 2 §6, issue 9 §6): the database openStore opens, per-owner migrations and the
// UserStore behind `herald user`; run on SQLite (better-sqlite3, WAL, in the data directory) and PostgreSQL.
import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import type { Migration } from 'kysely'
import { sql } from '../../src/core/store/kysely.ts'
import { migrate, openStore, type Store } from '../../src/core/store/db.ts'
import { coreMigrations, UserStore } from '../../src/core/store/users.ts'
import { createPgSchema, dropPgSchema, pgUrlForSchema } from '../helpers.ts'

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

/** `opts.skip` when the database is not available (requireService) */
export function coreStoreContract(kind: 'sqlite' | 'postgres', opts: { skip?: string | false }): void {
  describe(`store on ${kind}`, () => {
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
      assert.deepEqual(core.map((r) => r.name).sort(), Object.keys(coreMigrations).sort())
    })

    test('a failing migration names its owner and migration', opts, async () => {
      const broken: Record<string, Migration> = {
        '001_bad': { async up(db) { await sql`CREATE TABLE broken_x (id NOT A TYPE ((`.execute(db) } },
      }
      await assert.rejects(migrate(store.db, 'broken', broken), /migration broken\/001_bad failed: /)
    })
  })

}
