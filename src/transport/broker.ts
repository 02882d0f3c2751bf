// The embedded broker: Aedes with Herald's access layer in its connect, publish, subscribe and delivery hooks,
// behind Herald's own interface (transport/types.ts). Nothing outside src/transport imports Aedes.
import { Readable, type Duplex } from 'node:stream'
import { TLSSocket } from 'node:tls'
import { Aedes, type AedesPublishPacket, type AuthenticateError, type Client } from 'aedes'
import memoryModule, { type AedesMemoryPersistence } from 'aedes-persistence'
import type { AccessControl, AccessSession } from '../core/access/access.ts'
import { ownerOf } from '../core/access/client-ids.ts'
import { topicMatches, validTopicFilter, validTopicName } from '../core/access/topics.ts'
import { verifiedName, type CertificateField } from '../core/identity/peer.ts'
import type { QoS } from '../core/bus/types.ts'
import type { Metrics } from '../core/http/metrics.ts'
import { MqttConnection, type ConnectionGuard } from './connection.ts'
import { AEDES_MAX_TOPIC_LEVELS, ConnectionCount, ConnectRate, limitedCounter, topicOverLimit, TrafficStats } from './limits.ts'
import { startSys } from './sys.ts'
import { fitsPacketSize, protocolError, ReasonCode, wireSize } from './mqtt5.ts'
import { StorePersistence, type StorePersistenceOptions } from './persistence.ts'
import { DurableSessionExpiry, type ExpiringClient } from './session-expiry.ts'
import { AedesSessions } from './sessions.ts'
import type { BeforeAck, BrokerMessage, ConnectionOptions, EmbeddedBroker } from './types.ts'

export type { EmbeddedBroker } from './types.ts'

export interface BrokerOptions {
  access: AccessControl
  metrics: Metrics
  maxPacketSize: number
  /** subscriptions one client (session) may hold; more get SUBACK 0x80 (security hole 6) */
  maxSubscriptions: number
  /** connections one principal may have open at once; more get CONNACK 3 (superusers are not limited) */
  maxConnectionsPerPrincipal: number
  /** a PUBLISH the client may not make: `drop` (acknowledged and dropped, default) or `disconnect` (the connection closed) */
  deniedPublish?: 'drop' | 'disconnect'
  log: { info(o: object, msg: string): void; warn(o: object, msg: string): void; debug(o: object, msg: string): void; error(o: object, msg: string): void }
  /** which name of a verified client certificate is the login (HERALD_TLS_CLIENT_IDENTITY; default its CN) */
  certificateField?: CertificateField
  /** MQTT sessions kept in Herald's store (HERALD_MQTT_PERSISTENCE=store, transport/persistence.ts); without it, in memory */
  durable?: Omit<StorePersistenceOptions, 'registry'>
  /** MQTT sessions in Redis instead (HERALD_MQTT_PERSISTENCE=redis: aedes-persistence-redis on this URL) */
  redisPersistenceUrl?: string
  /** an emitter shared by the embedded nodes on one Redis (HERALD_MQTT_EMITTER=redis); without it, this process's own */
  /** several nodes on one Redis; `heartbeatMs`: Aedes' heartbeat, whose silence for 3 intervals makes a node gone and its clients' wills due */
  redisEmitter?: { url: string; prefix: string; heartbeatMs?: number }
  /** MQTT 5 Server Keep Alive: a v5 client asking for none or more seconds gets this (0: the client's own); 3.1.1 unchanged */
  keepaliveLimit?: number
  /** MQTT 5 topic aliases a client may set (Topic Alias Maximum in CONNACK; 0: none) */
  topicAliasMaximum?: number
  /** MQTT 5 Receive Maximum: QoS 1/2 PUBLISHes a v5 client may have unacknowledged; more: DISCONNECT 0x93 */
  receiveMaximum?: number
  /** MQTT 5: longest Session Expiry Interval (seconds) a client gets; a longer one is clamped and echoed in CONNACK (0: no cap) */
  sessionExpiryLimit?: number
  /** hardening (issue 11 §4), each counted in herald_mqtt_limited_total{limit}; 0: no limit */
  limits?: Partial<BrokerLimits>
  /** Herald's version, for `$SYS/broker/version` */
  version?: string
}

