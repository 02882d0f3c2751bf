// APNs (issue 14 item 4): HTTP/2 to the configured host (node:http2, one session kept open and reopened when it
// closes), token authentication with a .p8 key: an ES256 JWT {iss: team id, iat} with kid = key id, reused for up
// to 50 minutes (Apple refuses one older than an hour, and more than one new token per 20 minutes).
// 410 Unregistered and 400 BadDeviceToken drop the token; 429 and 5xx come back later.
import http2, { type ClientHttp2Session } from 'node:http2'
import { readFileSync } from 'node:fs'
import { connect as tlsConnect } from 'node:tls'
import { importPKCS8, SignJWT } from 'jose'
import { systemClock, type Clock } from '../clock.ts'
import { parseConnectTo, retryAfterMs, trustedCas } from './http.ts'
import type { PushNotification } from './service.ts'
import type { PushOutcome, PushProvider } from './types.ts'

export interface ApnsOptions {
  /** the .p8 key (PEM) */
  key: string
  keyId: string
  teamId: string
  /** apns-topic when the target names none (the bundle id) */
  topic?: string
  /** default https://api.push.apple.com */
  url?: string
  connectTo?: string
  ca?: string | string[]
  timeoutMs?: number
  clock?: Clock
}

export const APNS_URL = 'https://api.push.apple.com'
/** a provider token is reused this long */
export const APNS_JWT_REUSE_MS = 50 * 60_000
const MAX_BODY = 64 * 1024

export function readApnsKey(file: string): string {
  try { return readFileSync(file, 'utf8') } catch (e) { throw new Error(`HERALD_PUSH_APNS_KEY_FILE ${file}: ${(e as Error).message}`) }
}

export interface ApnsTarget { token: string; topic?: string }

interface H2Answer { status: number; headers: http2.IncomingHttpHeaders; body: string }

export class ApnsProvider implements PushProvider<ApnsTarget, PushNotification> {
  readonly name = 'apns'
  private clock: Clock
  private timeoutMs: number
  private url: URL
  private session?: ClientHttp2Session
  private jwt?: { token: string; at: number }
  private signing?: Promise<string>
  /** provider tokens signed (tests) */
  signed = 0

  constructor(private o: ApnsOptions) {
    if (!o.key || !o.keyId || !o.teamId) throw new Error('APNs needs HERALD_PUSH_APNS_KEY_FILE, HERALD_PUSH_APNS_KEY_ID and HERALD_PUSH_APNS_TEAM_ID')
    this.clock = o.clock ?? systemClock
    this.timeoutMs = o.timeoutMs ?? 10_000
    this.url = new URL(o.url || APNS_URL)
  }

  /** the provider token: the cached one while younger than 50 minutes, else one signed now (one signing at a time) */
  private async providerToken(fresh = false): Promise<string> {
    const now = this.clock.now()
    if (!fresh && this.jwt && now - this.jwt.at < APNS_JWT_REUSE_MS) return this.jwt.token
    this.signing ??= (async () => {
      const key = await importPKCS8(this.o.key, 'ES256')
      const token = await new SignJWT({}).setProtectedHeader({ alg: 'ES256', kid: this.o.keyId })
        .setIssuer(this.o.teamId).setIssuedAt(Math.floor(this.clock.now() / 1000)).sign(key)
      this.signed++
      this.jwt = { token, at: this.clock.now() }
      return token
    })().finally(() => { this.signing = undefined })
    return this.signing
  }

  private connect(): ClientHttp2Session {
    if (this.session && !this.session.closed && !this.session.destroyed) return this.session
    const ca = trustedCas(this.o.ca)
    const host = this.url.hostname
    const port = Number(this.url.port || 443)
    const to = this.o.connectTo ? parseConnectTo(this.o.connectTo) : { host, port }
    const s = http2.connect(this.url.origin, {
      // the socket goes to connect-to; SNI and the certificate check keep the URL's host
      createConnection: () => tlsConnect({ host: to.host, port: to.port, servername: host, ALPNProtocols: ['h2'], ...(ca ? { ca } : {}) }),
    })
    s.on('error', () => {})
    s.on('goaway', () => s.close())
    s.setTimeout(5 * 60_000, () => s.close())
    this.session = s
    return s
  }

