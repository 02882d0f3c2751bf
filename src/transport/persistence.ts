// A durable Aedes persistence on Herald's store (SQLite embedded, PostgreSQL in cluster mode): subscriptions, retained
// messages, queued and in-flight QoS 1/2 packets, incoming QoS 2 packets and wills survive a restart or a kill -9.
// The store is the truth; the only memory is the subscription trie (loaded at setup, as aedes-persistence-redis does)
// and per-client queue sizes. Every write commits before its promise resolves (the writes of one tick share one
// transaction: persistence-commit.ts), and Aedes (with the PUBACK hold in broker.ts) acknowledges only after that. It passes aedes-persistence's abstract suite (test/core/persistence-*.test.ts).
import { createRequire } from 'node:module'
import { Readable } from 'node:stream'
import { Counter, type Registry } from 'prom-client'
import { topicMatches } from '../core/access/topics.ts'
import type { Db, DbKind } from '../core/store/db.ts'
import { decodePacket, encodePacket, filterPrefix, type Pkt } from './persistence-codec.ts'
import { MqttSessionStore, type NewOutgoing, type OutgoingRow } from './persistence-store.ts'

export type { Pkt } from './persistence-codec.ts'

const require = createRequire(import.meta.url)

interface Sub { topic: string; qos: number; rh?: number; rap?: boolean; nl?: boolean; subscriptionIdentifier?: number; clientId?: string }
interface ClientRef { id: string }
interface BrokerRef { id: string; publish: unknown; subscribe: unknown; unsubscribe: unknown }
interface Trie {
  add(topic: string, sub: Sub & { clientId: string }): void
  remove(topic: string, sub: { clientId: string; topic: string }): void
  match(topic: string): (Sub & { clientId: string })[]
  subscriptionsCount: number
}
interface Broadcast {
  brokerSubscribe(): Promise<void>
  brokerUnsubscribe(): Promise<void>
  addedSubscriptions(client: ClientRef, subs: Sub[]): Promise<void>
  removedSubscriptions(client: ClientRef, subs: string[]): Promise<void>
}

const Packet = require('aedes-packet') as new (p: Pkt, broker?: unknown) => Pkt
const QlobberSub = require('qlobber/aedes/qlobber-sub') as new (o: object) => Trie
const BroadcastPersistence = require('aedes-persistence/broadcastPersistence.js') as new (broker: BrokerRef, trie: Trie) => Broadcast
const QLOBBER = { wildcard_one: '+', wildcard_some: '#', separator: '/' }
const PAGE = 500

function decodeOutgoing(r: OutgoingRow): Pkt {
  const p = decodePacket(r)
  // the packet shape aedes-packet gives: a message id for QoS > 0 and for PUBREL (MQTT-2.3.1-5)
  if (r.cmd !== 'publish' || (p.qos ?? 0) > 0) p.messageId = r.message_id ?? undefined
  return p
}

export interface StorePersistenceOptions {
  db: Db
  kind: DbKind
  /** PUBLISHes kept per client queue (HERALD_MQTT_MAX_QUEUED; PUBRELs not counted); the oldest goes first; 0: no limit */
  maxQueued: number
  /** a queued message not sent within this many ms is dropped (HERALD_MQTT_QUEUED_EXPIRY_MS); 0: never */
  queuedExpiryMs: number
  /** how often expired queued messages of sessions that do not come back are swept (ms; 0: only when a session returns) */
  sweepMs?: number
  /** Prometheus registry for herald_mqtt_queue_dropped_total */
  registry?: Registry
  now?: () => number
}

export class StorePersistence {
  readonly store: MqttSessionStore
  #broker: BrokerRef | undefined
  #trie = new QlobberSub(QLOBBER)
  #broadcast: Broadcast | undefined
  /** queued packets per client, as far as this node wrote them */
  #queued = new Map<string, number>()
  /** the newest outgoing id this node knows: a queue read starts as a snapshot up to it (SQLite: exact) */
  #lastId = 0
  #destroyed = false
  /**
   * retained `$SYS/…` (the broker's own statistics, republished every interval): this node's live state, kept in
   * memory, not written to the store every interval nor shared with the other nodes of a cluster
   */
  #sys = new Map<string, Pkt>()
  #sweeper: NodeJS.Timeout | undefined
  #sweeping = false
  /** callbacks waiting for the offline enqueue of this broker's packet number n (afterEnqueue) */
  #enqueueWaiters = new Map<number, () => void>()
  readonly #dropped: Counter<'reason'>
  readonly #now: () => number