export interface BrokerLimits {
  /** a socket that does not drain for this long is closed (ms) */
  drainTimeoutMs: number
  /** a connection without a CONNECT for this long is closed (ms) */
  connectTimeoutMs: number
  /** open connections in total, and from one address: more are closed at accept */
  maxConnections: number
  maxConnectionsPerAddress: number
  /** CONNECTs a second from one address (token bucket): more get CONNACK 3 / 0x9F */
  connectRatePerAddress: number
  /** MQTT 3.1.1: a client's QoS 2 PUBLISHes not completed (until its PUBREL); more close the connection */
  maxInflightIn: number
  /** topic names and filters: bytes and levels */
  maxTopicLength: number
  maxTopicLevels: number
  /** bytes a client's socket may have queued; past it, PUBLISHes to it are not written and its input is not read */
  maxQueuedBytes: number
  /** `$SYS/broker/…` every this many seconds (0: off) */
  sysIntervalS: number
}

const DEFAULT_LIMITS: BrokerLimits = {
  drainTimeoutMs: 30_000, connectTimeoutMs: 10_000, maxConnections: 100_000, maxConnectionsPerAddress: 1000,
  connectRatePerAddress: 0, maxInflightIn: 1000, maxTopicLength: 1024, maxTopicLevels: AEDES_MAX_TOPIC_LEVELS,
  maxQueuedBytes: 1_048_576, sysIntervalS: 10,
}

/** `code` is the MQTT 3.1.1 CONNACK return code; `reasonCode` an MQTT 5 one where 3.1.1 has none (patches/aedes) */
function authError(code: 2 | 3 | 4 | 5, message: string, reasonCode?: number): AuthenticateError {
  return Object.assign(new Error(message), { returnCode: code, reasonCode }) as AuthenticateError
}

function versionOf(client: Client): number {
  return (client as unknown as { version: number | null }).version ?? 4
}

function connectionOf(client: Client): MqttConnection | undefined {
  return client.conn instanceof MqttConnection ? client.conn : undefined
}

/** The name (CN, or the configured SAN field) of a client certificate the TLS layer verified against the client CAs. */
function verifiedCertName(client: Client, field: CertificateField | undefined): string | undefined {
  const info = connectionOf(client)?.info
  return verifiedName(info?.socket instanceof TLSSocket ? info.socket : info?.tlsSocket, field)
}

function message(p: Pick<AedesPublishPacket, 'topic' | 'payload' | 'qos' | 'retain'>): BrokerMessage {
  return { topic: p.topic, payload: Buffer.isBuffer(p.payload) ? p.payload : Buffer.from(p.payload), qos: p.qos as QoS, retain: p.retain }
}

/** A filter starting with a wildcard matches no topic beginning with `$` (MQTT 3.1.1 §4.7.2, MQTT-4.7.2-1). */
function dollarBlocked(filter: string, topic: string): boolean {
  return topic.startsWith('$') && (filter.startsWith('#') || filter.startsWith('+'))
}

/**
 * aedes-persistence's memory store, with each stored PUBREL keyed by its own packet id. Its outgoingUpdate matches a
 * PUBREL (no broker id) to the first stored packet without a broker id, i.e. an earlier PUBREL, and renumbers that:
 * two PUBRECs in one segment then got the same PUBREL twice and one QoS 2 delivery never completed
 * (test/core/qos2-persistent.test.ts). Its retained messages and offline queues also apply MQTT-4.7.2-1, which Aedes
 * only applies to live deliveries (and to `$SYS` offline ones).
 */
function memoryPersistence(): AedesMemoryPersistence {
  // the package is CommonJS: its module.exports is the factory its typings call the default export
  const p = (memoryModule as unknown as () => AedesMemoryPersistence)()
  const update = p.outgoingUpdate.bind(p) as (client: Client, packet: { cmd: string; messageId?: number; brokerId?: string }, cb?: unknown) => unknown
  ;(p as { outgoingUpdate: unknown }).outgoingUpdate = (client: Client, packet: { cmd: string; messageId?: number; brokerId?: string }, cb?: unknown) => {
    if (packet.cmd === 'pubrel' && packet.brokerId === undefined) packet.brokerId = `pubrel:${packet.messageId}`
    return update(client, packet, cb)
  }
  const q = p as unknown as {
    createRetainedStream(pattern: string): Readable
    createRetainedStreamCombi(patterns: string[]): Readable
    subscriptionsByTopic(topic: string, cb?: (err: Error | null, subs?: { topic: string }[]) => void): Promise<{ topic: string }[]> | unknown
  }
  const byTopic = q.subscriptionsByTopic.bind(q) as (topic: string) => Promise<{ topic: string }[]>
  // its callback and promise forms both (Aedes calls the promise one)
  q.subscriptionsByTopic = (topic, cb) => {
    const subs = byTopic(topic).then((all) => (topic.startsWith('$') ? all.filter((s) => !dollarBlocked(s.topic, topic)) : all))
    if (!cb) return subs
    subs.then((r) => cb(null, r), (err: Error) => cb(err))
  }
  const retained = q.createRetainedStream.bind(q)
  // one stream per filter, as aedes-persistence's own Combi does (overlapping filters each deliver their copy)
  q.createRetainedStreamCombi = (patterns) => Readable.from((async function * () {
    for (const pattern of patterns) {
      for await (const packet of retained(pattern) as AsyncIterable<{ topic: string }>) {
        if (!dollarBlocked(pattern, packet.topic)) yield packet
      }
    }
  })())
  return p
}

