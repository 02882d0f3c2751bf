// FCM HTTP v1 (issue 14 item 4): the service account signs an RS256 JWT, exchanged at the token endpoint for an
// OAuth access token (cached in the store like WNS's, TokenCache), sent as Bearer to
// <url>/v1/projects/<project>/messages:send. UNREGISTERED / 404 drop the token; 429 and 5xx come back later.
import { readFileSync } from 'node:fs'
import { importPKCS8, SignJWT, type CryptoKey } from 'jose'
import type { Agent } from 'undici'
import { systemClock, type Clock } from '../clock.ts'
import type { Db } from '../store/db.ts'
import { post, pushAgent, retryAfterMs, type PushResponse } from './http.ts'
import type { PushNotification } from './service.ts'
import { PushTokenStore } from './store.ts'
import { TokenCache, type FetchedToken } from './token-cache.ts'
import type { AccessToken, PushOutcome, PushProvider } from './types.ts'

export const FCM_SCOPE = 'https://www.googleapis.com/auth/firebase.messaging'
export const GOOGLE_TOKEN_URL = 'https://oauth2.googleapis.com/token'

export interface ServiceAccount { client_email: string; private_key: string; private_key_id?: string; project_id: string; token_uri?: string }

export interface FcmOptions {
  account: ServiceAccount
  /** API base, default https://fcm.googleapis.com */
  url?: string
  /** default the account's token_uri, else Google's */
  tokenUrl?: string
  connectTo?: string
  ca?: string | string[]
  timeoutMs?: number
  db: Db
  clock?: Clock
}

/** The service-account file as Google issues it; a clear error naming what is missing. */
export function readServiceAccount(file: string): ServiceAccount {
  let j: Record<string, unknown>
  try { j = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown> } catch (e) {
    throw new Error(`HERALD_PUSH_FCM_SERVICE_ACCOUNT_FILE ${file}: not a readable JSON file (${(e as Error).message})`)
  }
  for (const k of ['client_email', 'private_key', 'project_id'] as const) {
    if (typeof j[k] !== 'string' || !j[k]) throw new Error(`HERALD_PUSH_FCM_SERVICE_ACCOUNT_FILE ${file}: ${k} is missing`)
  }
  return j as unknown as ServiceAccount
}

const RETRY_LATER_MS = 30_000

export class FcmProvider implements PushProvider<{ token: string }, PushNotification> {
  readonly name = 'fcm'
  readonly tokens: TokenCache
  private agent: Agent
  private clock: Clock
  private timeoutMs: number
  private key?: Promise<CryptoKey>
  private sendUrl: string
  readonly tokenUrl: string

  constructor(private o: FcmOptions) {
    this.clock = o.clock ?? systemClock
    this.timeoutMs = o.timeoutMs ?? 10_000
    this.agent = pushAgent({ connectTo: o.connectTo || undefined, ca: o.ca, timeoutMs: this.timeoutMs })
    this.tokenUrl = o.tokenUrl || o.account.token_uri || GOOGLE_TOKEN_URL
    this.sendUrl = `${(o.url || 'https://fcm.googleapis.com').replace(/\/+$/, '')}/v1/projects/${encodeURIComponent(o.account.project_id)}/messages:send`
    this.tokens = new TokenCache({
      key: `fcm:${o.account.client_email}`, store: new PushTokenStore(o.db), clock: this.clock,
      marginMs: 300_000, fetch: () => this.fetchToken(),
    })
  }

