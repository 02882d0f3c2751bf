// The SMS code sender (issue 12 §2): an HTTP POST of {"phone","code","client_id"} to the configured gateway through
// the outbox (durable, retried with back-off), or the log in development mode.
import type { Logger } from 'pino'
import type { Outbox } from '../../core/queue/outbox.ts'

export const SMS_QUEUE = 'synrc.sms'

export interface SmsMessage { phone: string; code: string; client_id: string }

export interface SmsSender {
  /** false: no way to send codes here (production without a gateway) */
  readonly available: boolean
  send(m: SmsMessage): Promise<void>
  start(): void
  stop(): Promise<void>
}

export function smsSender(o: { webhook: string; development: boolean; outbox: Outbox; log: Logger; timeoutMs?: number }): SmsSender {
  if (!o.webhook) {
    return {
      available: o.development,
      async send(m) {
        if (!o.development) throw new Error('no SMS gateway configured (HERALD_SYNRC_SMS_WEBHOOK)')
        o.log.info({ phone: m.phone, clientId: m.client_id, code: m.code }, 'synrc SMS code (development mode: no gateway configured)')
      },
      start() {},
      async stop() {},
    }
  }
  const url = new URL(o.webhook)
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`synrc.smsWebhook must be an http(s) URL: ${o.webhook}`)
  let consumer: { stop(ms?: number): Promise<void> } | undefined
  return {
    available: true,
    async send(m) { await o.outbox.enqueue(SMS_QUEUE, m) },
    start() {
      consumer = o.outbox.consume<SmsMessage>(SMS_QUEUE, async (job) => {
        const res = await fetch(url, {
          method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(job.payload),
          signal: AbortSignal.timeout(o.timeoutMs ?? 10_000),
        })
        await res.arrayBuffer()
        if (!res.ok) throw new Error(`SMS gateway answered ${res.status}`)
      })
    },
    async stop() { await consumer?.stop() },
  }
}
