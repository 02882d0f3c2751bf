// An OAuth access token kept in memory and in the store, refreshed before it expires by one request at a time
// (uwpx-push §4.1, §12.2 "serialize token refresh (one in-flight promise)"). Used by WNS; FCM's token fits too.
import type { Clock } from '../clock.ts'
import type { PushTokenStore } from './store.ts'
import type { AccessToken } from './types.ts'

export interface FetchedToken { accessToken: string; tokenType: string; expiresInS: number }

export interface TokenCacheOptions {
  /** row key in the store, e.g. `wns:<client id>` */
  key: string
  store: PushTokenStore
  fetch: () => Promise<FetchedToken>
  clock: Clock
  /** refresh this long before expiry; at most half the token's lifetime, so short-lived tokens are still used */
  marginMs: number
  /** after a failed refresh, keep using a still-valid token this long before trying again */
  holdOffMs?: number
}

export class TokenCache {
  private current?: AccessToken
  private inflight?: Promise<AccessToken>
  private failedAt = -Infinity
  /** token requests sent (tests, metrics) */
  fetches = 0

  constructor(private o: TokenCacheOptions) {}

  private valid(t: AccessToken): boolean { return this.o.clock.now() < t.expiresAt }

  private fresh(t: AccessToken): boolean {
    const margin = Math.min(this.o.marginMs, (t.expiresAt - t.fetchedAt) / 2)
    return this.o.clock.now() < t.expiresAt - margin
  }

  /** A token to send with: the cached one while fresh, else a refreshed one (concurrent callers share the refresh). */
  async get(): Promise<AccessToken> {
    const t = this.current
    if (t && this.fresh(t)) return t
    // near expiry and a refresh just failed: the old token still works, do not hammer the endpoint
    if (t && this.valid(t) && this.o.clock.now() - this.failedAt < (this.o.holdOffMs ?? 10_000)) return t
    return this.renew()
  }

  /** The token `rejected` was refused (WNS 401): a different one, fetched unless another caller already did. */
  async refresh(rejected: AccessToken): Promise<AccessToken> {
    const t = this.current
    if (t && t.accessToken !== rejected.accessToken && this.valid(t)) return t
    return this.renew(rejected)
  }

  private renew(rejected?: AccessToken): Promise<AccessToken> {
    this.inflight ??= this.load(rejected).finally(() => { this.inflight = undefined })
    return this.inflight
  }

  private async load(rejected?: AccessToken): Promise<AccessToken> {
    // the store first: a token from before a restart, or one another node fetched
    const stored = await this.o.store.get(this.o.key)
    if (stored && this.fresh(stored) && stored.accessToken !== rejected?.accessToken) {
      this.current = stored
      return stored
    }
    try {
      this.fetches++
      const f = await this.o.fetch()
      const now = this.o.clock.now()
      const t: AccessToken = { accessToken: f.accessToken, tokenType: f.tokenType, fetchedAt: now, expiresAt: now + f.expiresInS * 1000 }
      this.current = t
      // a store fault must not waste a good token: memory serves this node, the next refresh stores again
      await this.o.store.put(this.o.key, t).catch(() => {})
      return t
    } catch (e) {
      this.failedAt = this.o.clock.now()
      const old = this.current
      if (old && this.valid(old) && old.accessToken !== rejected?.accessToken) return old
      throw e
    }
  }
}
