// The WNS provider (uwpx-push §4, §12.1 item 6, §12.2; issue 14 item 3): OAuth client credentials with the token
// cached in the store, raw notifications with the §4.2 bodies, bounded retries, channels dropped on 404/410.
import type { Agent } from 'undici'
import { settingsOf, type Config } from '../../config.ts'
import { systemClock, type Clock } from '../clock.ts'
import type { Db } from '../store/db.ts'
import { post, pushAgent, retryAfterMs, type PushResponse } from './http.ts'
import { wnsSettings } from './settings.ts'
import { PushTokenStore } from './store.ts'
import { TokenCache, type FetchedToken } from './token-cache.ts'
import type { AccessToken, PushOutcome, PushProvider } from './types.ts'
import { isWnsChannelUri, wnsBody, type WnsNotification } from './wns-body.ts'

export { isWnsChannelUri } from './wns-body.ts'

export type { WnsNotification } from './wns-body.ts'

/** A UWPX device: its WNS channel and the protocol version it registered with (§3.3, §4.2). */
export interface WnsTarget { channelUri: string; version: string | number }

export interface WnsOptions {
  clientId: string
  clientSecret: string
  tokenUrl?: string
  connectTo?: string
  timeoutMs?: number
  attempts?: number
  retryBaseMs?: number
  tokenMarginS?: number
  db: Db
  clock?: Clock
  /** extra trusted CA (PEM), for tests; production trusts Node's CAs and NODE_EXTRA_CA_CERTS */
  ca?: string | string[]
  /** 0 ≤ x < 1, for the back-off jitter (tests) */
  random?: () => number
}

export const WNS_TOKEN_URL = 'https://login.live.com/accesstoken.srf'
/** longest wait between two attempts inside one send; a longer Retry-After goes back to the queue */
const MAX_BACKOFF_MS = 30_000
/** when to try again after giving up, unless WNS said (Retry-After) */
const RETRY_LATER_MS = 30_000

export class TokenError extends Error {}

export class WnsProvider implements PushProvider<WnsTarget, WnsNotification> {
  readonly name = 'wns'
  readonly tokens: TokenCache
  private agent: Agent
  private clock: Clock
  private timeoutMs: number
  private attempts: number
  private retryBaseMs: number
  private random: () => number

  constructor(private o: WnsOptions) {
    if (!o.clientId || !o.clientSecret) throw new Error('WNS needs HERALD_PUSH_WNS_CLIENT_ID and HERALD_PUSH_WNS_CLIENT_SECRET')
    this.clock = o.clock ?? systemClock
    this.timeoutMs = o.timeoutMs ?? 10_000
    this.attempts = Math.max(1, o.attempts ?? 3)
    this.retryBaseMs = o.retryBaseMs ?? 500
    this.random = o.random ?? Math.random
    this.agent = pushAgent({ connectTo: o.connectTo || undefined, ca: o.ca, timeoutMs: this.timeoutMs })
    this.tokens = new TokenCache({
      key: `wns:${o.clientId}`, store: new PushTokenStore(o.db), clock: this.clock,
      marginMs: (o.tokenMarginS ?? 600) * 1000, fetch: () => this.fetchToken(),
    })
  }

  /** §4.1: client credentials, form-urlencoded; token_type, access_token and expires_in are all required. */
  private async fetchToken(): Promise<FetchedToken> {
    const form = new URLSearchParams({ grant_type: 'client_credentials', scope: 'notify.windows.com', client_id: this.o.clientId, client_secret: this.o.clientSecret })
    const res = await post(this.agent, this.o.tokenUrl || WNS_TOKEN_URL, { 'content-type': 'application/x-www-form-urlencoded' }, form.toString(), this.timeoutMs)
    if (res.status !== 200) throw new TokenError(`token endpoint answered ${res.status}${oauthError(res.body)}`)
    let j: Record<string, unknown>
    try { j = JSON.parse(res.body) } catch { throw new TokenError('token endpoint answered 200 without JSON') }
    const expiresIn = typeof j.expires_in === 'string' && /^\d+$/.test(j.expires_in) ? Number(j.expires_in) : j.expires_in
    if (typeof j.access_token !== 'string' || !j.access_token || typeof j.token_type !== 'string' || !j.token_type
      || typeof expiresIn !== 'number' || !Number.isFinite(expiresIn) || expiresIn <= 0) {
      throw new TokenError('token endpoint answer lacks token_type, access_token or expires_in')
    }
    return { accessToken: j.access_token, tokenType: j.token_type, expiresInS: expiresIn }
  }

