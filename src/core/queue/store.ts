// The outbox's SQL (table herald_outbox); the same statements on SQLite and PostgreSQL, except the claim's lock.
import type { Kysely, Transaction } from 'kysely'
import type { Db, DbKind } from '../store/db.ts'

export type Executor = Kysely<any> | Transaction<any>

export interface NewJob { queue: string; payload: unknown; runAt: number; key?: string }

export interface ClaimedRow { id: number; queue: string; key: string | null; payload: string; attempts: number; created_at: number }

export interface JobRow {
  id: number; queue: string; key: string | null; payload: unknown; attempts: number; runAt: number
  leaseOwner: string | null; lastError: string | null; createdAt: number; deadAt: number | null
}

/** rows per INSERT (keeps statements under the databases' parameter limits) */
const CHUNK = 500

const toRow = (r: any): JobRow => ({
  id: Number(r.id), queue: r.queue, key: r.key ?? null, payload: JSON.parse(r.payload), attempts: Number(r.attempts),
  runAt: Number(r.run_at), leaseOwner: r.lease_owner ?? null, lastError: r.last_error ?? null, createdAt: Number(r.created_at),
  deadAt: r.dead_at === null || r.dead_at === undefined ? null : Number(r.dead_at),
})

export class OutboxStore {
  constructor(readonly db: Db, readonly kind: DbKind) {}

  /** Insert jobs with `ex` (the caller's transaction, or the database); a job whose key exists is skipped. */
  async insert(ex: Executor, jobs: NewJob[], now: number): Promise<number[]> {
    const ids: number[] = []
    for (let i = 0; i < jobs.length; i += CHUNK) {
      const rows = await ex.insertInto('herald_outbox').values(jobs.slice(i, i + CHUNK).map((j) => ({
        queue: j.queue, key: j.key ?? null, payload: JSON.stringify(j.payload ?? null), attempts: 0, run_at: j.runAt, created_at: now, dead: 0,
      })))
        .onConflict((oc) => oc.columns(['queue', 'key']).doNothing())
        .returning('id').execute()
      for (const r of rows) ids.push(Number(r.id))
    }
    return ids
  }

  /**
   * Lease up to `limit` due jobs to `owner` until `leaseUntil`, in run_at order, counting the attempt. One
   * statement: PostgreSQL skips rows another node is claiming at the same moment; SQLite holds the write lock.
   */
  async claim(queue: string, owner: string, limit: number, now: number, leaseUntil: number): Promise<ClaimedRow[]> {
    let due = this.db.selectFrom('herald_outbox').select('id')
      .where('queue', '=', queue).where('dead', '=', 0).where('run_at', '<=', now)
      .orderBy('run_at').orderBy('id').limit(limit)
    if (this.kind === 'postgres') due = due.forUpdate().skipLocked()
    const rows = await this.db.updateTable('herald_outbox')
      .set((eb) => ({ run_at: leaseUntil, lease_owner: owner, attempts: eb('attempts', '+', 1) }))
      .where('id', 'in', due).where('dead', '=', 0).where('run_at', '<=', now)
      .returning(['id', 'queue', 'key', 'payload', 'attempts', 'created_at'])
      .execute()
    return rows
      .map((r) => ({ id: Number(r.id), queue: r.queue, key: r.key ?? null, payload: r.payload, attempts: Number(r.attempts), created_at: Number(r.created_at) }))
      .sort((a, b) => a.id - b.id)
  }

  /** When the next job of the queue is due (a leased one: when its lease ends); null when the queue is empty. */
  async nextDue(queue: string): Promise<number | null> {
    const r = await this.db.selectFrom('herald_outbox').select((eb) => eb.fn.min('run_at').as('at'))
      .where('queue', '=', queue).where('dead', '=', 0).executeTakeFirst()
    return r?.at === null || r?.at === undefined ? null : Number(r.at)
  }

  /** The claim's own updates match on owner and attempt: a job whose lease passed to another node is not touched. */
  async complete(id: number, owner: string, attempts: number): Promise<boolean> {
    const r = await this.db.deleteFrom('herald_outbox')
      .where('id', '=', id).where('lease_owner', '=', owner).where('attempts', '=', attempts).executeTakeFirst()
    return Number(r.numDeletedRows) === 1
  }

  async retry(id: number, owner: string, attempts: number, runAt: number, error: string): Promise<boolean> {
    const r = await this.db.updateTable('herald_outbox').set({ run_at: runAt, lease_owner: null, last_error: error })
      .where('id', '=', id).where('lease_owner', '=', owner).where('attempts', '=', attempts).executeTakeFirst()
    return Number(r.numUpdatedRows) === 1
  }

  async bury(id: number, owner: string, attempts: number, now: number, error: string): Promise<boolean> {
    const r = await this.db.updateTable('herald_outbox').set({ dead: 1, dead_at: now, lease_owner: null, last_error: error })
      .where('id', '=', id).where('lease_owner', '=', owner).where('attempts', '=', attempts).executeTakeFirst()
    return Number(r.numUpdatedRows) === 1
  }

  /** Live (pending or leased) or dead jobs of a queue, oldest first. */
  async list(queue: string, dead: boolean, limit: number): Promise<JobRow[]> {
    const rows = await this.db.selectFrom('herald_outbox').selectAll()
      .where('queue', '=', queue).where('dead', '=', dead ? 1 : 0).orderBy('run_at').orderBy('id').limit(limit).execute()
    return rows.map(toRow)
  }

  /** Dead jobs (all of the queue, or those ids) become due now with their attempts reset. */
  async requeue(queue: string, ids: number[] | undefined, now: number): Promise<number> {
    let q = this.db.updateTable('herald_outbox').set({ dead: 0, dead_at: null, attempts: 0, run_at: now, lease_owner: null })
      .where('queue', '=', queue).where('dead', '=', 1)
    if (ids) {
      if (ids.length === 0) return 0
      q = q.where('id', 'in', ids)
    }
    const r = await q.executeTakeFirst()
    return Number(r.numUpdatedRows)
  }

  async depth(queue: string): Promise<number> {
    const r = await this.db.selectFrom('herald_outbox').select((eb) => eb.fn.countAll().as('n'))
      .where('queue', '=', queue).where('dead', '=', 0).executeTakeFirstOrThrow()
    return Number(r.n)
  }

  /** Live and dead job counts of every queue (the metrics' gauges). */
  async counts(): Promise<{ queue: string; live: number; dead: number }[]> {
    const rows = await this.db.selectFrom('herald_outbox')
      .select((eb) => ['queue', 'dead', eb.fn.countAll().as('n')])
      .groupBy(['queue', 'dead']).execute()
    const by = new Map<string, { queue: string; live: number; dead: number }>()
    for (const r of rows) {
      const e = by.get(r.queue) ?? { queue: r.queue, live: 0, dead: 0 }
      if (Number(r.dead) === 1) e.dead = Number(r.n)
      else e.live = Number(r.n)
      by.set(r.queue, e)
    }
    return [...by.values()]
  }
}
