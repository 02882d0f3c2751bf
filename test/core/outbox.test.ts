// The outbox contract (test/contracts/outbox.ts) on SQLite (a file of its own) and PostgreSQL (a schema of its own).
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { migrate, openStore } from '../../src/core/store/db.ts'
import { coreMigrations } from '../../src/core/store/users.ts'
import { outboxContract } from '../contracts/outbox.ts'
import { createPgSchema, dropPgSchema, PG_URL, pgUrlForSchema, requireService } from '../helpers.ts'

async function pgAvailable(): Promise<boolean> {
  const c = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 3000 })
  try { await c.connect(); await c.end(); return true } catch { return false }
}

outboxContract('SQLite', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'herald-outbox-'))
  return {
    async open() {
      const store = openStore({ dataDir, databaseUrl: '' })
      await migrate(store.db, 'core', coreMigrations)
      return store
    },
    async close() { rmSync(dataDir, { recursive: true, force: true }) },
  }
})

outboxContract('PostgreSQL', async () => {
  const { skip } = requireService(await pgAvailable(), 'PostgreSQL at ' + PG_URL)
  if (skip) return { skip }
  const schema = await createPgSchema()
  return {
    async open() {
      const store = openStore({ dataDir: tmpdir(), databaseUrl: pgUrlForSchema(schema) })
      await migrate(store.db, 'core', coreMigrations)
      return store
    },
    close: () => dropPgSchema(schema),
  }
})
