// Push dialect tables (issue 14, UWPX §5 and §12.3), prefixed push_. Frozen once released: changes go into new migrations.
import type { Migration } from 'kysely'

export const pushMigrations: Record<string, Migration> = {
  '001_push_uwpx': {
    async up(db) {
      // §5.1 device → {channel_uri, version}; one expiry for the device and its accounts (§5.3 #2: no asymmetry)
      await db.schema.createTable('push_uwpx_devices')
        .addColumn('device_id', 'text', (c) => c.primaryKey())
        .addColumn('channel_uri', 'text', (c) => c.notNull())
        .addColumn('version', 'varchar(8)')
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .addColumn('expires_at', 'bigint', (c) => c.notNull())
        .execute()
      await db.schema.createIndex('push_uwpx_devices_expires').on('push_uwpx_devices').columns(['expires_at']).execute()
      // §5.1 node → {account_id, device_id, secret}, one node per (device, account)
      await db.schema.createTable('push_uwpx_accounts')
        .addColumn('node', 'varchar(64)', (c) => c.primaryKey())
        .addColumn('device_id', 'text', (c) => c.notNull().references('push_uwpx_devices.device_id').onDelete('cascade'))
        .addColumn('account_id', 'text', (c) => c.notNull())
        .addColumn('secret', 'varchar(64)', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addUniqueConstraint('push_uwpx_accounts_device_account', ['device_id', 'account_id'])
        .execute()
    },
  },
}
