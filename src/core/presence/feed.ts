// What feeds presence: session connect/disconnect events (the embedded broker; an external broker's events where
// Sessions has them), and on an external broker the hook endpoints: a hook login with a client id marks it online.
// mosquitto-go-auth never calls on a disconnect, so hook entries expire unless the client's ACL calls refresh them.
import type { Principal } from '../access/types.ts'
import type { Clock } from '../clock.ts'
import type { SessionInfo, Sessions } from '../sessions/types.ts'
import type { Presence } from './types.ts'

type OnError = (err: unknown, clientId: string) => void

/** Embedded: each connection's entry is removed by that connection's own disconnect (not by an older one's). */
export function feedFromSessions(presence: Presence, sessions: Pick<Sessions, 'on'>, onError: OnError): () => void {
  const connections = new ConnectionFeed(presence, onError)
  const offs = [
    sessions.on('connect', (s) => connections.connect(s.clientId, s.principal, s.listener)),
    sessions.on('disconnect', (s: SessionInfo) => connections.disconnect(s.clientId)),
  ]
  return () => { for (const off of offs) off() }
}

/** The connections this node saw, each remembered until its disconnect (the `since` that names it). */
export class ConnectionFeed {
  private readonly since = new Map<string, Promise<number | undefined>>()
  constructor(private readonly presence: Presence, private readonly onError: OnError) {}

  connect(clientId: string, principal: Principal | undefined, listener: string): Promise<void> {
    const { kind, username } = principal ?? { kind: 'anonymous', username: '' }
    const added = this.presence.connected({ clientId, kind, username, listener }).then((e) => e.since, (err: unknown) => {
      this.onError(err, clientId)
      return undefined
    })
    this.since.set(clientId, added)
    return added.then(() => {})
  }

  async disconnect(clientId: string): Promise<void> {
    const added = this.since.get(clientId)
    this.since.delete(clientId)
    // unknown here (connected before this feed, or its connect failed): the entry, if any, is this client's anyway
    const since = added ? await added : undefined
    await this.presence.disconnected(clientId, since).catch((err: unknown) => this.onError(err, clientId))
  }
}

export interface HookFeedOptions {
  clock: Clock
  /** how long a hook login's entry lives without an ACL call for its client id */
  ttlMs: number
  onError: OnError
}

/** External broker: hook logins and ACL calls keep an expiring entry per client id. */
export class HookPresenceFeed {
  /** when each client's entry was last extended here: ACL calls come per message, touches need not */
  private readonly touched = new Map<string, number>()
  private static readonly MAX_TRACKED = 100_000

  constructor(private readonly presence: Presence, private readonly o: HookFeedOptions) {}

  /** a successful hook login (or the first ACL call after a restart) */
  login(principal: Principal, clientId: string): Promise<void> {
    const now = this.o.clock.now()
    this.mark(clientId, now)
    return this.presence.connected({ clientId, kind: principal.kind, username: principal.username, listener: 'hook', expiresAt: now + this.o.ttlMs })
      .then(() => {}, (err: unknown) => this.o.onError(err, clientId))
  }

  /** an ACL call for a connected client: extend its entry (or make one: the broker says the client is there) */
  async acl(principal: Principal, clientId: string): Promise<void> {
    const now = this.o.clock.now()
    const last = this.touched.get(clientId)
    if (last !== undefined && now - last < this.o.ttlMs / 4) return
    this.mark(clientId, now)
    try {
      if (await this.presence.touch(clientId, now + this.o.ttlMs)) return
      // an entry from the broker's own connect event needs no extending and is not replaced
      if (!(await this.presence.isOnline(clientId))) await this.login(principal, clientId)
    } catch (err) {
      this.o.onError(err, clientId)
    }
  }

  private mark(clientId: string, now: number): void {
    if (this.touched.size >= HookPresenceFeed.MAX_TRACKED) this.touched.clear()
    this.touched.set(clientId, now)
  }
}