  async send(target: WnsTarget, notification: WnsNotification): Promise<PushOutcome> {
    if (!isWnsChannelUri(target.channelUri)) return { kind: 'failed', reason: 'channel URI is not a *.notify.windows.com https URI' }
    let body: Buffer
    try { body = wnsBody(target.version, notification) } catch (e) { return { kind: 'failed', reason: (e as Error).message } }
    let refreshed = false
    let reason = ''
    let status: number | undefined
    for (let attempt = 1; attempt <= this.attempts; attempt++) {
      let token: AccessToken
      try { token = await this.tokens.get() } catch (e) { return tokenTrouble(e) }
      let res: PushResponse
      try {
        // headers are built per attempt, so a retry after a 401 carries the new token (§4.3 bug fixed, §12.2)
        res = await post(this.agent, target.channelUri, {
          'x-wns-type': 'wns/raw',
          'x-wns-requestforstatus': 'true',
          'content-type': 'application/octet-stream',
          authorization: `${token.tokenType} ${token.accessToken}`,
        }, body, this.timeoutMs)
      } catch (e) {
        reason = `transport: ${(e as Error).message}`
        status = undefined
        if (attempt < this.attempts) await this.clock.sleep(this.backoff(attempt))
        continue
      }
      status = res.status
      const wnsError = res.headers['x-wns-error-description'] ? `: ${String(res.headers['x-wns-error-description'])}` : ''
      if (status === 200) return { kind: 'delivered', status }
      if (status === 401) {
        if (refreshed) return { kind: 'retry-after', afterMs: RETRY_LATER_MS, reason: 'WNS refused a freshly fetched token (401)', status }
        refreshed = true
        try { await this.tokens.refresh(token) } catch (e) { return tokenTrouble(e) }
        // the retry with the new token is not one of the attempts for 5xx and transport faults
        attempt--
        continue
      }
      // the channel is gone or expired: the device registers a new one (§12.2)
      if (status === 404 || status === 410) return { kind: 'drop-channel', reason: `WNS answered ${status}${wnsError}`, status }
      const after = retryAfterMs(res.headers['retry-after'], this.clock.now())
      // 406: this cloud service exceeded its throttle limit; 429 likewise: later, not now
      if (status === 406 || status === 429) return { kind: 'retry-after', afterMs: after ?? RETRY_LATER_MS, reason: `WNS throttled (${status})${wnsError}`, status }
      if (status >= 500) {
        reason = `WNS answered ${status}${wnsError}`
        if (after !== undefined && after > MAX_BACKOFF_MS) return { kind: 'retry-after', afterMs: after, reason, status }
        if (attempt < this.attempts) await this.clock.sleep(Math.max(after ?? 0, this.backoff(attempt)))
        continue
      }
      return { kind: 'failed', reason: `WNS answered ${status}${wnsError}`, status }
    }
    return { kind: 'retry-after', afterMs: RETRY_LATER_MS, reason: `gave up after ${this.attempts} attempts: ${reason}`, ...(status ? { status } : {}) }
  }

  /** exponential from retryBaseMs, capped, with "equal jitter": half fixed, half random */
  backoff(attempt: number): number {
    const d = Math.min(MAX_BACKOFF_MS, this.retryBaseMs * 2 ** (attempt - 1))
    return Math.round(d / 2 + this.random() * (d / 2))
  }

  private closed = false
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    await this.agent.close()
  }
}

/** The provider the configuration describes, or undefined when no WNS credentials are set. */
export function wnsFromConfig(cfg: Config, db: Db, clock?: Clock): WnsProvider | undefined {
  const s = settingsOf(cfg, wnsSettings, 'push.wns')
  if (!s.clientId && !s.clientSecret) return undefined
  return new WnsProvider({ ...s, db, clock })
}

function tokenTrouble(e: unknown): PushOutcome {
  return { kind: 'retry-after', afterMs: RETRY_LATER_MS, reason: `no WNS access token: ${(e as Error).message}` }
}

/** the OAuth `error` code of a failed token request (never the request's secret) */
function oauthError(body: string): string {
  try {
    const e = (JSON.parse(body) as { error?: unknown }).error
    return typeof e === 'string' ? ` (${e.slice(0, 100)})` : ''
  } catch { return '' }
}
