// Web Push (RFC 8030) with aes128gcm payload encryption (RFC 8291) and VAPID (RFC 8292), through the `web-push`
// package's encryption and JWT; and UnifiedPush, whose distributor hands out a Web Push endpoint: encrypted when
// the app gave keys, else the payload POSTed as is (issue 14 item 4).
import webpush from 'web-push'
import type { Agent } from 'undici'
import { isIP } from 'node:net'
import { systemClock, type Clock } from '../clock.ts'
import { isInternalAddress, RefusedAddress } from '../util/addresses.ts'
import { post, pushAgent, retryAfterMs, type PushResponse } from './http.ts'
import type { PushNotification } from './service.ts'
import type { PushOutcome, PushProvider } from './types.ts'

import type { VapidKeys } from './webpush-rules.ts'

export { generateVapidKeys, UNENCRYPTED_MAX, WEBPUSH_MAX_PLAINTEXT, webPushKeysProblem, type VapidKeys } from './webpush-rules.ts'

export interface WebPushTarget { endpoint: string; p256dh?: string; auth?: string }

export interface WebPushOptions {
  /** `webpush` or `unifiedpush` (metrics, reasons) */
  name: 'webpush' | 'unifiedpush'
  vapid: VapidKeys
  /** RFC 8292 `sub`: mailto: or https: */
  subject: string
  connectTo?: string
  ca?: string | string[]
  timeoutMs?: number
  clock?: Clock
  /** HERALD_PUSH_ALLOW_PRIVATE_ENDPOINTS: endpoints on loopback and private networks (a LAN UnifiedPush distributor) */
  allowPrivate?: boolean
}

/** RFC 8292 §2: exp at most 24 h ahead; a header is reused for an hour, then signed again */
const JWT_LIFETIME_S = 12 * 3600
const JWT_REUSE_MS = 3600_000
/** when to try again after a transport fault or a 5xx without Retry-After: the dispatcher's back-off decides */
const RETRY_NOW = 0

export class WebPushProvider implements PushProvider<WebPushTarget, PushNotification> {
  readonly name: 'webpush' | 'unifiedpush'
  private agent: Agent
  private clock: Clock
  private timeoutMs: number
  private jwt = new Map<string, { header: string; at: number }>()

  constructor(private o: WebPushOptions) {
    this.name = o.name
    this.clock = o.clock ?? systemClock
    this.timeoutMs = o.timeoutMs ?? 10_000
    this.agent = pushAgent({ connectTo: o.connectTo || undefined, ca: o.ca, timeoutMs: this.timeoutMs, publicOnly: !o.allowPrivate })
  }

  /** The Authorization header for the push service at `audience` (its origin), signed at most once an hour. */
  private vapid(audience: string): string {
    const now = this.clock.now()
    const c = this.jwt.get(audience)
    if (c && now - c.at < JWT_REUSE_MS) return c.header
    const exp = Math.floor(now / 1000) + JWT_LIFETIME_S
    const header = webpush.getVapidHeaders(audience, this.o.subject, this.o.vapid.publicKey, this.o.vapid.privateKey, 'aes128gcm', exp).Authorization
    if (this.jwt.size > 1000) this.jwt.clear()
    this.jwt.set(audience, { header, at: now })
    return header
  }

  async send(target: WebPushTarget, n: PushNotification): Promise<PushOutcome> {
    let url: URL
    try { url = new URL(target.endpoint) } catch { return { kind: 'failed', reason: 'endpoint is not a URL' } }
    // a client-given endpoint at an internal address literal (names are checked at connect, on what they resolve to)
    const host = url.hostname.replace(/^\[|\]$/g, '')
    if (!this.o.allowPrivate && !this.o.connectTo && isIP(host) && isInternalAddress(host)) {
      return { kind: 'failed', reason: `endpoint host ${host} is an internal address (HERALD_PUSH_ALLOW_PRIVATE_ENDPOINTS allows it)` }
    }
    const headers: Record<string, string> = {
      ttl: String(Math.max(0, Math.floor(n.ttlS ?? 86_400))),
      urgency: n.urgency ?? 'normal',
      authorization: this.vapid(url.origin),
      'content-type': 'application/octet-stream',
    }
    // RFC 8030 §5.4: a topic is at most 32 base64url characters
    if (n.collapseKey) headers.topic = Buffer.from(n.collapseKey).toString('base64url').slice(0, 32)
    let body: Buffer
    if (target.p256dh && target.auth) {
      try {
        body = webpush.encrypt(target.p256dh, target.auth, n.payload, 'aes128gcm').cipherText
      } catch (e) { return { kind: 'failed', reason: `encryption: ${(e as Error).message}` } }
      headers['content-encoding'] = 'aes128gcm'
    } else {
      body = Buffer.from(n.payload)
    }
    let res: PushResponse
    try {
      res = await post(this.agent, target.endpoint, headers, body, this.timeoutMs)
    } catch (e) {
      const refused = [e, (e as { cause?: unknown }).cause].find((x) => x instanceof RefusedAddress) as Error | undefined
      if (refused) return { kind: 'failed', reason: `${refused.message} (HERALD_PUSH_ALLOW_PRIVATE_ENDPOINTS allows it)` }
      return { kind: 'retry-after', afterMs: RETRY_NOW, reason: `transport: ${(e as Error).message}` }
    }
    return outcomeOf(this.name, res, this.clock.now())
  }

  async close(): Promise<void> { await this.agent.close() }
}

/** RFC 8030 §5, §6.2, §8.3: 201 (and any 2xx) accepted; 404/410 gone; 429 and 5xx later; the rest for good. */
function outcomeOf(name: string, res: PushResponse, now: number): PushOutcome {
  const s = res.status
  const why = `${name} push service answered ${s}${res.body ? `: ${res.body.slice(0, 200)}` : ''}`
  if (s >= 200 && s < 300) return { kind: 'delivered', status: s }
  if (s === 404 || s === 410) return { kind: 'drop-channel', reason: why, status: s }
  if (s === 429 || s >= 500) return { kind: 'retry-after', afterMs: retryAfterMs(res.headers['retry-after'], now) ?? RETRY_NOW, reason: why, status: s }
  return { kind: 'failed', reason: why, status: s }
}