  private request(headers: http2.OutgoingHttpHeaders, body: Buffer): Promise<H2Answer> {
    return new Promise((resolve, reject) => {
      let req: http2.ClientHttp2Stream
      try { req = this.connect().request(headers) } catch (e) { reject(e as Error); return }
      const timer = setTimeout(() => { req.close(http2.constants.NGHTTP2_CANCEL); reject(new Error(`no answer within ${this.timeoutMs} ms`)) }, this.timeoutMs)
      let status = 0
      let answer: http2.IncomingHttpHeaders = {}
      const chunks: Buffer[] = []
      let size = 0
      req.on('response', (h) => { answer = h; status = Number(h[':status']) })
      req.on('data', (c: Buffer) => { if (size < MAX_BODY) { chunks.push(c); size += c.length } })
      req.on('end', () => { clearTimeout(timer); resolve({ status, headers: answer, body: Buffer.concat(chunks).toString('utf8') }) })
      req.on('error', (e) => { clearTimeout(timer); reject(e) })
      req.end(body)
    })
  }

  headers(target: ApnsTarget, n: PushNotification, jwt: string): http2.OutgoingHttpHeaders {
    const topic = target.topic || this.o.topic
    const pushType = n.apns?.pushType ?? (hasAlert(n.payload) ? 'alert' : 'background')
    const h: http2.OutgoingHttpHeaders = {
      ':method': 'POST',
      ':path': `/3/device/${target.token}`,
      authorization: `bearer ${jwt}`,
      'apns-push-type': pushType,
      // background pushes must go at priority 5 (Apple refuses 10)
      'apns-priority': pushType === 'background' || n.urgency === 'low' || n.urgency === 'very-low' ? '5' : '10',
      'content-type': 'application/json',
    }
    if (topic) h['apns-topic'] = pushType === 'voip' && !topic.endsWith('.voip') ? `${topic}.voip` : topic
    if (n.ttlS !== undefined) h['apns-expiration'] = String(Math.floor(this.clock.now() / 1000) + Math.max(0, Math.floor(n.ttlS)))
    if (n.collapseKey) h['apns-collapse-id'] = n.collapseKey.slice(0, 64)
    return h
  }

  async send(target: ApnsTarget, n: PushNotification): Promise<PushOutcome> {
    const body = Buffer.from(n.payload)
    let renewed = false
    for (;;) {
      let jwt: string
      try { jwt = await this.providerToken(renewed) } catch (e) { return { kind: 'failed', reason: `APNs key: ${(e as Error).message}` } }
      let res: H2Answer
      try {
        res = await this.request(this.headers(target, n, jwt), body)
      } catch (e) {
        return { kind: 'retry-after', afterMs: 0, reason: `transport: ${(e as Error).message}` }
      }
      const reason = apnsReason(res.body)
      // a token Apple thinks stale: sign a new one once, then retry
      if (res.status === 403 && reason === 'ExpiredProviderToken' && !renewed) { renewed = true; continue }
      return apnsOutcome(res.status, reason, res.headers['retry-after'] as string | undefined, this.clock.now())
    }
  }

  async close(): Promise<void> {
    const s = this.session
    this.session = undefined
    if (s && !s.closed) await new Promise<void>((r) => s.close(() => r()))
  }
}

function hasAlert(payload: string): boolean {
  try { return !!(JSON.parse(payload) as { aps?: { alert?: unknown } }).aps?.alert } catch { return false }
}

function apnsReason(body: string): string | undefined {
  try { return (JSON.parse(body) as { reason?: string }).reason } catch { return undefined }
}

export function apnsOutcome(status: number, reason: string | undefined, retryAfter: string | undefined, now: number): PushOutcome {
  const why = `APNs answered ${status}${reason ? ` ${reason}` : ''}`
  if (status === 200) return { kind: 'delivered', status }
  if (status === 410 || reason === 'Unregistered' || reason === 'BadDeviceToken') return { kind: 'drop-channel', reason: why, status }
  if (status === 429 || status >= 500) return { kind: 'retry-after', afterMs: retryAfterMs(retryAfter, now) ?? 0, reason: why, status }
  return { kind: 'failed', reason: why, status }
}
