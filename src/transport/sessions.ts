// Sessions on the embedded broker, through Aedes' documented client API (client.subscribe / unsubscribe / close) and
// its persistence (addSubscriptions / removeSubscriptions) for offline persistent sessions.
import type { Aedes, Client } from 'aedes'
import { topicMatches } from '../core/access/topics.ts'
import type { Principal } from '../core/access/types.ts'
import type { QoS } from '../core/bus/types.ts'
import { SessionEvents } from '../core/sessions/events.ts'
import type { SessionCapabilities, SessionEvent, SessionListener, Sessions, SessionStats, SessionSubscription } from '../core/sessions/types.ts'

interface Persistence {
  addSubscriptions(client: { id: string }, subs: { topic: string; qos: QoS }[]): Promise<unknown>
  removeSubscriptions(client: { id: string }, topics: string[]): Promise<unknown>
}

export class AedesSessions implements Sessions {
  readonly broker = 'embedded'
  readonly capabilities: SessionCapabilities = { events: true, subscriptions: true, disconnect: true, sessionWithoutSubscription: true, cleanFlag: true }
  readonly events: SessionEvents
  private clients = new Map<string, Client>()
  /** each session's filters, its own and server-side ones, with their QoS (counted against maxSubscriptions) */
  private filters = new Map<string, Map<string, QoS>>()
  /** filters Herald subscribed a session to: its decision, delivered whatever the client's own read rules say */
  private granted = new Map<string, Set<string>>()
  /** client ids whose session the broker keeps while they are offline (clean: false) */
  private persistent = new Set<string>()
  /**
   * clients the broker registered whose connect has not finished (CONNACK sent, the stored queue still being sent):
   * the client may already subscribe and be told about; a call about it waits until it is ready or gone
   */
  private arriving = new Map<string, { client: Client; settled: Promise<void>; settle: () => void }>()

  /** the broker's view of a connected client's connection (transport/broker.ts) */
  statsOf?: (client: Client) => SessionStats | undefined

  constructor(private aedes: Aedes, private maxSubscriptions: number, onError: (err: unknown, event: SessionEvent, clientId: string) => void) {
    this.events = new SessionEvents(onError)
  }

  stats(clientId: string): SessionStats | undefined {
    const c = this.clients.get(clientId)
    return c ? this.statsOf?.(c) : undefined
  }

  // --- the broker's hooks (transport/broker.ts) ---

  /** the broker registered a client (before its CONNACK); `ready` or `gone` follows */
  registered(client: Client): void {
    // a persistent session is known from here: a server-side subscription made meanwhile goes to it
    if (!client.clean) this.persistent.add(client.id)
    let settle!: () => void
    const settled = new Promise<void>((r) => { settle = r })
    this.arriving.get(client.id)?.settle()
    this.arriving.set(client.id, { client, settled, settle })
  }

  private arrived(client: Client): void {
    const a = this.arriving.get(client.id)
    if (a?.client !== client) return
    this.arriving.delete(client.id)
    a.settle()
  }

  /** a client logged in: a clean session starts without any of the previous one's subscriptions */
  starting(client: Client): void {
    // MQTT 5 Clean Start with a Session Expiry Interval: a new session that outlives its connection (clean false);
    // Aedes keeps the CONNECT's flag as _cleanStart (3.1.1: the same as clean)
    if ((client as unknown as { _cleanStart?: boolean })._cleanStart ?? client.clean) this.endSession(client.id)
  }

  ready(client: Client, principal: Principal, listener: string, o: { protocolVersion?: number; address?: string } = {}): void {
    this.arrived(client)
    this.clients.set(client.id, client)
    if (client.clean) this.persistent.delete(client.id)
    else this.persistent.add(client.id)
    void this.events.emit('connect', { clientId: client.id, principal, listener, clean: client.clean, ...o })
  }

  /** a client left; `connected`: it was ready (a client gone before it was ready had no connect event, gets no disconnect) */
  gone(client: Client, principal: Principal, listener: string, keepFilters: boolean, connected = true): void {
    this.arrived(client)
    if (this.clients.get(client.id) === client) this.clients.delete(client.id)
    if (client.clean) {
      this.granted.delete(client.id)
      if (!keepFilters) this.filters.delete(client.id)
    }
    if (connected) void this.events.emit('disconnect', { clientId: client.id, principal, listener, clean: client.clean })
  }

