// Webhooks (§8): events are queued in the store with the message they describe, then POSTed with retries and
// exponential back-off, so an endpoint that is down loses nothing. Unlike the original, receipt and
// conversation-archived events are delivered too (§8.4, §17.5).
import type { Logger } from 'pino'
import type { Chat21Store, Doc, QueuedWebhook, WebhookJob } from './store.ts'

export interface WebhookOptions {
  enabled: boolean
  endpoints: string[]
  events: string[]
  retryBaseMs: number
  retryMaxMs: number
  timeoutMs: number
}

const BATCH = 50
const PARALLEL = 8

export class Webhooks {
  private timer?: NodeJS.Timeout
  private running = false
  private again = false
  private stopped = true
  private events: Set<string>

  constructor(private o: WebhookOptions, private store: Chat21Store, private log: Logger) {
    this.events = new Set(o.events)
  }

  /**
   * Jobs for one event (one per endpoint), to be committed with the change they describe. The events setting
   * filters message and conversation events; presence-change is switched by the presence setting alone (§5.7).
   */
  jobs(event: string, body: Doc): WebhookJob[] {
    if (!this.o.enabled || (event !== 'presence-change' && !this.events.has(event))) return []
    return this.o.endpoints.map((endpoint) => ({ endpoint, body: { event_type: event, createdAt: Date.now(), ...body } }))
  }

  start(): void {
    if (!this.o.enabled) return
    this.stopped = false
    this.timer = setInterval(() => this.kick(), Math.min(this.o.retryBaseMs, 1000))
    this.timer.unref()
    this.kick()
  }

  async stop(): Promise<void> {
    this.stopped = true
    if (this.timer) clearInterval(this.timer)
    for (let i = 0; i < 100 && this.running; i++) await new Promise((r) => setTimeout(r, 20))
  }

  /** Deliver what is due now (called after each commit and on a timer). */
  kick(): void {
    if (this.stopped) return
    if (this.running) { this.again = true; return }
    this.running = true
    this.drain().catch((err) => this.log.error({ err }, 'chat21 webhook queue failed')).finally(() => {
      this.running = false
      if (this.again && !this.stopped) { this.again = false; this.kick() }
    })
  }

  private async drain(): Promise<void> {
    for (let round = 0; round < 100 && !this.stopped; round++) {
      const due = await this.store.dueWebhooks(Date.now(), BATCH)
      if (due.length === 0) return
      for (let i = 0; i < due.length; i += PARALLEL) {
        await Promise.all(due.slice(i, i + PARALLEL).map((w) => this.deliver(w)))
      }
      if (due.length < BATCH) return
    }
  }

  private async deliver(w: QueuedWebhook): Promise<void> {
    if (!(await this.store.claimWebhook(w, Date.now() + this.o.timeoutMs + 5000))) return
    let ok = false
    try {
      const res = await fetch(w.endpoint, {
        method: 'POST', headers: { 'content-type': 'application/json' }, body: w.body, signal: AbortSignal.timeout(this.o.timeoutMs),
      })
      ok = res.ok
      await res.arrayBuffer().catch(() => {})
      if (!ok) this.log.warn({ endpoint: w.endpoint, status: res.status }, 'chat21 webhook refused, will retry')
    } catch (err) {
      this.log.warn({ endpoint: w.endpoint, err: (err as Error).message }, 'chat21 webhook failed, will retry')
    }
    if (ok) return this.store.webhookDone(w.id)
    const delay = Math.min(this.o.retryBaseMs * 2 ** Math.min(w.attempts, 30), this.o.retryMaxMs)
    await this.store.webhookRetry(w.id, w.attempts + 1, Date.now() + delay)
  }
}
