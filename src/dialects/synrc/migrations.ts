// SYNRC tables (issue 12 §5), prefixed synrc_. Frozen once released: new columns go into new migrations.
import type { Migration } from 'kysely'
import { PostgresAdapter } from '../../core/store/kysely.ts'

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
  '007_synrc_messages': {
    async up(db) {
      const postgres = db.getExecutor().adapter instanceof PostgresAdapter
      // §7: Message ids are one server-wide sequence (kvs:seq); prev/next chain them per feed
      await db.schema.createTable('synrc_messages')
        .addColumn('id', postgres ? 'bigserial' : 'integer', (c) => (postgres ? c.primaryKey() : c.primaryKey().autoIncrement()))
        .addColumn('feed', 'varchar(600)', (c) => c.notNull())
        .addColumn('prev', 'bigint')
        .addColumn('next', 'bigint')
        .addColumn('msg_id', 'varchar(255)')
        .addColumn('author', 'varchar(255)', (c) => c.notNull())
        .addColumn('recipient', 'varchar(255)', (c) => c.notNull())
        .addColumn('created', 'bigint', (c) => c.notNull())
        .addColumn('status', 'varchar(16)', (c) => c.notNull())
        .addColumn('types', 'varchar(255)', (c) => c.notNull())
        .addColumn('link_id', 'bigint')
        .addColumn('kinds', 'varchar(255)', (c) => c.notNull())
        .addColumn('body', 'text', (c) => c.notNull())
        .addColumn('delivered', 'bigint')
        .addColumn('update_at', 'bigint', (c) => c.notNull())
        .execute()
      await db.schema.createIndex('synrc_messages_feed').on('synrc_messages').columns(['feed', 'id']).execute()
      await db.schema.createIndex('synrc_messages_link').on('synrc_messages').columns(['link_id']).execute()
      await db.schema.createTable('synrc_feeds')
        .addColumn('id', 'varchar(600)', (c) => c.primaryKey())
        .addColumn('top', 'bigint')
        .addColumn('count', 'integer', (c) => c.notNull())
        .execute()
      await db.schema.createTable('synrc_readers')
        .addColumn('roster_id', 'varchar(255)', (c) => c.notNull())
        .addColumn('feed', 'varchar(600)', (c) => c.notNull())
        .addColumn('pos', 'bigint', (c) => c.notNull())
        .addColumn('cleared', 'bigint', (c) => c.notNull())
        .addColumn('update_at', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('synrc_readers_pk', ['roster_id', 'feed'])
        .execute()
      await db.schema.createTable('synrc_sticker_packs')
        .addColumn('id', postgres ? 'bigserial' : 'integer', (c) => (postgres ? c.primaryKey() : c.primaryKey().autoIncrement()))
        .addColumn('body', 'text', (c) => c.notNull())
        .addColumn('created', 'bigint', (c) => c.notNull())
        .execute()
    },
  },
  '008_synrc_deliveries': {
    async up(db) {
      // §6.6 delete after ack: the transient delivery queue, one row per recipient device and message
      await db.schema.createTable('synrc_deliveries')
        .addColumn('client_id', 'varchar(255)', (c) => c.notNull())
        .addColumn('message_id', 'bigint', (c) => c.notNull())
        .addColumn('session', 'varchar(64)')
        .addColumn('created', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('synrc_deliveries_pk', ['client_id', 'message_id'])
        .execute()
      await db.schema.createIndex('synrc_deliveries_message').on('synrc_deliveries').columns(['message_id']).execute()
    },
  },
  '005_synrc_profiles': {
    async up(db) {
      // §6.2: what Profile/patch and Profile/set keep of a profile beside its rosters
      await db.schema.createTable('synrc_profiles')
        .addColumn('phone', 'varchar(64)', (c) => c.primaryKey())
        .addColumn('settings', 'text', (c) => c.notNull())
        .addColumn('balance', 'bigint', (c) => c.notNull().defaultTo(0))
        .addColumn('update_at', 'bigint', (c) => c.notNull())
        .execute()
    },
  },
  '009_synrc_links': {
    async up(db) {
      // §6.9, §7: a link text names one room (Index{id={link,L}, roster=[RoomId]}): the primary key keeps it unique
      await db.schema.createTable('synrc_links')
        .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
        .addColumn('room_id', 'varchar(255)', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull().defaultTo(''))
        .addColumn('type', 'varchar(16)')
        .addColumn('created', 'bigint', (c) => c.notNull())
        .execute()
      await db.schema.createIndex('synrc_links_room').on('synrc_links').columns(['room_id']).execute()
      // §6.8 Member/patch: what a member shows in one room instead of its roster's fields (null: the roster's)
      for (const col of ['alias', 'avatar', 'names', 'surnames']) {
        await db.schema.alterTable('synrc_members').addColumn(col, 'text').execute()
      }
    },
  },
  '010_synrc_favs': {
    async up(db) {
      // §6.11: stars and tags belong to one roster; a star keeps the starred message and its tags (ETF, base64)
      await db.schema.createTable('synrc_stars')
        .addColumn('roster_id', 'varchar(255)', (c) => c.notNull())
        .addColumn('id', 'bigint', (c) => c.notNull())
        .addColumn('client_id', 'text')
        .addColumn('doc', 'text', (c) => c.notNull())
        .addColumn('created', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('synrc_stars_pk', ['roster_id', 'id'])
        .execute()
      await db.schema.createTable('synrc_tags')
        .addColumn('roster_id', 'varchar(255)', (c) => c.notNull())
        .addColumn('name', 'varchar(255)', (c) => c.notNull())
        .addColumn('color', 'text', (c) => c.notNull().defaultTo(''))
        .addColumn('created', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('synrc_tags_pk', ['roster_id', 'name'])
        .execute()
    },
  },
}
