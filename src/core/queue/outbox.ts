// The outbox (ARCHITECTURE "queue"): jobs enqueued inside the caller's transaction, claimed with a lease, retried
// with exponential back-off and jitter, dead-lettered after their last attempt. At-least-once: a handler must
// tolerate running again for a job whose node died (or whose lease ran out) before it was marked done.
import { EventEmitter } from 'node:events'
import { randomUUID } from 'node:crypto'
import { hostname } from 'node:os'
import type { Logger } from 'pino'
import type { Registry } from 'prom-client'
import { systemClock, type Clock } from '../clock.ts'
import type { Db, DbKind } from '../store/db.ts'
import { outboxMetrics, type OutboxMetrics } from './metrics.ts'
import { OutboxStore, type ClaimedRow, type Executor, type JobRow } from './store.ts'

export type { JobRow } from './store.ts'

export interface Job<P = unknown> {
  id: number
  queue: string
  key: string | null
  payload: P
  /** this attempt's number, from 1 */
  attempts: number
  createdAt: number
}

export type Handler<P = unknown> = (job: Job<P>) => Promise<void>

export interface EnqueueOptions {
  /** the caller's transaction: the job commits with the caller's write, or not at all */
  trx?: Executor
  /** not before (epoch ms of the outbox's clock); default now */
  runAt?: number
  /** at most one job with this key per queue while it is pending or dead */
  key?: string
}

export interface ConsumeOptions {
  /** jobs of this queue run at once in this process */
  concurrency?: number
  /** a claimed job is taken again by any node after this long: keep it above the handler's own timeout */
  leaseMs?: number
  /** attempts before the job is dead-lettered (Infinity: never) */
  maxAttempts?: number
  /** delay before attempt n+1 after attempt n failed */
  backoff?: (attempts: number) => number
  /** longest sleep when idle (a wake-up or the next due job ends it sooner) */
  pollMs?: number
}

export type Outcome = 'done' | 'retry' | 'dead'

/** min(base·2^(n-1), max), shortened by up to `jitter` of itself at random so that failed jobs spread out. */
export function exponentialBackoff(o: { baseMs: number; maxMs: number; jitter?: number; random?: () => number }): (attempts: number) => number {
  const jitter = o.jitter ?? 0.2
  const random = o.random ?? Math.random
  return (n) => {
    const d = Math.min(o.baseMs * 2 ** Math.min(Math.max(n - 1, 0), 30), o.maxMs)
    return Math.round(d * (1 - jitter * random()))
  }
}

const message = (err: unknown) => (err instanceof Error ? err.message : String(err)).slice(0, 2000)

export interface OutboxOptions {
  db: Db
  kind: DbKind
  clock?: Clock
  /** Herald's Prometheus registry */
  registry?: Registry
  log?: Logger
  /** names this process in lease_owner */
  owner?: string
}

export class Outbox {
  readonly store: OutboxStore
  readonly clock: Clock
  readonly owner: string
  private metrics?: OutboxMetrics
  private consumers = new Set<Consumer>()

