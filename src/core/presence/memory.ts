// Presence in this process (one node): a map of entries and a per-user index; expiring entries (hook logins) are
// swept on the Clock, so tests advance a ManualClock instead of sleeping.
import { EventEmitter } from 'node:events'
import { systemClock, type Clock } from '../clock.ts'
import { newNodeId } from './node.ts'
import type { Presence, PresenceChange, PresenceEntry } from './types.ts'

export interface MemoryPresenceOptions {
  clock?: Clock
  node?: string
  /** how often expired entries are removed (and announced offline) */
  sweepMs?: number
  /** an onChange listener threw */
  onError?: (err: unknown) => void
}

const userKey = (kind: string, username: string) => `${kind}\u0000${username}`

export class MemoryPresence implements Presence {
  readonly node: string
  private readonly clock: Clock
  private readonly entries = new Map<string, PresenceEntry>()
  private readonly users = new Map<string, Set<string>>()
  private readonly events = new EventEmitter<{ change: [PresenceChange] }>()
  private readonly onError: (err: unknown) => void
  private closed = false
  private lastSince = 0

  constructor(o: MemoryPresenceOptions = {}) {
    this.clock = o.clock ?? systemClock
    this.onError = o.onError ?? (() => {})
    this.node = o.node ?? newNodeId()
    void this.sweepLoop(o.sweepMs ?? 5_000)
  }

  async connected(e: Omit<PresenceEntry, 'node' | 'since'> & { since?: number }): Promise<PresenceEntry> {
    const entry: PresenceEntry = { ...e, node: this.node, since: e.since ?? this.stamp() }
    if (entry.expiresAt === undefined) delete entry.expiresAt
    this.remove(entry.clientId)
    this.entries.set(entry.clientId, entry)
    const k = userKey(entry.kind, entry.username)
    let set = this.users.get(k)
    if (!set) this.users.set(k, (set = new Set()))
    set.add(entry.clientId)
    this.emit(true, entry)
    return { ...entry }
  }

  async disconnected(clientId: string, since?: number): Promise<void> {
    const e = this.entries.get(clientId)
    if (!e || (since !== undefined && (e.since !== since || e.node !== this.node))) return
    this.remove(clientId)
    this.emit(false, e)
  }

  async touch(clientId: string, expiresAt: number): Promise<boolean> {
    const e = this.entries.get(clientId)
    if (!e || e.expiresAt === undefined || !this.live(e)) return false
    e.expiresAt = Math.max(e.expiresAt, expiresAt)
    return true
  }

  async isOnline(clientId: string): Promise<boolean> {
    const e = this.entries.get(clientId)
    return e !== undefined && this.live(e)
  }

  async byUser(kind: string, username: string): Promise<PresenceEntry[]> {
    const ids = this.users.get(userKey(kind, username)) ?? []
    return [...ids].map((id) => this.entries.get(id)!).filter((e) => this.live(e)).map((e) => ({ ...e }))
  }

  async count(): Promise<number> {
    let n = 0
    for (const e of this.entries.values()) if (this.live(e)) n++
    return n
  }

  onChange(fn: (c: PresenceChange) => void): () => void {
    this.events.on('change', fn)
    return () => { this.events.off('change', fn) }
  }

  /** connection times strictly increase on this node: a connection is named by (node, since) */
  private stamp(): number {
    this.lastSince = Math.max(this.clock.now(), this.lastSince + 1)
    return this.lastSince
  }

  async close(): Promise<void> {
    this.closed = true
    for (const e of [...this.entries.values()]) if (e.expiresAt === undefined) await this.disconnected(e.clientId)
    this.events.removeAllListeners()
  }

  private live(e: PresenceEntry): boolean {
    return e.expiresAt === undefined || e.expiresAt > this.clock.now()
  }

  private remove(clientId: string): void {
    const e = this.entries.get(clientId)
    if (!e) return
    this.entries.delete(clientId)
    const k = userKey(e.kind, e.username)
    const set = this.users.get(k)
    set?.delete(clientId)
    if (set?.size === 0) this.users.delete(k)
  }

  private emit(online: boolean, entry: PresenceEntry): void {
    const c = { online, entry: { ...entry } }
    // a listener's error must not undo the change or reach the broker hook that fed it
    for (const fn of this.events.listeners('change')) {
      try { fn(c) } catch (err) { this.onError(err) }
    }
  }

  private async sweepLoop(every: number): Promise<void> {
    while (!this.closed) {
      await this.clock.sleep(every)
      if (this.closed) return
      for (const e of [...this.entries.values()]) {
        if (!this.live(e)) {
          this.remove(e.clientId)
          this.emit(false, e)
        }
      }
    }
  }
}
