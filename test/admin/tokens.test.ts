// The admin token store (herald_admin_tokens, core migration 008): one suite on SQLite and on PostgreSQL.
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { AdminTokenStore, tokenHash } from '../../src/core/admin/tokens.ts'
import { migrate, openStore, type Store } from '../../src/core/store/db.ts'
import { coreMigrations } from '../../src/core/store/users.ts'
import { createPgSchema, dropPgSchema, pgAvailable, pgUrlForSchema, requireService } from '../helpers.ts'

const pg = await pgAvailable()

for (const kind of ['sqlite', 'postgres'] as const) {
  describe(`admin tokens on ${kind}`, kind === 'postgres' ? requireService(pg, 'PostgreSQL at 127.0.0.1:5432') : {}, () => {
    let store: Store
    let dir: string
    let schema: string | undefined
    before(async () => {
      dir = mkdtempSync(join(tmpdir(), 'herald-tokens-'))
      if (kind === 'postgres') schema = await createPgSchema()
      store = openStore({ databaseUrl: schema ? pgUrlForSchema(schema) : '', dataDir: dir })
      await migrate(store.db, 'core', coreMigrations)
    })
    after(async () => {
      await store?.close()
      if (schema) await dropPgSchema(schema)
      rmSync(dir, { recursive: true, force: true })
    })

    test('a created token is found by its value, stored only as its hash', async () => {
      const tokens = new AdminTokenStore(store.db)
      const t = await tokens.create('ci')
      assert.equal(await tokens.find(t), 'ci')
      assert.equal(await tokens.find(`${t}x`), undefined)
      const rows = await store.db.selectFrom('herald_admin_tokens').selectAll().execute()
      assert.deepEqual(rows.map((r) => r.token_hash), [tokenHash(t)])
      assert.ok(!JSON.stringify(rows).includes(t))
      assert.deepEqual((await tokens.list()).map((r) => r.name), ['ci'])
    })
  })
}
