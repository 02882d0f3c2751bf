// Web Push / UnifiedPush subscriptions of HeartSMS accounts (issue 14 item 5; table heartsms_push_subscriptions,
// migration 002, frozen). Keyed by endpoint: a browser's subscription belongs to one account at a time.
import type { Kysely, Migration } from 'kysely'
import type { Store } from '../../core/store/db.ts'

export const pushSubscriptionsMigration: Migration = {
  async up(db) {
    await db.schema.createTable('heartsms_push_subscriptions')
      .addColumn('endpoint', 'varchar(2048)', (c) => c.primaryKey())
      // the account's session_id (its account_id on the API): a removed account's subscriptions reach nothing
      .addColumn('session_id', 'varchar(64)', (c) => c.notNull())
      // `webpush` (keys required) or `unifiedpush` (keys optional)
      .addColumn('kind', 'varchar(16)', (c) => c.notNull())
      .addColumn('p256dh', 'text')
      .addColumn('auth', 'text')
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .execute()
    await db.schema.createIndex('heartsms_push_subscriptions_session').on('heartsms_push_subscriptions').column('session_id').execute()
  },
}

export interface PushSubscriptionRow { endpoint: string; kind: 'webpush' | 'unifiedpush'; p256dh: string | null; auth: string | null; created_at: number }

export class HeartPushStore {
  private db: Kysely<any>
  constructor(store: Store) { this.db = store.db }

  async add(session: string, s: Omit<PushSubscriptionRow, 'created_at'>, now: number): Promise<void> {
    const row = { session_id: session, kind: s.kind, p256dh: s.p256dh, auth: s.auth, created_at: now }
    await this.db.insertInto('heartsms_push_subscriptions').values({ endpoint: s.endpoint, ...row })
      .onConflict((oc) => oc.column('endpoint').doUpdateSet(row))
      .execute()
  }

  /** remove one of the account's subscriptions; false when it had none with this endpoint */
  async remove(session: string, endpoint: string): Promise<boolean> {
    const r = await this.db.deleteFrom('heartsms_push_subscriptions').where('session_id', '=', session).where('endpoint', '=', endpoint).executeTakeFirst()
    return Number(r.numDeletedRows) > 0
  }

  /** the provider says the endpoint is gone */
  async drop(endpoint: string): Promise<void> {
    await this.db.deleteFrom('heartsms_push_subscriptions').where('endpoint', '=', endpoint).execute()
  }

  async list(session: string): Promise<PushSubscriptionRow[]> {
    const rows = await this.db.selectFrom('heartsms_push_subscriptions').select(['endpoint', 'kind', 'p256dh', 'auth', 'created_at'])
      .where('session_id', '=', session).orderBy('created_at').execute()
    return rows.map((r) => ({ ...r, created_at: Number(r.created_at) }) as PushSubscriptionRow)
  }

  /** the username of the account whose session_id this is (presence knows stream clients by username) */
  async username(session: string): Promise<string | undefined> {
    const r = await this.db.selectFrom('heartsms_accounts').select('username').where('session_id', '=', session).executeTakeFirst()
    return r?.username as string | undefined
  }
}
