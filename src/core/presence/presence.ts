// Who is connected, from the broker's connect/disconnect events; in memory (one node).
import { EventEmitter } from 'node:events'
import type { Principal } from '../access/types.ts'

export interface PresenceEvent { clientId: string; principal?: Principal; at: number }

export class Presence extends EventEmitter<{ online: [PresenceEvent]; offline: [PresenceEvent] }> {
  private clients = new Map<string, PresenceEvent>()

  connected(clientId: string, principal?: Principal): void {
    const ev = { clientId, principal, at: Date.now() }
    this.clients.set(clientId, ev)
    this.emit('online', ev)
  }

  disconnected(clientId: string, principal?: Principal): void {
    this.clients.delete(clientId)
    this.emit('offline', { clientId, principal, at: Date.now() })
  }

  isOnline(clientId: string): boolean {
    return this.clients.has(clientId)
  }

  /** connected clients whose principal has this username */
  byUsername(username: string): PresenceEvent[] {
    return [...this.clients.values()].filter((c) => c.principal?.username === username)
  }

  get size(): number {
    return this.clients.size
  }
}