  /** RFC 7523 JWT bearer grant, the assertion signed with the account's key (RS256, kid = private_key_id). */
  private async fetchToken(): Promise<FetchedToken> {
    this.key ??= importPKCS8(this.o.account.private_key, 'RS256')
    const iat = Math.floor(this.clock.now() / 1000)
    const assertion = await new SignJWT({ scope: FCM_SCOPE })
      .setProtectedHeader({ alg: 'RS256', typ: 'JWT', ...(this.o.account.private_key_id ? { kid: this.o.account.private_key_id } : {}) })
      .setIssuer(this.o.account.client_email).setAudience(this.tokenUrl).setIssuedAt(iat).setExpirationTime(iat + 3600)
      .sign(await this.key)
    const form = new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion })
    const res = await post(this.agent, this.tokenUrl, { 'content-type': 'application/x-www-form-urlencoded' }, form.toString(), this.timeoutMs)
    if (res.status !== 200) throw new Error(`FCM token endpoint answered ${res.status}`)
    let j: Record<string, unknown>
    try { j = JSON.parse(res.body) as Record<string, unknown> } catch { throw new Error('FCM token endpoint answered 200 without JSON') }
    if (typeof j.access_token !== 'string' || !j.access_token || typeof j.expires_in !== 'number' || j.expires_in <= 0) {
      throw new Error('FCM token endpoint answer lacks access_token or expires_in')
    }
    return { accessToken: j.access_token, tokenType: typeof j.token_type === 'string' ? j.token_type : 'Bearer', expiresInS: j.expires_in }
  }

  /** the HTTP v1 message: data (string values only), optional notification, Android ttl/priority/collapse_key */
  message(token: string, n: PushNotification): Record<string, unknown> {
    const android: Record<string, unknown> = {}
    if (n.ttlS !== undefined) android.ttl = `${Math.max(0, Math.floor(n.ttlS))}s`
    if (n.urgency) android.priority = n.urgency === 'high' ? 'high' : 'normal'
    if (n.collapseKey) android.collapse_key = n.collapseKey
    return {
      message: {
        token,
        data: n.fcm?.data ?? { payload: n.payload },
        ...(n.fcm?.notification ? { notification: n.fcm.notification } : {}),
        ...(Object.keys(android).length ? { android } : {}),
      },
    }
  }

  async send(target: { token: string }, n: PushNotification): Promise<PushOutcome> {
    const body = JSON.stringify(this.message(target.token, n))
    let refreshed = false
    for (;;) {
      let token: AccessToken
      try { token = await this.tokens.get() } catch (e) { return { kind: 'retry-after', afterMs: RETRY_LATER_MS, reason: `no FCM access token: ${(e as Error).message}` } }
      let res: PushResponse
      try {
        res = await post(this.agent, this.sendUrl, { 'content-type': 'application/json', authorization: `Bearer ${token.accessToken}` }, body, this.timeoutMs)
      } catch (e) {
        return { kind: 'retry-after', afterMs: 0, reason: `transport: ${(e as Error).message}` }
      }
      if (res.status === 401 && !refreshed) {
        refreshed = true
        try { await this.tokens.refresh(token) } catch (e) { return { kind: 'retry-after', afterMs: RETRY_LATER_MS, reason: `no FCM access token: ${(e as Error).message}` } }
        continue
      }
      return fcmOutcome(res, this.clock.now())
    }
  }

  async close(): Promise<void> { await this.agent.close() }
}

/** the FcmError code of an error answer (google.rpc.Status details), else its status string */
function fcmErrorCode(body: string): string | undefined {
  try {
    const e = (JSON.parse(body) as { error?: { status?: string; details?: { errorCode?: string }[] } }).error
    return e?.details?.find((d) => typeof d.errorCode === 'string')?.errorCode ?? e?.status
  } catch { return undefined }
}

export function fcmOutcome(res: PushResponse, now: number): PushOutcome {
  const s = res.status
  if (s === 200) return { kind: 'delivered', status: s }
  const code = fcmErrorCode(res.body)
  const why = `FCM answered ${s}${code ? ` ${code}` : ''}`
  // the app was uninstalled or the token expired; SENDER_ID_MISMATCH: the token belongs to another project
  if (s === 404 || code === 'UNREGISTERED' || code === 'SENDER_ID_MISMATCH') return { kind: 'drop-channel', reason: why, status: s }
  if (s === 429 || s >= 500 || code === 'QUOTA_EXCEEDED' || code === 'UNAVAILABLE' || code === 'INTERNAL') {
    return { kind: 'retry-after', afterMs: retryAfterMs(res.headers['retry-after'], now) ?? 0, reason: why, status: s }
  }
  return { kind: 'failed', reason: why, status: s }
}
