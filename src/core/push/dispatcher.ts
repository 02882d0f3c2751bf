// The push dispatcher (ARCHITECTURE.md push-dispatch, issue 14 item 4): PushService over a durable queue in the
// store (herald_push_queue, see queue-store.ts for why it is not the outbox). A push accepted by send() is a row;
// one sender per provider claims due rows with a lease and hands them to the provider:
// - delivered, or rejected for good (`failed`): the row is deleted;
// - `retry-after`: the row stays at the head of its endpoint, due again after max(the provider's wait, back-off),
//   capped at HERALD_PUSH_RETRY_MAX_MS; a push whose next attempt would fall after its expiry is dropped as expired;
// - `drop-channel`: the owning dialect's onEndpointGone runs first, then the row and the endpoint's other queued
//   pushes are deleted (a crash in between sends once more, gets the same answer, and prunes again).
// Per-endpoint order: only the oldest live push of an endpoint is ever claimable, on every node. Per-provider
// concurrency: a sender keeps at most `concurrency` pushes in flight (per node). At-least-once: a node dying
// mid-send leaves the lease to run out and another node sends again.
import { createHash } from 'node:crypto'
import { EventEmitter } from 'node:events'
import { hostname } from 'node:os'
import { randomUUID } from 'node:crypto'
import type { Logger } from 'pino'
import type { Registry } from 'prom-client'
import { systemClock, type Clock } from '../clock.ts'
import { exponentialBackoff } from '../queue/outbox.ts'
import type { Db, DbKind } from '../store/db.ts'
import { pushMetrics, type PushMetrics } from './metrics.ts'
import { PushQueueStore, type PushRow } from './queue-store.ts'
import { PushTargetError, type EndpointGone, type PushNotification, type PushProviderName, type PushSendOptions, type PushService, type PushTarget } from './service.ts'
import type { PushOutcome, PushProvider } from './types.ts'
import { checkPush } from './validate.ts'

/** a provider as the dispatcher drives it: the seam's own target and notification */
export type Deliverer = PushProvider<PushTarget, PushNotification>

/** how a push ended (metrics label `outcome`); `retry` is an attempt that will be repeated */
export type Settled = 'delivered' | 'retry' | 'gone' | 'discarded' | 'failed' | 'expired'

export const PROVIDERS: readonly PushProviderName[] = ['wns', 'webpush', 'unifiedpush', 'fcm', 'apns']

export interface DispatcherOptions {
  db: Db
  kind: DbKind
  providers: Partial<Record<PushProviderName, Deliverer>>
  clock?: Clock
  registry?: Registry
  log?: Logger
  /** names this process in lease_owner */
  owner?: string
  vapidPublicKey?: string
  /** a push is attempted until this long after send() */
  maxAgeMs?: number
  leaseMs?: number
  retryBaseMs?: number
  retryMaxMs?: number
  pollMs?: number
  /** pushes in flight at once per provider (default 32) */
  concurrency?: Partial<Record<PushProviderName, number>>
  /** 0 ≤ x < 1, for the back-off jitter (tests) */
  random?: () => number
}

/** what identifies an endpoint: pushes with the same key are sent one at a time, in order */
export function endpointKey(t: PushTarget): string {
  const id = t.provider === 'wns' ? t.channelUri : t.provider === 'webpush' || t.provider === 'unifiedpush' ? t.endpoint : t.token
  return createHash('sha256').update(`${t.provider}\n${id}`).digest('hex')
}

/**
 * Events: 'settled' (row, outcome: Settled, provider's PushOutcome | undefined) after each attempt or drop,
 * 'idle' (provider) when a sender finds nothing due.
 */
export class PushDispatcher extends EventEmitter implements PushService {
  readonly store: PushQueueStore
  readonly clock: Clock
  readonly owner: string
  private gone = new Map<string, EndpointGone[]>()
  private senders = new Map<PushProviderName, Sender>()
  private metrics?: PushMetrics
  private backoff: (n: number) => number
  private started = false