/**
 * The QoS a client gets `packet` at: at most the highest QoS of its subscriptions matching the topic (MQTT-3.8.4-6,
 * MQTT-3.3.5-1). Aedes only lowers it for a subscription whose filter is the topic itself, so a QoS 2 message reached a
 * QoS 1 `a/+` subscriber at QoS 2, and a retained QoS 1 message a QoS 0 subscriber at QoS 1.
 */
function grantedQoS(client: Client, packet: { topic: string; qos: number }): number {
  if (packet.qos === 0) return 0
  const subs = (client as unknown as { subscriptions: Record<string, { qos: number }> }).subscriptions
  let max = -1
  for (const filter in subs) {
    const q = subs[filter].qos
    if (q <= max || !topicMatches(filter, packet.topic)) continue
    if (q >= packet.qos) return packet.qos
    max = q
  }
  // no matching subscription (Herald's own deliveries): as published
  return max < 0 ? packet.qos : max
}

/**
 * An MQTT 5 client's live (or queued) message: the QoS it goes at, as grantedQoS answers, and the Subscription
 * Identifiers it carries, in one walk of the client's subscriptions. MQTT-3.3.4-4: a message that matches several
 * subscriptions of one client goes to it once (Aedes), and then carries the identifier of every matching subscription
 * that has one (Aedes puts that of the first it matched); a no-local subscription does not match the client's own
 * message.
 */
function deliveryOf(client: Client, packet: { topic: string; qos: number; clientId?: string }): { qos: number; ids: number[] } {
  const subs = (client as unknown as { subscriptions: Record<string, { qos: number; si?: number; nl?: boolean }> }).subscriptions
  const ids: number[] = []
  let max = -1
  for (const filter in subs) {
    const s = subs[filter]
    const wantsId = s.si !== undefined && !(s.nl && packet.clientId === client.id) && !ids.includes(s.si)
    // a subscription that can neither raise the QoS nor add an identifier needs no match
    if (!wantsId && (packet.qos === 0 || s.qos <= max || max >= packet.qos)) continue
    if (!topicMatches(filter, packet.topic)) continue
    if (s.qos > max) max = s.qos
    if (wantsId) ids.push(s.si!)
  }
  return { qos: packet.qos === 0 ? 0 : max < 0 ? packet.qos : Math.min(max, packet.qos), ids }
}

