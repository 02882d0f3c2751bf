// The push queue's SQL (core migration 006, frozen): table herald_push_queue, one row per accepted push, and
// herald_push_keys for key pairs generated once per deployment (the VAPID keys every node must share).
//
// Why not the outbox (src/core/queue): the dispatcher needs per-endpoint ordering, i.e. only the oldest live push
// of an endpoint may be sent, and a retry keeps it at the head instead of letting the next one pass. The outbox
// claims any due job, so the claim here is its own: a row is claimable when it is due *and* has the smallest id of
// its endpoint. A push being sent or waiting for its retry blocks its endpoint's later pushes, on every node.
import type { ExpressionBuilder, Migration } from 'kysely'
import { PostgresAdapter } from '../store/kysely.ts'
import type { Executor } from '../queue/store.ts'
import type { Db, DbKind } from '../store/db.ts'

export const pushQueueMigration: Migration = {
  async up(db) {
    const postgres = db.getExecutor().adapter instanceof PostgresAdapter
    await db.schema.createTable('herald_push_queue')
      .addColumn('id', postgres ? 'bigserial' : 'integer', (c) => (postgres ? c.primaryKey() : c.primaryKey().autoIncrement()))
      .addColumn('provider', 'varchar(20)', (c) => c.notNull())
      // sha256 of provider and endpoint (channel URI, subscription endpoint, device token): the ordering unit
      .addColumn('endpoint_key', 'varchar(64)', (c) => c.notNull())
      .addColumn('dialect', 'varchar(64)', (c) => c.notNull())
      .addColumn('target', 'text', (c) => c.notNull())
      .addColumn('notification', 'text', (c) => c.notNull())
      .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
      // when the push is due; while lease_owner is set, when its lease ends (then it is due again)
      .addColumn('run_at', 'bigint', (c) => c.notNull())
      .addColumn('lease_owner', 'varchar(255)')
      .addColumn('last_error', 'text')
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('expires_at', 'bigint', (c) => c.notNull())
      .execute()
    await db.schema.createIndex('herald_push_queue_due').on('herald_push_queue').columns(['provider', 'run_at']).execute()
    await db.schema.createIndex('herald_push_queue_endpoint').on('herald_push_queue').columns(['endpoint_key', 'id']).execute()
    await db.schema.createTable('herald_push_keys')
      .addColumn('name', 'varchar(100)', (c) => c.primaryKey())
      .addColumn('value', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .execute()
  },
}

/** the row is the oldest live push of its endpoint */
const isHead = (eb: ExpressionBuilder<any, any>) =>
  eb('q.id', '=', eb.selectFrom('herald_push_queue as h').select((e) => e.fn.min('h.id').as('m')).whereRef('h.endpoint_key', '=', 'q.endpoint_key'))

export interface NewPush {
  provider: string; endpointKey: string; dialect: string; target: string; notification: string; runAt: number; expiresAt: number
}

export interface PushRow {
  id: number; provider: string; endpointKey: string; dialect: string; target: string; notification: string
  attempts: number; createdAt: number; expiresAt: number; lastError: string | null
}

export interface ProviderDepth { provider: string; depth: number; oldest: number }

const toRow = (r: any): PushRow => ({
  id: Number(r.id), provider: r.provider, endpointKey: r.endpoint_key, dialect: r.dialect, target: r.target, notification: r.notification,
  attempts: Number(r.attempts), createdAt: Number(r.created_at), expiresAt: Number(r.expires_at), lastError: r.last_error ?? null,
})

export class PushQueueStore {
  constructor(readonly db: Db, readonly kind: DbKind) {}

  async insert(ex: Executor, p: NewPush, now: number): Promise<number> {
    const r = await ex.insertInto('herald_push_queue').values({
      provider: p.provider, endpoint_key: p.endpointKey, dialect: p.dialect, target: p.target, notification: p.notification,
      attempts: 0, run_at: p.runAt, created_at: now, expires_at: p.expiresAt,
    }).returning('id').executeTakeFirstOrThrow()
    return Number(r.id)
  }

  /**
   * Lease up to `limit` due pushes of `provider`, each the oldest live push of its endpoint, to `owner` until
   * `leaseUntil`, counting the attempt. PostgreSQL skips rows another node is claiming this instant and re-checks
   * run_at on the row it locked, so one push is leased once; SQLite holds the write lock for the statement.
   */
  async claim(provider: string, owner: string, limit: number, now: number, leaseUntil: number): Promise<PushRow[]> {
    let due = this.db.selectFrom('herald_push_queue as q').select('q.id')
      .where('q.provider', '=', provider).where('q.run_at', '<=', now)
      .where(isHead)
      .orderBy('q.run_at').orderBy('q.id').limit(limit)
    if (this.kind === 'postgres') due = due.forUpdate().skipLocked()
    const rows = await this.db.updateTable('herald_push_queue')
      .set((eb) => ({ run_at: leaseUntil, lease_owner: owner, attempts: eb('attempts', '+', 1) }))
      .where('id', 'in', due).where('run_at', '<=', now)
      .returning(['id', 'provider', 'endpoint_key', 'dialect', 'target', 'notification', 'attempts', 'created_at', 'expires_at', 'last_error'])
      .execute()
    return rows.map(toRow).sort((a, b) => a.id - b.id)
  }

  /** When the provider's next push may be due (a leased one: when its lease ends); null when none is queued. */
  async nextDue(provider: string): Promise<number | null> {
    // heads only: a push queued behind its endpoint's head is due when the head is done, not at its own run_at
    const r = await this.db.selectFrom('herald_push_queue as q').select((eb) => eb.fn.min('q.run_at').as('at'))
      .where('q.provider', '=', provider)
      .where(isHead)
      .executeTakeFirst()
    return r?.at === null || r?.at === undefined ? null : Number(r.at)
  }

  /** Done with a push (delivered, rejected for good, expired); false when its lease had passed to another node. */
  async remove(id: number, owner: string, attempts: number): Promise<boolean> {
    const r = await this.db.deleteFrom('herald_push_queue')
      .where('id', '=', id).where('lease_owner', '=', owner).where('attempts', '=', attempts).executeTakeFirst()
    return Number(r.numDeletedRows) === 1
  }

  async retry(id: number, owner: string, attempts: number, runAt: number, error: string): Promise<boolean> {
    const r = await this.db.updateTable('herald_push_queue').set({ run_at: runAt, lease_owner: null, last_error: error })
      .where('id', '=', id).where('lease_owner', '=', owner).where('attempts', '=', attempts).executeTakeFirst()
    return Number(r.numUpdatedRows) === 1
  }

  /** The endpoint is gone: every push queued for it, the one just sent included; how many others there were. */
  async dropEndpoint(endpointKey: string, exceptId: number): Promise<number> {
    return await this.db.transaction().execute(async (trx) => {
      const r = await trx.deleteFrom('herald_push_queue').where('endpoint_key', '=', endpointKey).where('id', '<>', exceptId).executeTakeFirst()
      await trx.deleteFrom('herald_push_queue').where('id', '=', exceptId).execute()
      return Number(r.numDeletedRows)
    })
  }

  /** Queued pushes per provider and the creation time of the oldest (the metrics' gauges). */
  async depths(): Promise<ProviderDepth[]> {
    const rows = await this.db.selectFrom('herald_push_queue')
      .select((eb) => ['provider', eb.fn.countAll().as('n'), eb.fn.min('created_at').as('oldest')])
      .groupBy('provider').execute()
    return rows.map((r) => ({ provider: r.provider, depth: Number(r.n), oldest: Number(r.oldest) }))
  }

  /** Queued pushes, oldest first (tests, operators). */
  async list(provider?: string, limit = 100): Promise<PushRow[]> {
    let q = this.db.selectFrom('herald_push_queue').selectAll().orderBy('id').limit(limit)
    if (provider) q = q.where('provider', '=', provider)
    return (await q.execute()).map(toRow)
  }

  /** A value generated once per deployment: the stored one, or `make()`'s stored now (the first node to store wins). */
  async keyOnce(name: string, make: () => string, now: number): Promise<string> {
    const have = await this.db.selectFrom('herald_push_keys').select('value').where('name', '=', name).executeTakeFirst()
    if (have) return have.value
    await this.db.insertInto('herald_push_keys').values({ name, value: make(), created_at: now })
      .onConflict((oc) => oc.column('name').doNothing()).execute()
    const r = await this.db.selectFrom('herald_push_keys').select('value').where('name', '=', name).executeTakeFirstOrThrow()
    return r.value
  }
}