  constructor(private o: OutboxOptions) {
    this.store = new OutboxStore(o.db, o.kind)
    this.clock = o.clock ?? systemClock
    this.owner = o.owner ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`
    if (o.registry) this.metrics = outboxMetrics(o.registry, this.store)
  }

  /** Enqueue one job; its id, or undefined when a job with the same key is already there. */
  async enqueue(queue: string, payload: unknown, o: EnqueueOptions = {}): Promise<number | undefined> {
    const [id] = await this.enqueueMany([{ queue, payload, runAt: o.runAt, key: o.key }], o)
    return id
  }

  /**
   * Enqueue jobs in one go (with the caller's transaction if given). This process's consumers are woken; inside a
   * transaction on PostgreSQL the job is visible only after the commit, so call wake() then for an immediate run.
   */
  async enqueueMany(jobs: { queue: string; payload: unknown; runAt?: number; key?: string }[], o: { trx?: Executor } = {}): Promise<number[]> {
    if (jobs.length === 0) return []
    const now = this.clock.now()
    const ids = await this.store.insert(o.trx ?? this.o.db, jobs.map((j) => ({ ...j, runAt: j.runAt ?? now })), now)
    const queues = new Set(jobs.map((j) => j.queue))
    for (const q of queues) {
      this.metrics?.enqueued.inc({ queue: q }, jobs.filter((j) => j.queue === q).length)
      this.wake(q)
    }
    return ids
  }

  /** Make this process's consumers of `queue` look for due jobs now (e.g. after the commit that enqueued some). */
  wake(queue: string): void {
    for (const c of this.consumers) if (c.queue === queue) c.poke()
  }

  /** Run `handler` for the queue's jobs until the returned consumer is stopped. */
  consume<P = unknown>(queue: string, handler: Handler<P>, o: ConsumeOptions = {}): Consumer {
    const c = new Consumer(queue, handler as Handler, {
      concurrency: o.concurrency ?? 1,
      leaseMs: o.leaseMs ?? 60_000,
      maxAttempts: o.maxAttempts ?? 10,
      backoff: o.backoff ?? exponentialBackoff({ baseMs: 1000, maxMs: 300_000 }),
      pollMs: o.pollMs ?? 1000,
    }, this, this.metrics, this.o.log)
    this.consumers.add(c)
    this.metrics?.track(queue)
    c.once('stopped', () => this.consumers.delete(c))
    return c
  }

  /** Pending and running jobs of a queue, due first. */
  pending(queue: string, limit = 100): Promise<JobRow[]> { return this.store.list(queue, false, limit) }

  /** Dead-lettered jobs of a queue, kept until re-queued. */
  dead(queue: string, limit = 100): Promise<JobRow[]> { return this.store.list(queue, true, limit) }

  /** Give dead jobs (all of the queue, or those ids) a new set of attempts, due now. */
  async requeue(queue: string, ids?: number[]): Promise<number> {
    const n = await this.store.requeue(queue, ids, this.clock.now())
    if (n > 0) this.wake(queue)
    return n
  }

  /** Jobs waiting or running (not dead). */
  depth(queue: string): Promise<number> { return this.store.depth(queue) }

  /** Stop every consumer (each waits up to `timeoutMs` for its running jobs). */
  async stop(timeoutMs?: number): Promise<void> {
    await Promise.all([...this.consumers].map((c) => c.stop(timeoutMs)))
  }
}

interface ConsumerSettings { concurrency: number; leaseMs: number; maxAttempts: number; backoff: (n: number) => number; pollMs: number }

/**
 * One queue's worker loop in this process. Events: 'settled' (row, outcome, recorded: false when the lease had
 * passed to another consumer) after each attempt, 'idle' (next due time) when no more jobs are due and it sleeps,
 * 'stopped'.
 */
export class Consumer extends EventEmitter {
  private running = new Set<Promise<void>>()
  private stopping = false
  private nudged = false
  private nudge?: () => void
  private loopDone: Promise<void>

  constructor(
    readonly queue: string,
    private handler: Handler,
    private s: ConsumerSettings,
    private outbox: Outbox,
    private metrics: OutboxMetrics | undefined,
    private log: Logger | undefined,
  ) {
    super()
    this.loopDone = this.loop()
  }

  /** jobs running now */
  get active(): number { return this.running.size }

  poke(): void {
    this.nudged = true
    this.nudge?.()
  }

  /**
   * Stop claiming, then wait up to `timeoutMs` for running jobs. A job still running then keeps its lease and
   * is left alone: when the lease ends another consumer takes it again; nothing is released half-done.
   */
  async stop(timeoutMs = 10_000): Promise<void> {
    const deadline = this.outbox.clock.sleep(timeoutMs)
    if (!this.stopping) {
      this.stopping = true
      this.poke()
    }
    await this.loopDone
    await Promise.race([Promise.allSettled([...this.running]), deadline])
    this.emit('stopped')
  }

  /** Sleep until poked, or `ms` of the clock passed (null: until poked). */
  private wait(ms: number | null): Promise<void> {
    if (this.nudged || this.stopping) { this.nudged = false; return Promise.resolve() }
    return new Promise<void>((resolve) => {
      const done = () => { this.nudge = undefined; this.nudged = false; resolve() }
      this.nudge = done
      if (ms !== null) void this.outbox.clock.sleep(ms).then(() => { if (this.nudge === done) done() })
    })
  }

  private async loop(): Promise<void> {
    const { store, clock, owner } = this.outbox
    while (!this.stopping) {
      const free = this.s.concurrency - this.running.size
      if (free <= 0) { await this.wait(null); continue }
      this.nudged = false
      const now = clock.now()
      let claimed: ClaimedRow[]
      try {
        claimed = await store.claim(this.queue, owner, free, now, now + this.s.leaseMs)
      } catch (err) {
        this.log?.warn({ err, queue: this.queue }, 'outbox: claiming jobs failed, will try again')
        await this.wait(this.s.pollMs)
        continue
      }
      for (const row of claimed) this.start(row)
      if (claimed.length === free) continue
      let next: number | null = null
      try { next = await store.nextDue(this.queue) } catch { /* sleep the poll interval */ }
      // a due job not claimed is being claimed by another node this instant: look again a little later
      const wait = next === null ? this.s.pollMs : next > clock.now() ? next - clock.now() : 5
      const delay = Math.min(wait, this.s.pollMs)
      this.emit('idle', next)
      await this.wait(delay)
    }
  }

  private start(row: ClaimedRow): void {
    const p = this.run(row)
      .catch((err) => this.log?.error({ err, queue: this.queue, id: row.id }, 'outbox: recording a job outcome failed'))
      .finally(() => { this.running.delete(p); this.poke() })
    this.running.add(p)
  }

  private async run(row: ClaimedRow): Promise<void> {
    const { store, clock, owner } = this.outbox
    const labels = { queue: this.queue }
    const t0 = performance.now()
    let error: unknown
    let ok = false
    try {
      const job: Job = { id: row.id, queue: row.queue, key: row.key, payload: JSON.parse(row.payload), attempts: row.attempts, createdAt: row.created_at }
      await this.handler(job)
      ok = true
    } catch (err) {
      error = err
    }
    const outcome: Outcome = ok ? 'done' : row.attempts >= this.s.maxAttempts ? 'dead' : 'retry'
    this.metrics?.duration.observe({ ...labels, outcome }, (performance.now() - t0) / 1000)
    let recorded: boolean
    if (outcome === 'done') {
      recorded = await store.complete(row.id, owner, row.attempts)
      this.metrics?.completed.inc(labels)
    } else if (outcome === 'retry') {
      const runAt = clock.now() + Math.max(0, this.s.backoff(row.attempts))
      recorded = await store.retry(row.id, owner, row.attempts, runAt, message(error))
      this.metrics?.retried.inc(labels)
      this.log?.debug({ queue: this.queue, id: row.id, attempts: row.attempts, err: message(error) }, 'outbox: job failed, will retry')
    } else {
      recorded = await store.bury(row.id, owner, row.attempts, clock.now(), message(error))
      this.metrics?.dead.inc(labels)
      this.log?.warn({ queue: this.queue, id: row.id, attempts: row.attempts, err: message(error) }, 'outbox: job dead-lettered')
    }
    // not recorded: the lease ran out and another consumer took the job again
    if (!recorded) this.log?.warn({ queue: this.queue, id: row.id }, 'outbox: job lease lost before its outcome was recorded')
    this.emit('settled', row, outcome, recorded)
  }
}