  constructor(private o: StorePersistenceOptions) {
    this.store = new MqttSessionStore(o.db, o.kind)
    this.#now = o.now ?? Date.now
    const name = 'herald_mqtt_queue_dropped_total'
    const existing = o.registry?.getSingleMetric(name) as Counter<'reason'> | undefined
    this.#dropped = existing ?? new Counter({ name, help: 'queued MQTT messages dropped: the oldest beyond HERALD_MQTT_MAX_QUEUED (limit), or not sent before their expiry (expired)', labelNames: ['reason'], registers: o.registry ? [o.registry] : [] })
    if (o.registry) this.#commitMetrics(o.registry)
  }

  /** herald_mqtt_store_writes_total and herald_mqtt_store_commits_total: their ratio is the group commit's batch size */
  #commitMetrics(registry: Registry): void {
    const store = this.store
    for (const [name, help, key] of [
      ['herald_mqtt_store_writes_total', 'writes of the durable MQTT sessions to the store', 'writes'],
      ['herald_mqtt_store_commits_total', 'commits (transactions, or lone statements) that carried those writes', 'commits'],
    ] as const) {
      // a second broker on the same registry (tests) takes the counter over
      registry.removeSingleMetric(name)
      let seen = 0
      new Counter({ name, help, registers: [registry], collect() { const n = store.commitStats[key]; this.inc(n - seen); seen = n } })
    }
  }

  /** for aedes-persistence's abstract suite */
  get broker(): BrokerRef | undefined { return this.#broker }

  async setup(broker: BrokerRef): Promise<void> {
    this.#broker = broker
    for (const r of await this.store.allSubscriptions()) {
      const o = JSON.parse(r.options) as Sub
      if (r.qos > 0) this.#trie.add(r.topic, { clientId: r.client_id, topic: r.topic, qos: r.qos, rh: o.rh, rap: o.rap, nl: o.nl })
    }
    this.#queued = await this.store.queuedCounts()
    this.#lastId = await this.store.maxOutgoingId()
    // N embedded nodes on one PostgreSQL: each node's trie learns the others' subscriptions through the shared emitter
    if (this.o.kind === 'postgres') {
      this.#broadcast = new BroadcastPersistence(broker, this.#trie)
      await this.#broadcast.brokerSubscribe()
    }
    const every = this.o.sweepMs ?? 60_000
    if (every > 0) {
      this.#sweeper = setInterval(() => { void this.sweepExpired() }, every)
      this.#sweeper.unref()
    }
  }

  /** Drop the expired queued messages of every session (also of those that never come back); answers how many. */
  async sweepExpired(): Promise<number> {
    if (this.#sweeping) return 0
    this.#sweeping = true
    let n = 0
    try {
      for (;;) {
        const gone = await this.store.dropAllExpired(this.#now(), PAGE)
        for (const id of gone) this.#queued.set(id, Math.max(0, (this.#queued.get(id) ?? 0) - 1))
        n += gone.length
        if (gone.length < PAGE) break
      }
    } catch (err) {
      // the store is away: the next sweep, or the session's return, tries again; closed (Herald stopped): no more sweeps
      if (this.#destroyed || /destroyed/.test((err as Error).message)) clearInterval(this.#sweeper)
    } finally {
      this.#sweeping = false
    }
    if (n > 0) this.#dropped.inc({ reason: 'expired' }, n)
    return n
  }

  // retained messages

  async storeRetained(packet: Pkt): Promise<void> {
    const topic = packet.topic!
    const clear = packet.payload === undefined || packet.payload.length === 0
    if (topic.startsWith('$SYS/')) {
      if (clear) this.#sys.delete(topic)
      else this.#sys.set(topic, packet)
      return
    }
    if (clear) return this.store.deleteRetained(topic)
    await this.store.putRetained(topic, encodePacket(packet))
  }

  createRetainedStream(pattern: string): Readable {
    return Readable.from(this.#retained([pattern]))
  }

  /** one pass per filter, as aedes-persistence does (overlapping filters each deliver their copy) */
  createRetainedStreamCombi(patterns: string[]): Readable {
    return Readable.from(this.#retained(patterns))
  }

  async * #retained(patterns: string[]): AsyncGenerator<Pkt> {
    for (const pattern of patterns) {
      // a filter starting with a wildcard never matches a `$` topic (MQTT-4.7.2-1)
      if (pattern.startsWith('$SYS/')) {
        for (const [topic, packet] of this.#sys) if (topicMatches(pattern, topic)) yield packet
        continue
      }
      const { exact, prefix } = filterPrefix(pattern)
      let after: string | undefined
      for (;;) {
        const rows = await this.store.retainedPage(prefix, after, exact ? 1 : PAGE)
        for (const r of rows) {
          if (exact ? r.topic === pattern : topicMatches(pattern, r.topic)) yield decodePacket(r)
        }
        if (exact || rows.length < PAGE) break
        after = rows[rows.length - 1].topic
      }
    }
  }

  // subscriptions

  async addSubscriptions(client: ClientRef, subs: Sub[]): Promise<void> {
    // one row per filter: the last of the same filter in one SUBSCRIBE wins
    const byTopic = new Map<string, Sub>()
    for (const s of subs) byTopic.set(s.topic, s)
    await this.store.putSubscriptions([...byTopic.values()].map((s) => ({ client_id: client.id, topic: s.topic, qos: s.qos, options: JSON.stringify(optionsOf(s)) })))
    for (const s of subs) {
      if (s.qos > 0) this.#trie.add(s.topic, { clientId: client.id, topic: s.topic, qos: s.qos, rh: s.rh, rap: s.rap, nl: s.nl })
      else this.#trie.remove(s.topic, { clientId: client.id, topic: s.topic })
    }
    if (this.#broadcast) await this.#broadcast.addedSubscriptions(client, subs)
  }

  async removeSubscriptions(client: ClientRef, topics: string[]): Promise<void> {
    await this.store.removeSubscriptions(client.id, topics)
    for (const topic of topics) this.#trie.remove(topic, { clientId: client.id, topic })
    if (this.#broadcast) await this.#broadcast.removedSubscriptions(client, topics)
  }

  async subscriptionsByClient(client: ClientRef): Promise<Sub[]> {
    const rows = await this.store.subscriptionsOf(client.id)
    return rows.map((r) => ({ topic: r.topic, qos: r.qos, ...JSON.parse(r.options) }))
  }

  async countOffline(): Promise<{ subsCount: number; clientsCount: number }> {
    return { subsCount: this.#trie.subscriptionsCount, clientsCount: await this.store.subscribedClients() }
  }

  async subscriptionsByTopic(topic: string): Promise<(Sub & { clientId: string })[]> {
    const subs = this.#trie.match(topic)
    // a filter starting with a wildcard matches no `$` topic (MQTT-4.7.2-1)
    return topic.startsWith('$') ? subs.filter((s) => s.topic[0] !== '#' && s.topic[0] !== '+') : subs
  }

  async cleanSubscriptions(client: ClientRef): Promise<void> {
    const rows = await this.store.subscriptionsOf(client.id)
    await this.store.cleanSubscriptions(client.id)
    for (const r of rows) this.#trie.remove(r.topic, { clientId: client.id, topic: r.topic })
    if (this.#broadcast && rows.length > 0) await this.#broadcast.removedSubscriptions(client, rows.map((r) => r.topic))
  }

  getClientList(topic: string): Readable {
    const store = this.store
    return Readable.from((async function * () { yield * await store.clientsSubscribedTo(topic) })())
  }

  // outgoing queues: queued (no message id yet) and in-flight packets, PUBRELs awaiting PUBCOMP

  async outgoingEnqueue(sub: { clientId: string }, packet: Pkt): Promise<void> {
    await this.outgoingEnqueueCombi([sub], packet)
  }

  async outgoingEnqueueCombi(all: { clientId: string }[], packet: Pkt): Promise<void> {
    // one copy per session, as a live client gets one (Aedes' per-client dedupe) when several of its subscriptions
    // match; it then carries every matching subscription's identifier (broker.ts, MQTT-3.3.4-4)
    const seen = new Set<string>()
    const subs = all.filter((s) => !seen.has(s.clientId) && seen.add(s.clientId))
    if (subs.length === 0) return this.#enqueued(packet)
    const p = new Packet(packet)
    const stored = encodePacket(p, ['messageId'])
    const expiresAt = p.messageExpiry ?? (this.o.queuedExpiryMs > 0 ? this.#now() + this.o.queuedExpiryMs : null)
    const rows: NewOutgoing[] = subs.map((s) => ({
      client_id: s.clientId, cmd: p.cmd, broker_id: p.brokerId ?? null, broker_counter: p.brokerCounter ?? null, message_id: null, expires_at: expiresAt, ...stored,
    }))
    const ids = await this.store.enqueue(rows)
    for (const id of ids) if (id > this.#lastId) this.#lastId = id
    for (const s of subs) {
      const n = (this.#queued.get(s.clientId) ?? 0) + 1
      this.#queued.set(s.clientId, n)
      if (this.o.maxQueued > 0 && n > this.o.maxQueued) await this.#trim(s.clientId)
    }
    this.#enqueued(packet)
  }

  /**
   * `fn` runs once this broker's packet number `brokerCounter` is queued for the offline sessions (which comes after
   * its retained copy is stored): the broker's hold on a QoS 1 PUBACK. Answers a function that forgets it.
   */
  afterEnqueue(brokerCounter: number, fn: () => void): () => void {
    this.#enqueueWaiters.set(brokerCounter, fn)
    return () => { this.#enqueueWaiters.delete(brokerCounter) }
  }

  #enqueued(p: Pkt): void {
    if (this.#enqueueWaiters.size === 0 || p.brokerId !== this.#broker?.id || p.brokerCounter === undefined) return
    const fn = this.#enqueueWaiters.get(p.brokerCounter)
    if (!fn) return
    this.#enqueueWaiters.delete(p.brokerCounter)
    fn()
  }

  async #trim(clientId: string): Promise<void> {
    const dropped = await this.store.trim(clientId, this.o.maxQueued)
    if (dropped > 0) this.#dropped.inc({ reason: 'limit' }, dropped)
    this.#queued.set(clientId, Math.max(0, (this.#queued.get(clientId) ?? 0) - dropped))
  }

  async outgoingUpdate(client: ClientRef, packet: Pkt): Promise<void> {
    const messageId = packet.messageId!
    if (packet.cmd === 'publish' && packet.brokerId !== undefined) {
      if (await this.store.setMessageId(client.id, packet.brokerId, packet.brokerCounter ?? 0, messageId)) return
      // another broker's packet with the same id is replaced by this one (aedes-persistence's rule)
      if (await this.store.replaceByMessageId(client.id, messageId, packet.brokerId, this.#outgoingRow(packet))) return
      throw new Error('no such packet')
    }
    // a PUBREL takes the place of its PUBLISH, found by its own packet id (never by a missing broker id: see
    // memoryPersistence in broker.ts)
    const row = packet.cmd === 'publish' ? this.#outgoingRow(packet) : this.#outgoingRow({ cmd: packet.cmd, messageId })
    if (await this.store.replaceByMessageId(client.id, messageId, undefined, row)) return
    throw new Error('no such packet')
  }

  #outgoingRow(p: Pkt): Omit<NewOutgoing, 'client_id'> {
    return {
      cmd: p.cmd, broker_id: p.brokerId ?? null, broker_counter: p.brokerCounter ?? null, message_id: p.messageId ?? null,
      expires_at: null, ...encodePacket(p, ['messageId']),
    }
  }

  async outgoingClearMessageId(client: ClientRef, packet: Pkt): Promise<Pkt | undefined> {
    // the PUBACK of a clean session's live delivery (Aedes stores none): nothing to clear when this client has no
    // row at all. Only on SQLite, where this node writes every row and #queued counts them exactly.
    if ((client as { clean?: boolean }).clean === true && this.o.kind === 'sqlite' && !this.#queued.has(client.id)) return undefined
    // a packet id that is not a number (none yet) clears the first packet not sent, as aedes-persistence does
    const id = typeof packet?.messageId === 'number' ? packet.messageId : null
    const r = await this.store.clearMessageId(client.id, id)
    if (!r) return undefined
    const n = this.#queued.get(client.id)
    if (n !== undefined) {
      if (n > 1) this.#queued.set(client.id, n - 1)
      else this.#queued.delete(client.id)
    }
    return decodeOutgoing(r)
  }

  outgoingStream(client: ClientRef): Readable {
    // a snapshot, as aedes-persistence's: what is queued after this goes out live, not a second time from here
    return Readable.from(this.#queue(client.id, this.o.kind === 'sqlite' ? this.#lastId : undefined))
  }

  async * #queue(clientId: string, upTo: number | undefined): AsyncGenerator<Pkt> {
    const expired = await this.store.dropExpired(clientId, this.#now())
    if (expired > 0) {
      this.#dropped.inc({ reason: 'expired' }, expired)
      this.#queued.set(clientId, Math.max(0, (this.#queued.get(clientId) ?? 0) - expired))
    }
    const bound = upTo ?? await this.store.maxOutgoingId()
    let after = 0
    for (;;) {
      const rows = await this.store.outgoingPage(clientId, after, bound, PAGE)
      for (const r of rows) yield decodeOutgoing(r)
      if (rows.length < PAGE) break
      after = rows[rows.length - 1].id
    }
  }

  // incoming QoS 2 packets, kept from PUBLISH to PUBREL (MQTT-4.3.3-2)

  async incomingStorePacket(client: ClientRef, packet: Pkt): Promise<void> {
    const p = new Packet(packet)
    p.messageId = packet.messageId
    await this.store.putIncoming(client.id, packet.messageId!, encodePacket(p))
  }

  async incomingGetPacket(client: ClientRef, packet: Pkt): Promise<Pkt> {
    const s = await this.store.getIncoming(client.id, packet.messageId!)
    if (!s) throw new Error('no such packet')
    return decodePacket(s)
  }

  async incomingDelPacket(client: ClientRef, packet: Pkt): Promise<void> {
    if (!(await this.store.deleteIncoming(client.id, packet.messageId!))) throw new Error('no such packet')
  }

  async cleanIncoming(client: ClientRef): Promise<void> {
    await this.store.cleanIncoming(client.id)
  }

  // wills

  async putWill(client: ClientRef, packet: Pkt): Promise<void> {
    packet.brokerId = this.#broker!.id
    packet.clientId = client.id
    await this.store.putWill(client.id, packet.brokerId, encodePacket(packet))
  }

  async getWill(client: ClientRef): Promise<Pkt | undefined> {
    const s = await this.store.getWill(client.id)
    return s ? decodePacket(s) : undefined
  }

  async delWill(client: ClientRef): Promise<Pkt | undefined> {
    const s = await this.store.deleteWill(client.id)
    return s ? decodePacket(s) : undefined
  }

  /** the wills of clients whose broker is not among `brokers` (alive ones, by id) */
  streamWill(brokers: Record<string, unknown> = {}): Readable {
    const store = this.store
    return Readable.from((async function * () {
      for (const s of await store.willsNotOf(Object.keys(brokers))) yield decodePacket(s)
    })())
  }

  /**
   * End a session whose client is away (its MQTT 5 Session Expiry passed while Herald was down, session-expiry.ts):
   * its subscriptions, queued and in-flight packets, QoS 2 packets awaiting PUBREL and will go
   */
  async wipeSession(clientId: string): Promise<void> {
    const client = { id: clientId }
    await this.cleanSubscriptions(client)
    await this.store.clearOutgoing(clientId)
    this.#queued.delete(clientId)
    await this.cleanIncoming(client)
    await this.delWill(client)
  }

  async destroy(): Promise<void> {
    if (this.#destroyed) throw new Error('destroyed called twice!')
    this.#destroyed = true
    clearInterval(this.#sweeper)
    if (this.#broadcast) await this.#broadcast.brokerUnsubscribe()
  }
}

function optionsOf(s: Sub): Omit<Sub, 'topic' | 'qos' | 'clientId'> {
  const o: Omit<Sub, 'topic' | 'qos' | 'clientId'> = {}
  if (s.rh !== undefined) o.rh = s.rh
  if (s.rap !== undefined) o.rap = s.rap
  if (s.nl !== undefined) o.nl = s.nl
  if (s.subscriptionIdentifier !== undefined) o.subscriptionIdentifier = s.subscriptionIdentifier
  return o
}
