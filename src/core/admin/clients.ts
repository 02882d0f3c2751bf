// The connected clients as the admin API lists them, kept from the sessions' connect/disconnect events (both modes);
// their subscriptions come from Sessions.list where the broker offers it.
import type { SessionInfo, Sessions } from '../sessions/types.ts'

export interface AdminClient {
  id: string
  user: string
  /** who vouched for the login: a dialect name, `user` (a Herald account), `service`, `certificate`, `anonymous` */
  dialect: string
  /** MQTT protocol level (4: 3.1.1, 5), where the broker tells it */
  protocolVersion: number | null
  listener: string
  transport: 'tcp' | 'tls' | 'websocket' | 'websocket+tls' | 'other'
  address: string | null
  connectedSince: string
  clean: boolean | null
  subscriptions: { filter: string; qos: number }[]
  /** bytes waiting for the client (written to its socket and not read yet, or held for its Receive Maximum), and
   *  Herald's QoS 1/2 deliveries awaiting its acknowledgement, where the broker tells them */
  queued: number | null
  inflight: number | null
}

export interface ClientEvent { type: 'connect' | 'disconnect'; clientId: string; user: string; dialect: string; listener: string; at: string }

function transportOf(listener: string): AdminClient['transport'] {
  if (listener === 'mqtt') return 'tcp'
  if (listener === 'mqtts') return 'tls'
  if (listener === 'wss') return 'websocket+tls'
  if (listener === 'ws' || listener.startsWith('ws:')) return 'websocket'
  return 'other'
}

interface Entry { info: SessionInfo; since: number }

export class ClientRegistry {
  private entries = new Map<string, Entry>()
  private off: (() => void)[] = []

  constructor(private sessions: Sessions, private onEvent: (e: ClientEvent) => void, private now: () => number = Date.now) {
    this.off.push(sessions.on('connect', (s) => this.seen('connect', s)))
    this.off.push(sessions.on('disconnect', (s) => this.seen('disconnect', s)))
  }

  private seen(type: ClientEvent['type'], s: SessionInfo): void {
    if (type === 'connect') this.entries.set(s.clientId, { info: s, since: this.now() })
    else this.entries.delete(s.clientId)
    this.onEvent({ type, clientId: s.clientId, user: s.principal.username, dialect: s.principal.kind, listener: s.listener, at: new Date(this.now()).toISOString() })
  }

  get size(): number { return this.entries.size }

  has(id: string): boolean { return this.entries.has(id) }

  /** ids and users containing `q` (case-insensitive), in connection order */
  search(q: string | undefined): string[] {
    const needle = q?.toLowerCase()
    const out: string[] = []
    for (const [id, e] of this.entries) {
      if (!needle || id.toLowerCase().includes(needle) || e.info.principal.username.toLowerCase().includes(needle)) out.push(id)
    }
    return out
  }

  /** what is known without asking the broker (no subscriptions yet): cheap enough to sort every client by */
  row(id: string): Omit<AdminClient, 'subscriptions'> | undefined {
    const e = this.entries.get(id)
    if (!e) return undefined
    const s = e.info
    return {
      id, user: s.principal.username, dialect: s.principal.kind, protocolVersion: s.protocolVersion ?? null,
      listener: s.listener, transport: transportOf(s.listener), address: s.address ?? null,
      connectedSince: new Date(e.since).toISOString(), clean: s.clean ?? null,
      ...this.live(id),
    }
  }

  /** the broker's counts now, where it tells them */
  private live(id: string): { queued: number | null; inflight: number | null } {
    const st = this.sessions.stats?.(id)
    return { queued: st?.queuedBytes ?? null, inflight: st?.inflight ?? null }
  }

  /** a row with its subscriptions (its own and server-side ones), where the broker lists them */
  async describe(row: Omit<AdminClient, 'subscriptions'>): Promise<AdminClient> {
    const subscriptions = this.sessions.capabilities.subscriptions
      ? await this.sessions.list(row.id).then((l) => l.map((x) => ({ filter: x.filter, qos: x.qos })), () => [])
      : []
    return { ...row, subscriptions }
  }

  /** every connected client's subscriptions (for the topic list) */
  async allSubscriptions(): Promise<{ clientId: string; filter: string }[]> {
    if (!this.sessions.capabilities.subscriptions) return []
    const out: { clientId: string; filter: string }[] = []
    for (const id of this.entries.keys()) {
      const subs = await this.sessions.list(id).catch(() => [])
      for (const s of subs) out.push({ clientId: id, filter: s.filter })
    }
    return out
  }

  close(): void {
    for (const f of this.off) f()
  }
}
