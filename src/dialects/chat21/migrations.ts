// chat21 tables (§6): one row per inbox copy of a message, per conversation, per group; the webhook queue (§8),
// which moved to the core outbox in 004.
import type { Kysely, Migration } from 'kysely'

export const chat21Migrations: Record<string, Migration> = {
  '001_chat21': {
    async up(db) {
      await db.schema.createTable('chat21_messages')
        .addColumn('timeline_of', 'varchar(255)', (c) => c.notNull())
        .addColumn('message_id', 'varchar(100)', (c) => c.notNull())
        .addColumn('convers_with', 'varchar(255)', (c) => c.notNull())
        .addColumn('app_id', 'varchar(255)', (c) => c.notNull())
        .addColumn('timestamp', 'bigint', (c) => c.notNull())
        .addColumn('doc', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('chat21_messages_pk', ['timeline_of', 'message_id'])
        .execute()
      await db.schema.createIndex('chat21_messages_timeline').on('chat21_messages')
        .columns(['timeline_of', 'convers_with', 'timestamp']).execute()
      await db.schema.createIndex('chat21_messages_convers_with').on('chat21_messages').columns(['app_id', 'convers_with']).execute()

      await db.schema.createTable('chat21_conversations')
        .addColumn('timeline_of', 'varchar(255)', (c) => c.notNull())
        .addColumn('convers_with', 'varchar(255)', (c) => c.notNull())
        .addColumn('app_id', 'varchar(255)', (c) => c.notNull())
        .addColumn('archived', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('timestamp', 'bigint', (c) => c.notNull())
        .addColumn('doc', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('chat21_conversations_pk', ['timeline_of', 'convers_with'])
        .execute()
      await db.schema.createIndex('chat21_conversations_list').on('chat21_conversations')
        .columns(['timeline_of', 'app_id', 'archived', 'timestamp']).execute()
      await db.schema.createIndex('chat21_conversations_convers_with').on('chat21_conversations').columns(['app_id', 'convers_with']).execute()

      await db.schema.createTable('chat21_groups')
        .addColumn('uid', 'varchar(255)', (c) => c.primaryKey())
        .addColumn('app_id', 'varchar(255)', (c) => c.notNull())
        .addColumn('updated_on', 'bigint', (c) => c.notNull())
        .addColumn('doc', 'text', (c) => c.notNull())
        .execute()

      await db.schema.createTable('chat21_webhooks')
        .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
        .addColumn('endpoint', 'text', (c) => c.notNull())
        .addColumn('body', 'text', (c) => c.notNull())
        .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('next_at', 'bigint', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute()
      await db.schema.createIndex('chat21_webhooks_due').on('chat21_webhooks').columns(['next_at']).execute()
    },
  },
  '002_chat21_instances': {
    async up(db) {
      await db.schema.createTable('chat21_instances')
        .addColumn('instance_id', 'varchar(255)', (c) => c.primaryKey())
        .addColumn('app_id', 'varchar(255)', (c) => c.notNull())
        .addColumn('user_id', 'varchar(255)', (c) => c.notNull())
        .addColumn('doc', 'text', (c) => c.notNull())
        .execute()
      await db.schema.createIndex('chat21_instances_user').on('chat21_instances').columns(['user_id']).execute()
    },
  },
  // arrival order breaks timestamp ties in history, history replay and conversation lists
  '003_chat21_seq': {
    async up(db) {
      for (const table of ['chat21_messages', 'chat21_conversations']) {
        await db.schema.alterTable(table).addColumn('seq', 'bigint', (c) => c.notNull().defaultTo(0)).execute()
      }
      await db.schema.dropIndex('chat21_messages_timeline').execute()
      await db.schema.createIndex('chat21_messages_timeline').on('chat21_messages')
        .columns(['timeline_of', 'convers_with', 'timestamp', 'seq']).execute()
      await db.schema.dropIndex('chat21_conversations_list').execute()
      await db.schema.createIndex('chat21_conversations_list').on('chat21_conversations')
        .columns(['timeline_of', 'app_id', 'archived', 'timestamp', 'seq']).execute()
    },
  },
  // webhooks run on the core outbox (herald_outbox, created by the core migrations, which run first): pending
  // deliveries move there in their order, with their attempts and due times; then the old queue goes
  '004_chat21_webhooks_outbox': {
    async up(db) {
      const move = async (trx: Kysely<any>) => {
        const rows = await trx.selectFrom('chat21_webhooks').select(['endpoint', 'body', 'attempts', 'next_at', 'created_at'])
          .orderBy('created_at').execute()
        for (let i = 0; i < rows.length; i += 500) {
          await trx.insertInto('herald_outbox').values(rows.slice(i, i + 500).map((r) => ({
            queue: 'chat21.webhooks', payload: JSON.stringify({ endpoint: r.endpoint, body: JSON.parse(r.body) }),
            attempts: Number(r.attempts), run_at: Number(r.next_at), created_at: Math.floor(Number(r.created_at) / 1000), dead: 0,
          }))).execute()
        }
        await trx.schema.dropTable('chat21_webhooks').execute()
      }
      // one transaction, so that a crash cannot leave the rows in both queues (SQLite migrations run outside one)
      if (db.isTransaction) await move(db)
      else await db.transaction().execute(move)
    },
  },
}