  constructor(private o: DispatcherOptions) {
    super()
    this.store = new PushQueueStore(o.db, o.kind)
    this.clock = o.clock ?? systemClock
    this.owner = o.owner ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`
    this.backoff = exponentialBackoff({ baseMs: o.retryBaseMs ?? 5000, maxMs: o.retryMaxMs ?? 600_000, random: o.random })
    if (o.registry) this.metrics = pushMetrics(o.registry, this.store, PROVIDERS)
  }

  enabled(provider: PushProviderName): boolean { return !!this.o.providers[provider] }

  vapidPublicKey(): string | undefined { return this.o.vapidPublicKey }

  onEndpointGone(dialect: string, fn: EndpointGone): void {
    const list = this.gone.get(dialect) ?? []
    list.push(fn)
    this.gone.set(dialect, list)
  }

  async send(target: PushTarget, n: PushNotification, o: PushSendOptions): Promise<void> {
    const problem = checkPush(target, n)
    if (problem) throw new PushTargetError(problem)
    if (!this.enabled(target.provider)) throw new PushTargetError(`push provider ${target.provider} is not configured`)
    if (typeof o?.dialect !== 'string' || !o.dialect) throw new PushTargetError('send() needs the dialect the target belongs to')
    const now = this.clock.now()
    await this.store.insert(o.trx ?? this.o.db, {
      provider: target.provider, endpointKey: endpointKey(target), dialect: o.dialect,
      target: JSON.stringify(target), notification: JSON.stringify(n), runAt: now, expiresAt: now + (this.o.maxAgeMs ?? 86_400_000),
    }, now)
    this.metrics?.accepted.inc({ provider: target.provider, dialect: o.dialect })
    // in a transaction the row is visible at its commit: the sender's poll (HERALD_PUSH_POLL_MS) finds it then
    this.senders.get(target.provider)?.poke()
  }

  /** Start one sender per configured provider (after the dialects registered their onEndpointGone). */
  start(): void {
    if (this.started) return
    this.started = true
    for (const name of PROVIDERS) {
      const p = this.o.providers[name]
      if (p) this.senders.set(name, new Sender(name, p, this.o.concurrency?.[name] ?? 32, this))
    }
  }

  /** Stop claiming, wait up to `timeoutMs` for pushes in flight (an unfinished one keeps its lease), close providers. */
  async stop(timeoutMs = 10_000): Promise<void> {
    await Promise.all([...this.senders.values()].map((s) => s.stop(timeoutMs)))
    this.senders.clear()
    await Promise.allSettled(Object.values(this.o.providers).map((p) => p.close()))
  }

  /** @internal one claimed row, start to finish; never throws */
  async deliver(provider: Deliverer, row: PushRow): Promise<void> {
    const { store, clock, owner } = this
    const name = row.provider
    const now = clock.now()
    if (row.attempts === 1) this.metrics?.wait.observe({ provider: name }, Math.max(0, now - row.createdAt) / 1000)
    const settle = async (outcome: Settled, out?: PushOutcome, others = 0) => {
      this.metrics?.sent.inc({ provider: name, outcome })
      if (others > 0) this.metrics?.sent.inc({ provider: name, outcome: 'discarded' }, others)
      this.emit('settled', row, outcome, out)
    }
    if (now >= row.expiresAt) {
      await store.remove(row.id, owner, row.attempts)
      this.o.log?.info({ provider: name, id: row.id, attempts: row.attempts - 1, err: row.lastError }, 'push: expired before delivery')
      return settle('expired')
    }
    let target: PushTarget
    let n: PushNotification
    try {
      target = JSON.parse(row.target) as PushTarget
      n = JSON.parse(row.notification) as PushNotification
    } catch {
      await store.remove(row.id, owner, row.attempts)
      return settle('failed')
    }
    let out: PushOutcome
    try {
      out = await provider.send(target, n)
    } catch (err) {
      out = { kind: 'retry-after', afterMs: 0, reason: `provider fault: ${(err as Error).message}` }
    }
    switch (out.kind) {
      case 'delivered':
        await store.remove(row.id, owner, row.attempts)
        this.metrics?.delivery.observe({ provider: name }, Math.max(0, clock.now() - row.createdAt) / 1000)
        return settle('delivered', out)
      case 'failed':
        await store.remove(row.id, owner, row.attempts)
        this.o.log?.warn({ provider: name, dialect: row.dialect, id: row.id, reason: out.reason }, 'push: rejected for good')
        return settle('failed', out)
      case 'drop-channel': {
        for (const fn of this.gone.get(row.dialect) ?? []) {
          try { await fn(target) } catch (err) { this.o.log?.warn({ err, provider: name, dialect: row.dialect }, 'push: the dialect failed to prune a gone endpoint') }
        }
        const others = await store.dropEndpoint(row.endpointKey, row.id)
        this.o.log?.info({ provider: name, dialect: row.dialect, reason: out.reason, discarded: others }, 'push: endpoint gone')
        return settle('gone', out, others)
      }
      case 'retry-after': {
        const wait = Math.min(this.o.retryMaxMs ?? 600_000, Math.max(out.afterMs, this.backoff(row.attempts)))
        const at = clock.now() + wait
        if (at >= row.expiresAt) {
          await store.remove(row.id, owner, row.attempts)
          this.o.log?.info({ provider: name, id: row.id, reason: out.reason }, 'push: expires before its next attempt')
          return settle('expired', out)
        }
        await store.retry(row.id, owner, row.attempts, at, out.reason.slice(0, 2000))
        this.o.log?.debug({ provider: name, id: row.id, attempts: row.attempts, reason: out.reason, waitMs: wait }, 'push: will retry')
        return settle('retry', out)
      }
    }
  }

  /** @internal */
  get options(): DispatcherOptions { return this.o }
}

/** One provider's claim loop in this process: at most `concurrency` pushes in flight. */
class Sender {
  private running = new Set<Promise<void>>()
  private stopping = false
  private nudged = false
  private nudge?: () => void
  private loopDone: Promise<void>

  constructor(readonly name: PushProviderName, private provider: Deliverer, private concurrency: number, private d: PushDispatcher) {
    this.concurrency = Math.max(1, concurrency)
    this.loopDone = this.loop()
  }

  poke(): void {
    this.nudged = true
    this.nudge?.()
  }

  async stop(timeoutMs: number): Promise<void> {
    this.stopping = true
    this.poke()
    await this.loopDone
    let timer: NodeJS.Timeout | undefined
    await Promise.race([Promise.allSettled([...this.running]), new Promise((r) => { timer = setTimeout(r, timeoutMs) })])
    clearTimeout(timer)
  }

  /** sleep until poked or `ms` of wall time passed; a manual clock in tests must not stall the poll */
  private wait(ms: number | null): Promise<void> {
    if (this.nudged || this.stopping) { this.nudged = false; return Promise.resolve() }
    return new Promise<void>((resolve) => {
      let timer: NodeJS.Timeout | undefined
      const done = () => { clearTimeout(timer); this.nudge = undefined; this.nudged = false; resolve() }
      this.nudge = done
      if (ms !== null) timer = setTimeout(() => { if (this.nudge === done) done() }, ms)
    })
  }

  private async loop(): Promise<void> {
    const { store, clock, owner } = this.d
    const o = this.d.options
    const pollMs = o.pollMs ?? 1000
    while (!this.stopping) {
      const free = this.concurrency - this.running.size
      if (free <= 0) { await this.wait(null); continue }
      this.nudged = false
      const now = clock.now()
      let claimed: PushRow[]
      try {
        claimed = await store.claim(this.name, owner, free, now, now + (o.leaseMs ?? 300_000))
      } catch (err) {
        o.log?.warn({ err, provider: this.name }, 'push: claiming queued pushes failed, will try again')
        await this.wait(pollMs)
        continue
      }
      for (const row of claimed) this.start(row)
      if (claimed.length === free) continue
      let next: number | null = null
      try { next = await store.nextDue(this.name) } catch { /* sleep the poll interval */ }
      // a due push not claimed is another node's this instant (or blocked behind its endpoint's head): look again soon
      const wait = next === null ? pollMs : next > clock.now() ? next - clock.now() : Math.min(pollMs, 50)
      this.d.emit('idle', this.name)
      await this.wait(Math.min(wait, pollMs))
    }
  }

  private start(row: PushRow): void {
    const p = this.d.deliver(this.provider, row)
      .catch((err) => this.d.options.log?.error({ err, provider: this.name, id: row.id }, 'push: recording an outcome failed'))
      .finally(() => { this.running.delete(p); this.poke() })
    this.running.add(p)
  }
}
