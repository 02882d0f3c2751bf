// MQTT 5 Session Expiry across a restart (issue 11 item 3). Aedes ends a persistent session whose client stayed away
// longer than its Session Expiry Interval with a timer in memory: a restart, or a crash, forgets the timer and the
// session would stay, queuing messages, for ever. On the durable store Herald writes each such session's interval
// when its client connects and the time it ends when the client leaves (herald_mqtt_session_expiry); at start the
// sessions whose time passed while Herald was down are ended, and the others get a timer of their own. A session
// whose client was connected when Herald stopped or crashed starts its interval at the start (its connection ended
// with the process, at a time nobody wrote down). While Herald runs, Aedes' own timers end the sessions.
// Several nodes on one PostgreSQL: a session's client may be connected to another node, so a node ends a session only
// when the store still says it ended (read again when its timer fires), and leaves the sessions of clients connected
// at their node's last stop to that node (`single: false`).
import type { StorePersistence } from './persistence.ts'

/** 0xFFFFFFFF: the session does not expire */
const NEVER = 0xFFFFFFFF
/** setTimeout's longest delay; a later deadline re-arms */
const MAX_DELAY = 2 ** 31 - 1

export interface ExpiringClient {
  id: string
  /** 3 (3.1), 4 (3.1.1) or 5 */
  version?: number
  /** the session ends with the connection */
  clean: boolean
  /** the granted Session Expiry Interval, in seconds (MQTT 5) */
  sessionExpiryInterval?: number
}

/** the Session Expiry Interval of a session that outlives its connection and ends some day (MQTT 5 only) */
function expiryOf(client: ExpiringClient): number | undefined {
  const interval = client.sessionExpiryInterval ?? 0
  return client.version === 5 && !client.clean && interval > 0 && interval < NEVER ? interval : undefined
}

export class DurableSessionExpiry {
  /** sessions with a row: those restored at start and the MQTT 5 persistent ones that connected since */
  #known = new Set<string>()
  #timers = new Map<string, NodeJS.Timeout>()
  #pending = new Set<Promise<unknown>>()

  constructor(
    private persistence: StorePersistence,
    private o: {
      now?: () => number
      isConnected: (clientId: string) => boolean
      onError: (err: unknown, clientId: string) => void
      /** the only node on this store (SQLite): a session whose client was connected at the last stop is this node's */
      single: boolean
    },
  ) {}

  #now(): number { return this.o.now?.() ?? Date.now() }

  /** At start, before any client connects: end the sessions whose time passed; arm the others. Answers how many ended. */
  async restore(): Promise<number> {
    const now = this.#now()
    let ended = 0
    for (const r of await this.persistence.store.sessionExpiries()) {
      if (r.expiresAt === null && !this.o.single) continue
      const endsAt = r.expiresAt ?? now + r.expiryS * 1000
      if (endsAt <= now) {
        await this.#end(r.clientId)
        ended++
        continue
      }
      this.#known.add(r.clientId)
      if (r.expiresAt === null) await this.persistence.store.putSessionExpiry(r.clientId, r.expiryS, endsAt)
      this.#arm(r.clientId, endsAt)
    }
    return ended
  }

  /** a client is connected: its session does not end while it is */
  connected(client: ExpiringClient): void {
    this.#disarm(client.id)
    const interval = expiryOf(client)
    if (interval === undefined) return this.#forget(client.id)
    this.#known.add(client.id)
    this.#run(client.id, this.persistence.store.putSessionExpiry(client.id, interval, null))
  }

  /** a client left (on a takeover Aedes ends the old connection before the new one counts as connected) */
  disconnected(client: ExpiringClient): void {
    if (!this.#known.has(client.id)) return
    const interval = expiryOf(client)
    if (interval === undefined) return this.#forget(client.id)
    this.#run(client.id, this.persistence.store.putSessionExpiry(client.id, interval, this.#now() + interval * 1000))
  }

  /** Aedes ended the session itself (its own expiry timer, or its pending-sessions cap) */
  ended(clientId: string): void {
    this.#disarm(clientId)
    this.#forget(clientId)
  }

  /** no more timers (Herald stops) */
  close(): void {
    for (const t of this.#timers.values()) clearTimeout(t)
    this.#timers.clear()
  }

  /** the writes asked for so far are done (before the store closes: the disconnects of a stopping broker) */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.#pending])
  }

  #forget(clientId: string): void {
    if (!this.#known.delete(clientId)) return
    this.#run(clientId, this.persistence.store.deleteSessionExpiry(clientId))
  }

  #arm(clientId: string, endsAt: number): void {
    this.#disarm(clientId)
    const t = setTimeout(() => {
      this.#timers.delete(clientId)
      if (this.o.isConnected(clientId)) return
      if (endsAt > this.#now()) return this.#arm(clientId, endsAt)
      this.#run(clientId, this.#endIfDue(clientId))
    }, Math.min(Math.max(0, endsAt - this.#now()), MAX_DELAY))
    t.unref()
    this.#timers.set(clientId, t)
  }

  #disarm(clientId: string): void {
    const t = this.#timers.get(clientId)
    if (t) { clearTimeout(t); this.#timers.delete(clientId) }
  }

  /** the store's word, which another node may have changed since (its client came back there, and maybe left again) */
  async #endIfDue(clientId: string): Promise<void> {
    const row = await this.persistence.store.sessionExpiryOf(clientId)
    if (this.o.isConnected(clientId)) return
    if (!row || row.expiresAt === null) { this.#known.delete(clientId); return }
    if (row.expiresAt > this.#now()) return this.#arm(clientId, row.expiresAt)
    await this.#end(clientId)
  }

  async #end(clientId: string): Promise<void> {
    this.#known.delete(clientId)
    await this.persistence.wipeSession(clientId)
    await this.persistence.store.deleteSessionExpiry(clientId)
  }

  #run(clientId: string, p: Promise<unknown>): void {
    const done = p.catch((err: unknown) => this.o.onError(err, clientId)).finally(() => this.#pending.delete(done))
    this.#pending.add(done)
  }
}