export async function createEmbeddedBroker(o: BrokerOptions): Promise<EmbeddedBroker> {
  const { access, metrics } = o
  // the Redis libraries load only when configured (idle memory, issue 11 item 7)
  const redis = o.redisPersistenceUrl || o.redisEmitter ? await import('./broker-redis.ts') : undefined
  const onRedis = !o.durable && o.redisPersistenceUrl ? redis!.redisPersistence(o.redisPersistenceUrl) : undefined
  const persistence = o.durable ? new StorePersistence({ ...o.durable, registry: metrics.registry })
    : onRedis ? onRedis.persistence : memoryPersistence()
  const lim: BrokerLimits = { ...DEFAULT_LIMITS, ...o.limits }
  const maxLevels = Math.min(lim.maxTopicLevels || AEDES_MAX_TOPIC_LEVELS, AEDES_MAX_TOPIC_LEVELS)
  const limited = limitedCounter(metrics.registry)
  const stats = new TrafficStats()
  const open = new ConnectionCount(lim.maxConnections, lim.maxConnectionsPerAddress)
  const connectRate = new ConnectRate(lim.connectRatePerAddress)
  const guard: ConnectionGuard = { stats, maxQueuedBytes: lim.maxQueuedBytes || Infinity, drainTimeout: lim.drainTimeoutMs, limited }
  const emitter = o.redisEmitter ? redis!.redisEmitter(o.redisEmitter.url, o.redisEmitter.prefix, o.log) : undefined
  const aedes = await Aedes.createBroker({
    // MqttConnection never makes Aedes wait for a socket and keeps the drain timeout itself (connection.ts)
    drainTimeout: lim.drainTimeoutMs,
    connectTimeout: lim.connectTimeoutMs,
    maxTopicLevels: AEDES_MAX_TOPIC_LEVELS,
    persistence: persistence as AedesMemoryPersistence,
    ...(emitter && o.redisEmitter ? { mq: emitter.mq, ...(o.redisEmitter.heartbeatMs ? { heartbeatInterval: o.redisEmitter.heartbeatMs } : {}) } : {}),
    // the same limit as MqttConnection's (remaining length), as the whole packet's size MQTT 5 speaks of
    maximumPacketSize: wireSize(o.maxPacketSize),
    topicAliasMaximum: o.topicAliasMaximum ?? 10,
    receiveMaximum: o.receiveMaximum ?? 256,
    sessionExpiryIntervalLimit: o.sessionExpiryLimit ?? 0,
  } as never)
  const accessOf = new WeakMap<Client, AccessSession>()
  const sessions = new AedesSessions(aedes, o.maxSubscriptions, (err, event, clientId) => o.log.error({ err, event, clientId }, 'session listener failed'))
  sessions.statsOf = (client) => connectionOf(client)?.stats()
  const listenerOf = (client: Client) => connectionOf(client)?.info.listener ?? 'internal'

  /** open connections per principal */
  const connectionsOf = new Map<string, number>()
  // MQTT 5 reason codes: 4 → 0x86, 3 → 0x88, 2 → 0x85, 5 → 0x87 (Aedes' map), rate-limited 0x9F
  const refusal = (reason: string): AuthenticateError =>
    reason === 'bad-credentials' ? authError(4, 'bad user name or password')
      : reason === 'unavailable' ? authError(3, 'server unavailable')
      : reason === 'client-id-taken' ? authError(2, 'client identifier in use by another account')
      : reason === 'rate-limited' ? authError(5, 'too many failed logins from this address', ReasonCode.CONNECTION_RATE_EXCEEDED)
        : authError(5, 'not authorized')

  /** connections whose CONNECT had a zero-length client id without clean session */
  const idRejected = new WeakSet<Client>()
  // MQTT-3.1.3-8: a zero-length client id needs clean session 1 (Aedes then assigns a unique `aedes_<uuid>`, MQTT-3.1.3-6)
  aedes.preConnect = (client, packet, done) => {
    const v5 = packet.protocolVersion === 5
    // MQTT 5 allows it (the broker assigns one, sent back as Assigned Client Identifier, MQTT-3.1.3-7)
    if (!v5 && !packet.clientId && !packet.clean) idRejected.add(client)
    const conn = connectionOf(client)
    // GHSA-5jvp-3p2v-5qgf: QoS 2 PUBLISHes never released grew the broker without bound (v5: Receive Maximum below)
    if (!v5 && conn) conn.inflightLimit(lim.maxInflightIn, () => {
      limited('inflight-in')
      o.log.debug({ clientId: client.id, limit: lim.maxInflightIn }, 'mqtt client over its in-flight PUBLISH limit: closed')
      conn.destroy(new Error(`more than ${lim.maxInflightIn} QoS 2 PUBLISHes awaiting PUBREL`))
    })
    if (v5 && conn) conn.mqtt5(o.receiveMaximum ?? 256, (packet.properties as { receiveMaximum?: number } | undefined)?.receiveMaximum ?? 65535, () => {
      metrics.publishDenied.inc({ reason: 'receive-maximum' })
      limited('inflight-in')
      client.disconnect({ reasonCode: ReasonCode.RECEIVE_MAXIMUM_EXCEEDED, properties: { reasonString: 'more unacknowledged QoS 1/2 PUBLISHes than the Receive Maximum' } } as never, () => {})
    })
    // MQTT 5 Server Keep Alive (§3.2.2.3.14): Aedes takes it from here (its own keepaliveLimit would also refuse
    // 3.1.1 clients with a return code 3.1.1 does not have)
    const limit = o.keepaliveLimit ?? 0
    if (v5 && limit > 0 && (!packet.keepalive || packet.keepalive > limit)) (client as unknown as { _serverKeepAlive: number })._serverKeepAlive = limit
    // Aedes sends a message once per client (the first matching subscription wins); when that is a QoS 0 one, the QoS of
    // an overlapping QoS 1/2 subscription is kept (MQTT-3.3.5-1). Set before any subscription takes the function.
    const c = client as unknown as Record<'deliver0' | 'deliverQoS', (p: AedesPublishPacket, cb: () => void) => void>
    const deliver0 = c.deliver0
    c.deliver0 = (p, cb) => (p.qos > 0 && grantedQoS(client, p) > 0 ? c.deliverQoS(p, cb) : deliver0(p, cb))
    done(null, true)
  }

  aedes.authenticate = (client, username, password, done) => {
    if (idRejected.has(client)) {
      metrics.authFailures.inc({ reason: 'client-id-rejected' })
      return done(authError(2, 'identifier rejected: a zero-length client id needs clean session'), false)
    }
    const info = connectionOf(client)?.info
    const ip = info?.remoteAddress
    if (!connectRate.take(ip)) {
      limited('connect-rate')
      return done(authError(3, 'too many connections from this address, try again later', ReasonCode.CONNECTION_RATE_EXCEEDED), false)
    }
    access.authenticate({ username, password, clientId: client.id, ip, certCN: verifiedCertName(client, o.certificateField), listener: info?.listener }).then((r) => {
      if (r.ok) {
        const p = r.principal
        const replaces = access.clientIds.isLive(client.id, p)
        if (!p.superuser && !replaces && (connectionsOf.get(ownerOf(p)) ?? 0) >= o.maxConnectionsPerPrincipal) {
          metrics.authFailures.inc({ reason: 'connection-limit' })
          limited('connections-per-principal')
          return done(authError(3, `more than ${o.maxConnectionsPerPrincipal} connections for one account`, ReasonCode.QUOTA_EXCEEDED), false)
        }
        accessOf.set(client, access.session({ ...p, clientId: client.id }))
        sessions.starting(client)
        return done(null, true)
      }
      metrics.authFailures.inc({ reason: r.reason })
      o.log.debug({ clientId: client.id, username, ip, reason: r.reason }, 'mqtt login refused')
      done(refusal(r.reason), false)
    }, (err) => {
      o.log.warn({ err, clientId: client.id }, 'authentication failed with an error')
      done(authError(5, 'not authorized'), false)
    })
  }

  // aedes-persistence 11 answers with promises (its bundled typings still describe callbacks)
  const incoming = (aedes as unknown as { persistence: { incomingGetPacket(c: Client, p: AedesPublishPacket): Promise<unknown> } }).persistence
  let beforeAck: BeforeAck | undefined

  /** client PUBLISHes taken (and acknowledged by Aedes as usual) but published to nobody */
  const dropped = new WeakSet<object>()
  /**
   * Durable sessions: Aedes writes a QoS 1 PUBACK before it publishes (stores the retained message, queues it for
   * offline sessions); the PUBACK is held until the message is stored, so that what was acknowledged is stored. Not
   * until the publish is done: that waits for live subscribers' sockets, and a frozen one would hold every PUBACK.
   */
  const published = new WeakMap<object, () => void>()
  const whenPublished = (p: AedesPublishPacket): Promise<void> | undefined => {
    if (!o.durable || p.qos !== 1) return undefined
    return new Promise<void>((resolve) => published.set(p, resolve))
  }
  // Aedes' handlers call publish(packet, client, done) (its typings only show the two-argument form)
  const publish = aedes.publish.bind(aedes) as unknown as (packet: AedesPublishPacket, client: Client | null, done?: (err?: Error) => void) => void
  ;(aedes as { publish: unknown }).publish = (packet: AedesPublishPacket, client: Client | null, done?: (err?: Error) => void) => {
    const settle = published.get(packet)
    if (settle) {
      published.delete(packet)
      // Aedes' own copy of the packet takes the broker's next counter, synchronously inside publish (aedes-packet)
      const forget = persistence instanceof StorePersistence ? persistence.afterEnqueue((aedes as unknown as { counter: number }).counter + 1, settle) : undefined
      // a failed write is not acknowledged: Aedes closes the connection and the client sends the PUBLISH again
      return publish(packet, client, (err) => { forget?.(); if (!err) settle(); done?.(err) })
    }
    if (!dropped.has(packet)) return publish(packet, client, done)
    dropped.delete(packet)
    ;(typeof client === 'function' ? client as (err?: Error) => void : done)?.()
  }
  // MQTT 3.1.1 §3.3.5: a PUBLISH the client may not make is acknowledged (PUBACK, or PUBREC/PUBREL/PUBCOMP) and
  // dropped, as Mosquitto does; closing the connection instead made a QoS 1 client resend it forever
  // MQTT 5: answered PUBACK/PUBREC 0x87 with a Reason String by Aedes (a QoS 0 one is dropped), or DISCONNECT 0x87
  const drop = (client: Client, p: AedesPublishPacket, reason: 'denied' | 'reserved', done: (err: Error | null) => void) => {
    metrics.publishDenied.inc({ reason })
    o.log.debug({ clientId: client.id, topic: p.topic, qos: p.qos, reason, action: o.deniedPublish ?? 'drop' }, 'mqtt publish refused')
    const refused = `not authorized to publish to ${p.topic}`
    if (versionOf(client) === 5) {
      if (o.deniedPublish === 'disconnect') return protocolError(client, p, ReasonCode.NOT_AUTHORIZED, refused, done)
      return done(new Error(refused))
    }
    if (o.deniedPublish === 'disconnect') return done(new Error(refused))
    dropped.add(p)
    done(null)
  }

  aedes.authorizePublish = (client, packet, done) => {
    const p = packet as AedesPublishPacket
    if (!client) {
      // a will of a client that was connected to a vanished node: handled like any client's (beforeAckDone below)
      if (beforeAck && p.qos > 0 && (p as { clientId?: string }).clientId) void beforeAck(message(p))
      return done(null)
    }
    // a malformed topic is a protocol error that closes the connection (MQTT-4.7.3-2, MQTT-1.5.3-1)
    if (!validTopicName(p.topic)) return protocolError(client, p, ReasonCode.TOPIC_NAME_INVALID, `invalid topic for PUBLISH: ${p.topic}`, done)
    const over = topicOverLimit(p.topic, lim.maxTopicLength, maxLevels)
    if (over) {
      limited(over)
      // MQTT 5: DISCONNECT 0x90 (Topic Name invalid); 3.1.1 has no way to say so: acknowledged and dropped
      if (versionOf(client) === 5) return protocolError(client, p, ReasonCode.TOPIC_NAME_INVALID, `topic over the broker's ${over === 'topic-length' ? `${lim.maxTopicLength} bytes` : `${maxLevels} levels`}`, done)
      dropped.add(p)
      return done(null)
    }
    // `$SYS/…` is the broker's own (§4.7.2); other `$…` topics are decided by the access layer like any topic
    if (p.topic.startsWith('$SYS')) return drop(client, p, 'reserved', done)
    const s = accessOf.get(client)
    if (!s) return drop(client, p, 'denied', done)
    // a dialect's rewrite (SYNRC: the real client id into `events/…`) before the decision, as n2o's broker hook did
    const topic = access.publishTopic(s.principal, p.topic)
    if (topic !== p.topic) {
      if (!validTopicName(topic)) return protocolError(client, p, ReasonCode.TOPIC_NAME_INVALID, `invalid rewritten topic for PUBLISH: ${topic}`, done)
      p.topic = topic
    }
    if (!s.can('publish', p.topic)) return drop(client, p, 'denied', done)
    // several nodes: while the Redis emitter is away a message would reach no node, so a QoS 1/2 one is not
    // acknowledged; the connection ends (MQTT 5: DISCONNECT 0x89, Server busy) and the client sends it again later
    if (p.qos > 0 && emitter && !emitter.ready()) {
      o.log.warn({ clientId: client.id, topic: p.topic }, 'QoS 1/2 PUBLISH refused: the Redis emitter is not connected')
      return protocolError(client, p, ReasonCode.SERVER_BUSY, 'the broker cannot reach its Redis emitter: publish again later', done)
    }
    metrics.messagesIn.value++
    // QoS 0 promises nothing: it reaches the handlers when it is published, which happens at once (in publish order
    // with this client's QoS 1/2 messages, handed to beforeAck right here)
    if (p.qos === 0) return done(null)
    const stored = whenPublished(p)
    // a QoS 2 retransmission of a PUBLISH already taken (awaiting PUBREL) is not handled twice
    const work = !beforeAck ? undefined : p.qos === 2 && p.dup
      ? incoming.incomingGetPacket(client, p).then(() => undefined, () => beforeAck?.(message(p)))
      : beforeAck(message(p))
    const until = work && stored ? Promise.all([work, stored]).then(() => undefined) : work ?? stored
    // a will has no packet id, and nothing to acknowledge
    if (until && p.messageId !== undefined) connectionOf(client)?.hold(p.messageId, until)
    done(null)
  }

  aedes.authorizeSubscribe = (client, sub, done) => {
    if (!validTopicFilter(sub.topic)) return done(new Error(`invalid topic filter: ${sub.topic}`))
    const over = topicOverLimit(sub.topic, lim.maxTopicLength, maxLevels)
    if (over) {
      limited(over)
      // SUBACK 0x8F (Topic Filter invalid) under MQTT 5, 0x80 under 3.1.1
      return done(null, { ...sub, reasonCode: ReasonCode.TOPIC_FILTER_INVALID } as typeof sub)
    }
    const s = accessOf.get(client)
    // `$SYS/…` statistics are for superusers (Mosquitto leaves them to its ACL; Herald's accounts never see them)
    if (sub.topic.startsWith('$SYS') && !s?.principal.superuser) return done(null, null)
    // a filter Herald subscribed the session to is its own decision; others follow the client's rules
    // null subscription: SUBACK 0x80 for this filter, the connection stays open
    if (!s || (!sessions.isGranted(client.id, sub.topic) && !s.can('subscribe', sub.topic))) return done(null, null)
    if (!sessions.admit(client.id, sub.topic, sub.qos as QoS)) {
      o.log.debug({ clientId: client.id, limit: o.maxSubscriptions }, 'subscription refused: limit reached')
      limited('subscriptions')
      // SUBACK 0x97 (quota exceeded) under MQTT 5, 0x80 under 3.1.1 (patches/aedes)
      return done(null, { ...sub, reasonCode: ReasonCode.QUOTA_EXCEEDED } as typeof sub)
    }
    done(null, sub)
  }
  aedes.on('unsubscribe', (unsubscriptions, client) => {
    if (client) sessions.removed(client.id, unsubscriptions)
  })

  aedes.authorizeForward = (client, packet) => {
    const s = accessOf.get(client)
    if (packet.topic.startsWith('$SYS/')) {
      // Aedes' own `$SYS/<broker id>/…` (heartbeat, new/clients, …) are its cluster plumbing: never sent to a client
      if (!packet.topic.startsWith('$SYS/broker/') || !s?.principal.superuser) return null
      // on a shared emitter a client's live `$SYS/broker/…` are those of the node it is connected to
      if (o.redisEmitter && packet.brokerId !== aedes.id && !packet.retain) return null
    }
    if (!s || (!s.can('read', packet.topic) && !sessions.grantedTopic(client.id, packet.topic))) return null
    // a live message, or one queued for the session while it was away (a retained one sent on SUBSCRIBE has no broker
    // id: it carries that subscription's identifier)
    const v5 = packet.brokerId && versionOf(client) === 5 ? deliveryOf(client, packet) : undefined
    const qos = v5 ? v5.qos : grantedQoS(client, packet)
    // MQTT-3.1.2-25: a message larger than the client's Maximum Packet Size is not sent (as if it had been)
    const max = (client as unknown as { maximumPacketSize?: number }).maximumPacketSize
    if (max !== undefined && !fitsPacketSize(packet, qos, max)) {
      o.log.debug({ clientId: client.id, topic: packet.topic, max }, 'message larger than the client\'s Maximum Packet Size not sent')
      return null
    }
    metrics.messagesOut.value++
    if (v5) {
      const props = (packet as { properties?: { subscriptionIdentifier?: number | number[] } }).properties
      const ids = v5.ids
      if (ids.length > 1 || (ids.length === 1 && props?.subscriptionIdentifier !== ids[0])) {
        return { ...packet, qos, properties: { ...props, subscriptionIdentifier: ids.length > 1 ? ids : ids[0] } } as typeof packet
      }
    }
    // a copy: the packet object is shared by every subscriber
    return qos < packet.qos ? { ...packet, qos } as typeof packet : packet
  }

  // a client is connected once Aedes has sent its CONNACK and its stored queue (clientReady): what a dialect sends
  // it on connect then comes after what it missed. With the durable store the queue takes a while, and a quick client
  // may subscribe, or even leave, before it is ready: Herald's session calls about a registered client wait for it
  // (sessions.registered), and a client gone before it was ready never counts (Aedes' clientReady can come after its
  // clientDisconnect); every connected client gets exactly one clientDisconnect after it
  const readied = new WeakSet<object>()
  const clientsOf = () => (aedes as unknown as { clients: Record<string, Client> }).clients
  // MQTT 5 Session Expiry across a restart (durable store): what Aedes' timers of the previous run did not do is done
  const expiry = persistence instanceof StorePersistence ? new DurableSessionExpiry(persistence, {
    isConnected: (id) => clientsOf()[id] !== undefined,
    single: persistence.store.kind === 'sqlite',
    onError: (err, clientId) => o.log.warn({ err, clientId }, 'mqtt session expiry: store write failed'),
  }) : undefined
  const ended = await expiry?.restore()
  if (ended) o.log.info({ sessions: ended }, 'mqtt: sessions whose Session Expiry passed while Herald was down ended')
  aedes.on('client', (client) => {
    expiry?.connected(client as unknown as ExpiringClient)
    if (accessOf.get(client)) sessions.registered(client)
  })
  aedes.on('clientReady', (client) => {
    if ((client as unknown as { closed?: boolean }).closed || readied.has(client)) return
    readied.add(client)
    metrics.connections.inc()
    const p = accessOf.get(client)?.principal
    if (!p) return
    access.clientIds.connected(client.id, p)
    connectionsOf.set(ownerOf(p), (connectionsOf.get(ownerOf(p)) ?? 0) + 1)
    sessions.ready(client, p, listenerOf(client), { protocolVersion: versionOf(client), address: connectionOf(client)?.info.remoteAddress })
  })
  aedes.on('clientDisconnect', (client) => {
    expiry?.disconnected(client as unknown as ExpiringClient)
    const wasReady = readied.has(client)
    if (wasReady) metrics.connections.dec()
    const p = accessOf.get(client)?.principal
    if (!p) return
    access.clientIds.disconnected(client.id, p, client.clean)
    if (wasReady) {
      const n = (connectionsOf.get(ownerOf(p)) ?? 1) - 1
      if (n > 0) connectionsOf.set(ownerOf(p), n)
      else connectionsOf.delete(ownerOf(p))
    }
    // a clean session's filters stay counted while its client id is still held for the account (security hole 6)
    sessions.gone(client, p, listenerOf(client), access.clientIds.ownerOfClient(client.id) !== undefined, wasReady)
  })
  // MQTT 5: a session whose Session Expiry Interval passed while its client was away
  aedes.on('sessionExpired', (client) => { expiry?.ended(client.id); sessions.expired(client.id) })
  aedes.on('sessionLimitReached' as never, (client: Client, info: { reason?: string }) => { if (info?.reason === 'sessionExpiry') expiry?.ended(client.id) })
  aedes.on('clientError', (client, err) => {
    if (err.message === 'keep alive timeout') limited('keepalive')
    o.log.debug({ clientId: client.id, err: err.message }, 'mqtt client error')
  })
  aedes.on('connectionError', (client, err) => {
    if (err.message === 'connect did not arrive in time') limited('connect-timeout')
    o.log.debug({ clientId: client?.id, err: err.message }, 'mqtt connection error')
  })

  const stopSys = startSys({
    version: o.version ?? 'unknown',
    stats,
    connected: () => Object.keys(clientsOf()).length,
    total: () => Object.keys(clientsOf()).length,
    subscriptions: () => {
      let n = 0
      for (const c of Object.values(clientsOf())) n += Object.keys((c as unknown as { subscriptions: object }).subscriptions).length
      return n
    },
    publish: (topic, payload) => aedes.publish({ cmd: 'publish', topic, payload: Buffer.from(payload), qos: 0, retain: true, dup: false }, () => {}),
  }, lim.sysIntervalS)

  return {
    handle(conn: Duplex, c: ConnectionOptions) {
      const socket = conn as Duplex & { remoteAddress?: string }
      const remoteAddress = socket.remoteAddress ?? c.req?.socket?.remoteAddress
      const tlsSocket = c.req?.socket instanceof TLSSocket ? c.req.socket : undefined
      const admitted = open.admit(remoteAddress)
      if (typeof admitted === 'string') {
        // refused at accept, before a byte is parsed: no CONNACK (the client's version is not known yet)
        limited(admitted)
        o.log.debug({ remoteAddress, limit: admitted }, 'mqtt connection refused')
        conn.destroy()
        return
      }
      const wrapped = new MqttConnection(conn, { listener: c.listener, remoteAddress, tlsSocket }, o.maxPacketSize, guard)
      wrapped.once('close', admitted.release)
      conn.once('close', admitted.release)
      aedes.handle(wrapped as never, c.req)
    },
    publish: (m) => new Promise<void>((resolve, reject) => {
      aedes.publish({ cmd: 'publish', topic: m.topic, payload: m.payload, qos: m.qos, retain: m.retain, dup: false }, (err) => (err ? reject(err) : resolve()))
    }),
    subscribe(filter, deliver) {
      const fn = (packet: AedesPublishPacket, done: () => void) => {
        // MQTT-4.7.2-1 for Herald's own subscriptions too: `#` sees neither `$SYS/broker/…` nor Aedes' heartbeats
        if (dollarBlocked(filter, packet.topic)) return done()
        // N nodes on a shared emitter: Herald's own subscriptions take a message on the node it entered, so once
        if (o.redisEmitter && packet.brokerId !== aedes.id) return done()
        const m = message(packet)
        // a client's (or will's) QoS 1/2 message went through authorizePublish above, which handed it to beforeAck
        if (packet.qos > 0 && (packet as { clientId?: string }).clientId !== undefined) m.beforeAckDone = true
        deliver(m)
        done()
      }
      const unsubscribe = () => new Promise<void>((r) => aedes.unsubscribe(filter, fn, () => r()))
      return new Promise((resolve) => aedes.subscribe(filter, fn, () => resolve(unsubscribe)))
    },
    setBeforeAck: (fn) => { beforeAck = fn },
    sessions,
    close: async () => {
      stopSys()
      expiry?.close()
      await new Promise<void>((r) => aedes.close(() => r()))
      await expiry?.settled()
      await onRedis?.close()
    },
  }
}
