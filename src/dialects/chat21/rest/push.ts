// Push webhook forwarder (§12.2 `POST /:app_id/push/webhook/endpoint/:token`, §10.2 PUSH_WH_*): a chat21
// webhook (§8.2) endpoint with no JWT (§12.1); the path token is its credential. `message-delivered` events are
// forwarded to the notify URL with the admin token; every other event is acknowledged and dropped.
import { createHash, timingSafeEqual } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import type { Logger } from 'pino'

export interface PushWebhookOptions {
  /** empty: no call is accepted */
  token: string
  adminToken: string
  notifyUrl: string
  timeoutMs: number
}

/** Refuse at start a configuration that would fail every forward. */
export function checkPushWebhook(o: PushWebhookOptions): void {
  if (!o.token) return
  if (!o.notifyUrl) throw new Error('chat21.pushWebhook.notifyUrl (HERALD_CHAT21_PUSH_WH_NOTIFY_URL) is required when the push webhook token is set')
  let url: URL
  try { url = new URL(o.notifyUrl) } catch { url = new URL('invalid:') }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new Error(`chat21.pushWebhook.notifyUrl (HERALD_CHAT21_PUSH_WH_NOTIFY_URL) must be an http(s) URL: ${o.notifyUrl}`)
  }
}

const digest = (s: string) => createHash('sha256').update(s).digest()

function sameToken(given: string, expected: string): boolean {
  return expected !== '' && timingSafeEqual(digest(given), digest(expected))
}

export function pushWebhookRoutes(app: FastifyInstance, o: PushWebhookOptions, log: Logger): void {
  app.post('/:appid/push/webhook/endpoint/:token', async (req, reply) => {
    if (!sameToken((req.params as Record<string, string>).token, o.token)) {
      return reply.code(401).send({ success: false, err: 'invalid push webhook token' })
    }
    const body = req.body as Record<string, unknown> | undefined
    if (body === null || typeof body !== 'object' || body.event_type !== 'message-delivered') return { success: true }
    const headers: Record<string, string> = { 'content-type': 'application/json' }
    if (o.adminToken) headers.authorization = o.adminToken
    // not on the outbox: the documented answer is the forward's result (200 once forwarded, 502 if it fails), which
    // a queued forward could not give; a webhook sender that retries (as Herald's own, §8) gets the failure
    try {
      const res = await fetch(o.notifyUrl, { method: 'POST', headers, body: JSON.stringify(body), signal: AbortSignal.timeout(o.timeoutMs) })
      await res.arrayBuffer().catch(() => {})
      if (!res.ok) {
        log.warn({ status: res.status, message_id: body.message_id }, 'chat21 push webhook: notify endpoint refused the event')
        return reply.code(502).send({ success: false, err: `notify endpoint answered ${res.status}` })
      }
    } catch (err) {
      log.warn({ err: (err as Error).message, message_id: body.message_id }, 'chat21 push webhook: notify endpoint unreachable')
      return reply.code(502).send({ success: false, err: 'notify endpoint unreachable' })
    }
    return { success: true }
  })
}
