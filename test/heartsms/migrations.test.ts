// heartsms §8 / issue 9 §5: the frozen migrations create exactly the columns schema.ts declares, on SQLite and
// PostgreSQL: a column added to the declaration without a new migration (or the reverse) fails here.
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { sql } from '../../src/core/store/kysely.ts'
import pg from 'pg'
import { migrate, openStore, type Store } from '../../src/core/store/db.ts'
import { migrations } from '../../src/dialects/heartsms/migrations.ts'
import { columnInfo, SETTINGS, TABLES } from '../../src/dialects/heartsms/schema.ts'
import { createPgSchema, dropPgSchema, PG_URL, pgUrlForSchema, requireService } from '../helpers.ts'

async function pgAvailable(): Promise<boolean> {
  const c = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 3000 })
  try { await c.connect(); await c.end(); return true } catch { return false }
}

interface Col { name: string; notNull: boolean; def: string | null }

async function columns(store: Store, table: string): Promise<Col[]> {
  if (store.kind === 'sqlite') {
    const r = await sql<{ name: string; notnull: number; dflt_value: string | null }>`SELECT * FROM pragma_table_info(${table})`.execute(store.db)
    return r.rows.map((c) => ({ name: c.name, notNull: c.notnull === 1, def: c.dflt_value }))
  }
  const r = await sql<{ column_name: string; is_nullable: string; column_default: string | null }>`
    SELECT column_name, is_nullable, column_default FROM information_schema.columns
    WHERE table_schema = current_schema() AND table_name = ${table} ORDER BY ordinal_position`.execute(store.db)
  return r.rows.map((c) => ({ name: c.column_name, notNull: c.is_nullable === 'NO', def: c.column_default }))
}

/** What a declaration says of its column, in the database's words (defaults as SQL literals). */
function expected(name: string, decl: string): Col {
  const i = columnInfo(decl)
  return { name, notNull: i.notNull, def: i.def === undefined ? null : i.kind === 's' ? `'${i.def}'` : i.def }
}

/** PostgreSQL spells a text default `'x'::text`; a negative number `'-1'::integer` or `'-1'::bigint` */
const normalise = (d: string | null) => d?.replace(/::[a-z ]+$/, '').replace(/^'(-?\d+)'$/, '$1').replace(/^\((.*)\)$/, '$1') ?? null

const kinds = [
  { kind: 'sqlite' as const, available: true },
  { kind: 'postgres' as const, available: await pgAvailable() },
]

for (const { kind, available } of kinds) {
  describe(`heartsms migrations on ${kind}`, () => {
    const opts = requireService(available, 'PostgreSQL at ' + PG_URL)

    test('every declared column exists with its nullability and default, and no other', opts, async () => {
      const dataDir = mkdtempSync(join(tmpdir(), 'herald-hmig-'))
      const schema = kind === 'postgres' ? await createPgSchema() : undefined
      const store = openStore({ dataDir, databaseUrl: schema ? pgUrlForSchema(schema) : '' })
      try {
        await migrate(store.db, 'heartsms', migrations)
        for (const [table, cols] of Object.entries(TABLES)) {
          const got = (await columns(store, `heartsms_${table}`)).map((c) => ({ ...c, def: normalise(c.def) }))
          assert.deepEqual(got.map((c) => c.name), ['id', 'account_id', 'updated_at', ...Object.keys(cols)], table)
          for (const [name, decl] of Object.entries(cols)) {
            assert.deepEqual(got.find((c) => c.name === name), expected(name, decl), `${table}.${name}`)
          }
        }
        const got = (await columns(store, 'heartsms_settings')).map((c) => ({ ...c, def: normalise(c.def) }))
        assert.deepEqual(got.map((c) => c.name), ['account_id', ...Object.keys(SETTINGS)])
        for (const [name, decl] of Object.entries(SETTINGS)) {
          assert.deepEqual(got.find((c) => c.name === name), expected(name, decl), `settings.${name}`)
        }
      } finally {
        await store.close()
        rmSync(dataDir, { recursive: true, force: true })
        if (schema) await dropPgSchema(schema)
      }
    })
  })
}
