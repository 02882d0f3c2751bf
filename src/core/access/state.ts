// State the access layer keeps between calls, which several Herald nodes must agree on (issue 9 §3): failed-login
// windows, who holds which client id, and the principals an external broker's hook logins vouched for.
// Memory for one node; the store (src/core/store/access-state.ts) when several nodes share one database.
import type { Clock } from '../clock.ts'
import { systemClock } from '../clock.ts'
import { ClientIds } from './client-ids.ts'
import { FailureLimiter } from './limiter.ts'
import type { Principal } from './types.ts'

export interface AccessStateOptions {
  failLimit: number
  failWindowMs: number
  /** how long a client id stays held after its last connection or hook call */
  clientIdHoldMs: number
  /** how long a hook login vouches for later ACL questions */
  rememberMs: number
  clock?: Clock
}

export interface AccessState {
  /** failures of this key (an address `a:…`, a username `u:…`) have reached the limit in this window */
  blocked(key: string): Promise<boolean>
  fail(key: string): Promise<void>
  /** may `owner` use the client id (a superuser always may)? If so it now holds it */
  claim(clientId: string, owner: string, superuser: boolean): Promise<boolean>
  /** is the id connected now for this owner (a reconnect replaces a connection) */
  isLive(clientId: string, owner: string): Promise<boolean>
  connected(clientId: string, owner: string): Promise<void>
  disconnected(clientId: string, owner: string, clean: boolean): Promise<void>
  /** a hook call by the holder keeps the id held */
  touch(clientId: string, owner: string): Promise<void>
  remember(key: string, p: Principal): Promise<void>
  recall(key: string): Promise<Principal | undefined>
  /** deletes what has expired, answers unchanged (the store; memory bounds itself as it goes); rows deleted */
  sweep?(): Promise<number>
  close?(): Promise<void>
}

/** One node: everything in memory. */
export class MemoryAccessState implements AccessState {
  private limiter: FailureLimiter
  private ids: ClientIds
  private remembered = new Map<string, { p: Principal; at: number }>()
  private clock: Clock

  constructor(private o: AccessStateOptions) {
    this.clock = o.clock ?? systemClock
    const now = () => this.clock.now()
    this.limiter = new FailureLimiter({ limit: o.failLimit, windowMs: o.failWindowMs, now })
    this.ids = new ClientIds({ holdMs: o.clientIdHoldMs, now })
  }

  async blocked(key: string) { return this.limiter.blocked(key) }
  async fail(key: string) { this.limiter.fail(key) }
  async claim(clientId: string, owner: string, superuser: boolean) { return this.ids.claim(clientId, owner, superuser) }
  async isLive(clientId: string, owner: string) { return this.ids.isLive(clientId, owner) }
  async connected(clientId: string, owner: string) { this.ids.connected(clientId, owner) }
  async disconnected(clientId: string, owner: string, clean: boolean) { this.ids.disconnected(clientId, owner, clean) }
  async touch(clientId: string, owner: string) { this.ids.touch(clientId, owner) }

  async remember(key: string, p: Principal) {
    this.remembered.delete(key)
    this.remembered.set(key, { p, at: this.clock.now() })
    if (this.remembered.size > 100_000) this.remembered.delete(this.remembered.keys().next().value!)
  }

  async recall(key: string) {
    const r = this.remembered.get(key)
    if (!r) return undefined
    if (this.clock.now() - r.at >= this.o.rememberMs) { this.remembered.delete(key); return undefined }
    return r.p
  }
}
