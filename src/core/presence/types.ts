// Presence: who is connected, fed by session connect/disconnect events in both modes (embedded hooks; external:
// hook calls and broker events). Memory for one node, Redis for several; the code above never knows which.

export interface PresenceEntry {
  clientId: string
  /** the principal's kind (dialect) and username */
  kind: string
  username: string
  listener: string
  /** the Herald node that saw the connection */
  node: string
  since: number
  /** Entries from external-broker hook logins (no disconnect call comes) live until this time unless touched;
   *  entries without it live as long as their node does. */
  expiresAt?: number
}

export interface PresenceChange { online: boolean; entry: PresenceEntry }

export interface Presence {
  /** this node's id, stamped on the entries it adds; unique per process start */
  readonly node: string
  /** The client is online, seen by this node: replaces any entry of the same client id (a reconnect, a takeover
   *  on another node). `since` defaults to the clock's now. Answers the stored entry. */
  connected(entry: Omit<PresenceEntry, 'node' | 'since'> & { since?: number }): Promise<PresenceEntry>
  /** The client's connection ended. With `since` (the connection's), only this node's entry of that connection is
   *  removed, so an old connection's late disconnect does not undo a newer one; without it, any entry goes. */
  disconnected(clientId: string, since?: number): Promise<void>
  /** extend an expiring entry (a hook call for that client); false when there is none */
  touch(clientId: string, expiresAt: number): Promise<boolean>
  isOnline(clientId: string): Promise<boolean>
  /** the connected clients of one account */
  byUser(kind: string, username: string): Promise<PresenceEntry[]>
  count(): Promise<number>
  /** changes seen by any node (Redis: pub/sub), this node's included */
  onChange(fn: (c: PresenceChange) => void): () => void
  /** this node leaves: the entries bound to it go (offline changes), expiring ones stay; its timers stop */
  close(): Promise<void>
}
