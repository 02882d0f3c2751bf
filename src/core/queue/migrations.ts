// The outbox table (core migration 002, frozen like every migration: add columns in new migrations).
import type { Migration } from 'kysely'
import { PostgresAdapter } from '../store/kysely.ts'

export const outboxMigration: Migration = {
  async up(db) {
    const postgres = db.getExecutor().adapter instanceof PostgresAdapter
    await db.schema.createTable('herald_outbox')
      // an increasing id breaks run_at ties in insertion order
      .addColumn('id', postgres ? 'bigserial' : 'integer', (c) => (postgres ? c.primaryKey() : c.primaryKey().autoIncrement()))
      .addColumn('queue', 'varchar(100)', (c) => c.notNull())
      // optional: at most one live or dead job per (queue, key)
      .addColumn('key', 'varchar(255)')
      .addColumn('payload', 'text', (c) => c.notNull())
      .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
      // when the job is due; while lease_owner is set, when its lease ends (then it is due again)
      .addColumn('run_at', 'bigint', (c) => c.notNull())
      .addColumn('lease_owner', 'varchar(255)')
      .addColumn('last_error', 'text')
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('dead', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('dead_at', 'bigint')
      .execute()
    await db.schema.createIndex('herald_outbox_due').on('herald_outbox').columns(['queue', 'dead', 'run_at']).execute()
    await db.schema.createIndex('herald_outbox_key').on('herald_outbox').columns(['queue', 'key']).unique().execute()
  },
}
