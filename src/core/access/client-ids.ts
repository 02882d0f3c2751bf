// Who holds an MQTT client id (security hole 2, 8): a client id held by one principal, live or in a persistent
// session, is refused to another, so nobody can knock a client off or consume its queued messages by reusing its
// id. The embedded broker claims at CONNECT; the external-broker hook logins claim the same way.
// Memory only for now; several nodes each keep their own (issue 9 moves it to the store or Redis).
import type { Principal } from './types.ts'

export interface ClientIdOptions {
  /** how long a client id stays held after its last connection or hook call (persistent sessions, external brokers) */
  holdMs: number
  maxEntries?: number
  now?: () => number
}

interface Holder { owner: string; live: number; at: number }

/** The identity that owns client ids: the same dialect account, whatever its password or token. */
export function ownerOf(p: Principal): string {
  return p.kind + '\u0000' + p.username
}

export class ClientIds {
  private held = new Map<string, Holder>()
  private now: () => number

  constructor(private o: ClientIdOptions) {
    this.now = o.now ?? Date.now
  }

  private holder(clientId: string): Holder | undefined {
    const h = this.held.get(clientId)
    if (h && h.live === 0 && this.now() - h.at > this.o.holdMs) {
      this.held.delete(clientId)
      return undefined
    }
    return h
  }

  /** Who holds the id now (undefined: nobody). */
  ownerOfClient(clientId: string): string | undefined {
    return this.holder(clientId)?.owner
  }

  /**
   * May `owner` use `clientId`? If so it now holds it. A superuser (the service account) may take any id over;
   * an empty client id (MQTT 3.1.1 lets the broker pick one) is never held.
   */
  claim(clientId: string | undefined, owner: string, superuser = false): boolean {
    if (!clientId) return true
    const h = this.holder(clientId)
    if (h && h.owner !== owner && !superuser) return false
    if (h && h.owner === owner) { h.at = this.now(); return true }
    if (!h && this.held.size >= (this.o.maxEntries ?? 1_000_000)) {
      // forget the stalest entry not connected: the map is in insertion order, refreshed entries move to the end
      for (const [id, x] of this.held) if (x.live === 0) { this.held.delete(id); break }
    }
    this.held.delete(clientId)
    this.held.set(clientId, { owner, live: 0, at: this.now() })
    return true
  }

  /** Is this client id connected now for this principal (a reconnect then replaces a connection, adds none)? */
  isLive(clientId: string, owner: string): boolean {
    const h = this.held.get(clientId)
    return h !== undefined && h.live > 0 && h.owner === owner
  }

  /** A hook call about this client by its holder keeps the id held. */
  touch(clientId: string | undefined, owner: string): void {
    if (!clientId) return
    const h = this.holder(clientId)
    if (h && h.owner === owner) {
      h.at = this.now()
      this.held.delete(clientId)
      this.held.set(clientId, h)
    }
  }

  connected(clientId: string, owner: string): void {
    const h = this.holder(clientId)
    if (h && h.owner === owner) { h.live++; h.at = this.now() } else this.held.set(clientId, { owner, live: 1, at: this.now() })
  }

  /** A connection ended: a clean session lets the id go once no connection holds it; a persistent one keeps it held. */
  disconnected(clientId: string, owner: string, clean: boolean): void {
    const h = this.held.get(clientId)
    if (!h || h.owner !== owner) return
    h.live = Math.max(0, h.live - 1)
    h.at = this.now()
    if (h.live === 0 && clean) this.held.delete(clientId)
  }
}
