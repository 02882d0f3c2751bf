// Webhooks (§8): events are enqueued on the core outbox in the transaction of the message they describe, then
// POSTed with retries and exponential back-off, so an endpoint that is down loses nothing. Unlike the original,
// receipt and conversation-archived events are delivered too (§8.4, §17.5).
import type { Logger } from 'pino'
import { exponentialBackoff, type Consumer, type Outbox } from '../../core/queue/outbox.ts'
import { WEBHOOK_QUEUE, type Doc, type WebhookJob } from './store.ts'

export interface WebhookOptions {
  enabled: boolean
  endpoints: string[]
  events: string[]
  retryBaseMs: number
  retryMaxMs: number
  timeoutMs: number
}

/** deliveries at once per node */
const PARALLEL = 8
/** a stopping node waits this long for deliveries in flight; the rest are taken again when their lease ends */
const STOP_WAIT_MS = 5000

export class Webhooks {
  private consumer?: Consumer
  private events: Set<string>

  constructor(private o: WebhookOptions, private outbox: Outbox, private log: Logger) {
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
    if (!this.o.enabled || this.consumer) return
    this.consumer = this.outbox.consume<WebhookJob>(WEBHOOK_QUEUE, (job) => this.deliver(job.payload), {
      concurrency: PARALLEL,
      leaseMs: this.o.timeoutMs + 5000,
      // as documented (HERALD_CHAT21_WEBHOOK_RETRY_*): retried until delivered, the delay doubling up to the maximum
      maxAttempts: Infinity,
      backoff: exponentialBackoff({ baseMs: this.o.retryBaseMs, maxMs: this.o.retryMaxMs, jitter: 0 }),
      pollMs: Math.min(this.o.retryBaseMs, 1000),
    })
  }

  async stop(): Promise<void> {
    await this.consumer?.stop(STOP_WAIT_MS)
    this.consumer = undefined
  }

  /** Deliver what is due now (called after each commit that enqueued webhooks). */
  kick(): void {
    this.outbox.wake(WEBHOOK_QUEUE)
  }

  /** One POST (§8.5); any answer but 2xx, or no answer within the timeout, is a failed attempt. */
  private async deliver(w: WebhookJob): Promise<void> {
    let res: Response
    try {
      res = await fetch(w.endpoint, {
        method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(w.body), signal: AbortSignal.timeout(this.o.timeoutMs),
      })
    } catch (err) {
      this.log.warn({ endpoint: w.endpoint, err: (err as Error).message }, 'chat21 webhook failed, will retry')
      throw err
    }
    await res.arrayBuffer().catch(() => {})
    if (!res.ok) {
      this.log.warn({ endpoint: w.endpoint, status: res.status }, 'chat21 webhook refused, will retry')
      throw new Error(`webhook endpoint answered ${res.status}`)
    }
  }
}