  /** MQTT 5: the session's Session Expiry Interval passed while its client was away; the broker dropped it */
  expired(clientId: string): void {
    if (!this.clients.has(clientId)) this.endSession(clientId)
  }

  /** Count a SUBSCRIBE's filter; false when the session already holds maxSubscriptions others. */
  admit(clientId: string, filter: string, qos: QoS): boolean {
    let f = this.filters.get(clientId)
    if (!f) this.filters.set(clientId, (f = new Map()))
    if (!f.has(filter) && f.size >= this.maxSubscriptions) return false
    f.set(filter, qos)
    return true
  }

  removed(clientId: string, filters: string[]): void {
    const f = this.filters.get(clientId)
    const g = this.granted.get(clientId)
    for (const filter of filters) { f?.delete(filter); g?.delete(filter) }
  }

  isGranted(clientId: string, filter: string): boolean {
    return this.granted.get(clientId)?.has(filter) ?? false
  }

  /** a topic one of the session's server-side filters matches */
  grantedTopic(clientId: string, topic: string): boolean {
    const g = this.granted.get(clientId)
    if (!g) return false
    for (const f of g) if (topicMatches(f, topic)) return true
    return false
  }

  // --- Sessions ---

  on(event: SessionEvent, fn: SessionListener): () => void {
    return this.events.on(event, fn)
  }

  private async known(clientId: string): Promise<Client | undefined> {
    await this.arriving.get(clientId)?.settled
    const c = this.clients.get(clientId)
    if (!c && !this.persistent.has(clientId)) throw new Error(`no session for client ${clientId}`)
    return c
  }

  async subscribe(clientId: string, subs: SessionSubscription[]): Promise<void> {
    const client = await this.known(clientId)
    const f = this.filters.get(clientId)
    const added = subs.filter((s) => !f?.has(s.filter)).length
    if ((f?.size ?? 0) + added > this.maxSubscriptions) throw new Error(`client ${clientId} would hold more than ${this.maxSubscriptions} subscriptions`)
    let g = this.granted.get(clientId)
    if (!g) this.granted.set(clientId, (g = new Set()))
    for (const s of subs) g.add(s.filter)
    const topics = subs.map((s) => ({ topic: s.filter, qos: s.qos }))
    if (client) {
      await new Promise<void>((resolve, reject) => client.subscribe(topics, (err) => (err ? reject(err) : resolve())))
    } else {
      for (const s of subs) this.admit(clientId, s.filter, s.qos)
      await this.persistence().addSubscriptions({ id: clientId }, topics)
    }
  }

  async unsubscribe(clientId: string, filters: string[]): Promise<void> {
    const client = await this.known(clientId)
    if (client) {
      await new Promise<void>((resolve, reject) => client.unsubscribe({ cmd: 'unsubscribe', unsubscriptions: filters } as never, (err) => (err ? reject(err) : resolve())))
    } else {
      await this.persistence().removeSubscriptions({ id: clientId }, filters)
    }
    this.removed(clientId, filters)
  }

  async disconnect(clientId: string): Promise<boolean> {
    await this.arriving.get(clientId)?.settled
    const client = this.clients.get(clientId)
    if (!client) return false
    await new Promise<void>((r) => client.close(() => r()))
    return true
  }

  async list(clientId: string): Promise<SessionSubscription[]> {
    await this.known(clientId)
    return [...(this.filters.get(clientId) ?? [])].map(([filter, qos]) => ({ filter, qos }))
  }

  async close(): Promise<void> {}

  private endSession(clientId: string): void {
    this.granted.delete(clientId)
    this.filters.delete(clientId)
    this.persistent.delete(clientId)
  }

  private persistence(): Persistence {
    // aedes-persistence 11 answers with promises (its bundled typings still describe callbacks)
    return (this.aedes as unknown as { persistence: Persistence }).persistence
  }
}
