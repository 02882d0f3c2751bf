// Offline push for HeartSMS (issue 14 item 5): an account's browsers register Web Push (or UnifiedPush) subscriptions;
// when a write publishes on `heartsms/<account_id>` and no stream client of the account is connected, each
// subscription gets one push through Herald's push service. Writes come in bursts (a sync is hundreds of calls), so
// the pushes of one account are coalesced: the first write starts a short window, its end sends one push naming the
// last operation and how many there were, and a later push replaces an undelivered one (Topic / collapse key).
// Privacy: the content of the write goes in only with HERALD_HEARTSMS_PUSH_INCLUDE_CONTENT=true, and never the
// account_id (it is the account's credential).
import type { Logger } from 'pino'
import type { Clock } from '../../core/clock.ts'
import type { Presence } from '../../core/presence/types.ts'
import type { PushService, PushTarget } from '../../core/push/service.ts'
import type { HeartPushStore, PushSubscriptionRow } from './push-store.ts'
import type { Content } from './stream.ts'

export interface HeartPushOptions {
  enabled: boolean
  includeContent: boolean
  /** how long after an account's first write its push waits for more */
  coalesceMs: number
}

/** principal kind of HeartSMS stream clients (access.ts) */
const KIND = 'heartsms'
/** a payload with content larger than this goes without it (Web Push carries about 4 KB) */
const MAX_CONTENT_BYTES = 3000

interface Pending { count: number; operation: string; content: Content }

export function targetOf(s: Pick<PushSubscriptionRow, 'endpoint' | 'kind' | 'p256dh' | 'auth'>): PushTarget {
  if (s.kind === 'webpush') return { provider: 'webpush', endpoint: s.endpoint, p256dh: s.p256dh ?? '', auth: s.auth ?? '' }
  return { provider: 'unifiedpush', endpoint: s.endpoint, ...(s.p256dh !== null ? { p256dh: s.p256dh } : {}), ...(s.auth !== null ? { auth: s.auth } : {}) }
}

/** the push body: `{operation, count}`, plus `content` when allowed and small enough */
export function heartPayload(p: Pending, includeContent: boolean): string {
  const base = { operation: p.operation, count: p.count }
  if (!includeContent) return JSON.stringify(base)
  const full = JSON.stringify({ ...base, content: p.content })
  return Buffer.byteLength(full) <= MAX_CONTENT_BYTES ? full : JSON.stringify(base)
}

export class HeartPush {
  private pending = new Map<string, Pending>()
  private running = new Set<Promise<unknown>>()
  private stopped = false

  constructor(
    private readonly store: HeartPushStore,
    private readonly presence: Presence,
    private readonly push: PushService,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly o: HeartPushOptions,
  ) {
    push.onEndpointGone('heartsms', async (t) => {
      if (t.provider !== 'webpush' && t.provider !== 'unifiedpush') return
      await this.store.drop(t.endpoint)
      this.log.info({ endpoint: new URL(t.endpoint).host }, 'heartsms: push subscription gone, deleted')
    })
  }

  /** whether a subscription of this kind can be served now */
  accepts(kind: PushSubscriptionRow['kind']): boolean {
    return this.o.enabled && this.push.enabled(kind)
  }

  /** a write published on the account's stream */
  published(session: string, operation: string, content: Content): void {
    if (!this.o.enabled || this.stopped) return
    const p = this.pending.get(session)
    if (p) { p.count++; p.operation = operation; p.content = content; return }
    this.pending.set(session, { count: 1, operation, content })
    const run = this.clock.sleep(this.o.coalesceMs).then(() => this.flush(session))
      .catch((err) => this.log.warn({ err }, 'heartsms: offline push not queued'))
      .finally(() => this.running.delete(run))
    this.running.add(run)
  }

  private async flush(session: string): Promise<void> {
    const p = this.pending.get(session)
    this.pending.delete(session)
    if (!p || this.stopped) return
    const subs = (await this.store.list(session)).filter((s) => this.push.enabled(s.kind))
    if (subs.length === 0) return
    const username = await this.store.username(session)
    if (!username || (await this.presence.byUser(KIND, username)).length > 0) return
    const payload = heartPayload(p, this.o.includeContent)
    for (const s of subs) await this.push.send(targetOf(s), { payload, collapseKey: 'heartsms-sync', urgency: 'normal' }, { dialect: 'heartsms' })
  }

  /** send what is pending now, then take no more */
  async stop(): Promise<void> {
    this.stopped = true
    await Promise.allSettled([...this.running])
  }
}
