// SYNRC tables (issue 12 §5), prefixed synrc_. Frozen once released: new columns go into new migrations.
import type { Migration } from 'kysely'

export const synrcMigrations: Record<string, Migration> = {
  '001_synrc_auth': {
    async up(db) {
      await db.schema.createTable('synrc_auth')
        .addColumn('client_id', 'varchar(255)', (c) => c.primaryKey())
        .addColumn('token', 'varchar(128)', (c) => c.unique())
        .addColumn('phone', 'varchar(64)', (c) => c.notNull())
        .addColumn('dev_key', 'varchar(255)', (c) => c.notNull())
        .addColumn('sms_code', 'varchar(16)')
        .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('code_expires', 'bigint', (c) => c.notNull().defaultTo(0))
        .addColumn('os', 'varchar(16)')
        .addColumn('push', 'text')
        .addColumn('settings', 'text')
        .addColumn('created', 'bigint', (c) => c.notNull())
        .addColumn('last_online', 'bigint', (c) => c.notNull())
        .execute()
      await db.schema.createIndex('synrc_auth_phone').on('synrc_auth').columns(['phone']).execute()
    },
  },
  '002_synrc_profiles': {
    async up(db) {
      // one profile per phone, one roster per profile (`<phone>_1`, §6.3); the roster's own fields
      await db.schema.createTable('synrc_rosters')
        .addColumn('id', 'varchar(255)', (c) => c.primaryKey())
        .addColumn('phone', 'varchar(64)', (c) => c.notNull())
        .addColumn('names', 'text', (c) => c.notNull().defaultTo(''))
        .addColumn('surnames', 'text', (c) => c.notNull().defaultTo(''))
        .addColumn('email', 'text', (c) => c.notNull().defaultTo(''))
        .addColumn('nick', 'varchar(255)', (c) => c.unique())
        .addColumn('avatar', 'text', (c) => c.notNull().defaultTo(''))
        .addColumn('created', 'bigint', (c) => c.notNull())
        .addColumn('update_at', 'bigint', (c) => c.notNull())
        .execute()
      await db.schema.createIndex('synrc_rosters_phone').on('synrc_rosters').columns(['phone']).execute()
    },
  },
  '003_synrc_friends': {
    async up(db) {
      await db.schema.createTable('synrc_friends')
        .addColumn('roster_id', 'varchar(255)', (c) => c.notNull())
        .addColumn('friend_id', 'varchar(255)', (c) => c.notNull())
        .addColumn('status', 'varchar(32)', (c) => c.notNull())
        .addColumn('muted', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('update_at', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('synrc_friends_pk', ['roster_id', 'friend_id'])
        .execute()
      await db.schema.createIndex('synrc_friends_friend').on('synrc_friends').columns(['friend_id']).execute()
    },
  },
  '004_synrc_rooms': {
    async up(db) {
      await db.schema.createTable('synrc_rooms')
        .addColumn('id', 'varchar(255)', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('description', 'text', (c) => c.notNull())
        .addColumn('type', 'varchar(16)', (c) => c.notNull())
        .addColumn('doc', 'text', (c) => c.notNull())
        .addColumn('created', 'bigint', (c) => c.notNull())
        .addColumn('update_at', 'bigint', (c) => c.notNull())
        .execute()
      await db.schema.createTable('synrc_members')
        .addColumn('room_id', 'varchar(255)', (c) => c.notNull())
        .addColumn('roster_id', 'varchar(255)', (c) => c.notNull())
        .addColumn('role', 'varchar(16)', (c) => c.notNull())
        .addColumn('muted', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('joined', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('synrc_members_pk', ['room_id', 'roster_id'])
        .execute()
      await db.schema.createIndex('synrc_members_roster').on('synrc_members').columns(['roster_id']).execute()
    },
  },
}
