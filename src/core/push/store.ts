// Provider access tokens (table herald_push_tokens, core migration 004, frozen): the WNS token survives a restart and
// is shared by every node of a cluster (uwpx-push §4.1 "Persistence", §12.3).
import type { Migration } from 'kysely'
import type { Db } from '../store/db.ts'
import type { AccessToken } from './types.ts'

export const pushTokensMigration: Migration = {
  async up(db) {
    await db.schema.createTable('herald_push_tokens')
      // provider and credential, e.g. `wns:<package SID>`: another client id never reuses the token
      .addColumn('key', 'varchar(512)', (c) => c.primaryKey())
      .addColumn('access_token', 'text', (c) => c.notNull())
      .addColumn('token_type', 'varchar(64)', (c) => c.notNull())
      .addColumn('expires_at', 'bigint', (c) => c.notNull())
      .addColumn('fetched_at', 'bigint', (c) => c.notNull())
      .execute()
  },
}

export class PushTokenStore {
  constructor(private db: Db) {}

  async get(key: string): Promise<AccessToken | undefined> {
    const r = await this.db.selectFrom('herald_push_tokens').selectAll().where('key', '=', key).executeTakeFirst()
    if (!r) return undefined
    return { accessToken: r.access_token, tokenType: r.token_type, expiresAt: Number(r.expires_at), fetchedAt: Number(r.fetched_at) }
  }

  async put(key: string, t: AccessToken): Promise<void> {
    const row = { access_token: t.accessToken, token_type: t.tokenType, expires_at: t.expiresAt, fetched_at: t.fetchedAt }
    await this.db.insertInto('herald_push_tokens').values({ key, ...row })
      .onConflict((oc) => oc.column('key').doUpdateSet(row))
      .execute()
  }
}
