// The embedded broker: Aedes with Herald's access layer in its connect, publish, subscribe and delivery hooks.
import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import { TLSSocket } from 'node:tls'
import { Aedes, type AedesPublishPacket, type AuthenticateError, type Client, type Connection } from 'aedes'
import type { AccessControl, AccessSession } from '../core/access/access.ts'
import { ownerOf } from '../core/access/client-ids.ts'
import { validTopicFilter, validTopicName } from '../core/access/topics.ts'
import type { Metrics } from '../core/http/metrics.ts'
import type { Presence } from '../core/presence/presence.ts'

export interface BrokerOptions {
  access: AccessControl
  metrics: Metrics
  presence: Presence
  maxPacketSize: number
  /** subscriptions one client (session) may hold; more get SUBACK 0x80 (security hole 6) */
  maxSubscriptions: number
  /** connections one principal may have open at once; more get CONNACK 3 (superusers are not limited) */
  maxConnectionsPerPrincipal: number
  log: { warn(o: object, msg: string): void; debug(o: object, msg: string): void }
}

export interface EmbeddedBroker {
  aedes: Aedes
  /** Hand a new connection (TCP, TLS or WebSocket stream) to the broker. */
  handle(conn: Connection | Duplex, req?: IncomingMessage): void
  /** The access session of a connected client (undefined for internal publishes). */
  sessionOf(client: Client | null): AccessSession | undefined
  /**
   * Work to finish before a client's PUBLISH is acknowledged (the embedded bus's `beforeAck` subscriptions):
   * returns undefined when there is none for this packet, else a promise that settles when it is done.
   */
  setBeforeAck(fn: (packet: AedesPublishPacket) => Promise<void> | undefined): void
  close(): Promise<void>
}

const sessions = new WeakMap<Client, AccessSession>()

function authError(code: 2 | 3 | 4 | 5, message: string): AuthenticateError {
  return Object.assign(new Error(message), { returnCode: code }) as AuthenticateError
}

function remoteAddress(client: Client): string | undefined {
  const c = client.conn as Partial<{ remoteAddress: string }>
  return c.remoteAddress ?? client.req?.socket?.remoteAddress
}

/** CN of a client certificate the TLS layer verified against the configured CA. */
function verifiedCertCN(client: Client): string | undefined {
  const conn = client.conn
  if (!(conn instanceof TLSSocket) || !conn.authorized) return undefined
  const cn = conn.getPeerCertificate()?.subject?.CN
  return Array.isArray(cn) ? cn[0] : cn
}

export async function createEmbeddedBroker(o: BrokerOptions): Promise<EmbeddedBroker> {
  const { access, metrics, presence } = o
  const aedes = await Aedes.createBroker({ drainTimeout: 30_000, connectTimeout: 10_000 })

  /** open connections per principal, and each session's subscription filters (kept with a persistent session) */
  const connectionsOf = new Map<string, number>()
  const filtersOf = new Map<string, Set<string>>()
  const refusal = (reason: string): AuthenticateError =>
    reason === 'bad-credentials' ? authError(4, 'bad user name or password')
      : reason === 'client-id-taken' ? authError(2, 'client identifier in use by another account')
        : authError(5, 'not authorized')

  aedes.authenticate = (client, username, password, done) => {
    const ip = remoteAddress(client)
    access.authenticate({ username, password, clientId: client.id, ip, certCN: verifiedCertCN(client) }).then((r) => {
      if (r.ok) {
        const p = r.principal
        const replaces = access.clientIds.isLive(client.id, p)
        if (!p.superuser && !replaces && (connectionsOf.get(ownerOf(p)) ?? 0) >= o.maxConnectionsPerPrincipal) {
          metrics.authFailures.inc({ reason: 'connection-limit' })
          return done(authError(3, `more than ${o.maxConnectionsPerPrincipal} connections for one account`), false)
        }
        sessions.set(client, access.session({ ...p, clientId: client.id }))
        if (client.clean) filtersOf.delete(client.id)
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
  let beforeAck: ((packet: AedesPublishPacket) => Promise<void> | undefined) | undefined
  /** per client, the acknowledgement last held back: later PUBLISHes of that client are acknowledged after it */
  const held = new WeakMap<Client, Promise<void>>()

  aedes.authorizePublish = (client, packet, done) => {
    if (!client) return done(null)
    if (!validTopicName(packet.topic) || packet.topic.startsWith('$SYS')) return done(new Error(`invalid topic for PUBLISH: ${packet.topic}`))
    const s = sessions.get(client)
    if (!s || !s.can('publish', packet.topic)) return done(new Error(`not authorized to publish to ${packet.topic}`))
    metrics.messagesIn.value++
    // Aedes acknowledges (PUBACK, PUBREC) right after this hook: handle first what must be stored before
    const p = packet as AedesPublishPacket
    // QoS 0 promises nothing: unless an acknowledgement of this client is held (its order is kept below), it goes the
    // broker's usual way, and the bus handles it when it is published (larger group commits than handling it here)
    const prev = held.get(client)
    if (p.qos === 0 && !prev) return done(null)
    const work = !beforeAck ? undefined
      // a QoS 2 retransmission of a PUBLISH already taken (awaiting PUBREL) is not handled twice
      : p.qos === 2 && p.dup ? incoming.incomingGetPacket(client, p).then(() => undefined, () => beforeAck?.(p))
        : beforeAck(p)
    const wait = p.qos === 0 ? undefined : work
    if (!wait && !prev) return done(null)
    const mine = Promise.all([prev, wait]).then(() => {})
    held.set(client, mine)
    void mine.then(() => {
      if (held.get(client) === mine) held.delete(client)
      done(null)
    })
  }

  aedes.authorizeSubscribe = (client, sub, done) => {
    if (!validTopicFilter(sub.topic)) return done(new Error(`invalid topic filter: ${sub.topic}`))
    const s = sessions.get(client)
    // null subscription: SUBACK 0x80 for this filter, the connection stays open
    if (!s || !s.can('subscribe', sub.topic)) return done(null, null)
    let filters = filtersOf.get(client.id)
    if (!filters) filtersOf.set(client.id, (filters = new Set()))
    if (!filters.has(sub.topic)) {
      if (filters.size >= o.maxSubscriptions) {
        o.log.debug({ clientId: client.id, limit: o.maxSubscriptions }, 'subscription refused: limit reached')
        return done(null, null)
      }
      filters.add(sub.topic)
    }
    done(null, sub)
  }
  aedes.on('unsubscribe', (unsubscriptions, client) => {
    const filters = client && filtersOf.get(client.id)
    if (filters) for (const f of unsubscriptions) filters.delete(f)
  })

  aedes.authorizeForward = (client, packet) => {
    const s = sessions.get(client)
    if (!s || !s.can('read', packet.topic)) return null
    metrics.messagesOut.value++
    return packet
  }

  aedes.on('clientReady', (client) => {
    metrics.connections.inc()
    const p = sessions.get(client)?.principal
    if (p) {
      access.clientIds.connected(client.id, p)
      connectionsOf.set(ownerOf(p), (connectionsOf.get(ownerOf(p)) ?? 0) + 1)
    }
    presence.connected(client.id, p)
  })
  aedes.on('clientDisconnect', (client) => {
    metrics.connections.dec()
    const p = sessions.get(client)?.principal
    if (p) {
      access.clientIds.disconnected(client.id, p, client.clean)
      const n = (connectionsOf.get(ownerOf(p)) ?? 1) - 1
      if (n > 0) connectionsOf.set(ownerOf(p), n)
      else connectionsOf.delete(ownerOf(p))
      if (client.clean && access.clientIds.ownerOfClient(client.id) === undefined) filtersOf.delete(client.id)
    }
    presence.disconnected(client.id, p)
  })
  aedes.on('clientError', (client, err) => o.log.debug({ clientId: client.id, err: err.message }, 'mqtt client error'))
  aedes.on('connectionError', (client, err) => o.log.debug({ clientId: client?.id, err: err.message }, 'mqtt connection error'))

  const handle = (conn: Connection | Duplex, req?: IncomingMessage) => {
    const client = aedes.handle(conn as Connection, req) as Client & { _parser: any }
    limitPacketSize(client._parser, o.maxPacketSize)
  }

  return {
    aedes,
    handle,
    sessionOf: (client) => (client ? sessions.get(client) : undefined),
    setBeforeAck: (fn) => { beforeAck = fn },
    close: () => new Promise<void>((r) => aedes.close(() => r())),
  }
}

/**
 * Refuse a packet whose announced remaining length exceeds the limit before buffering it: the parser
 * (mqtt-packet) has no such limit, so its length state is wrapped for this one connection.
 */
function limitPacketSize(parser: any, max: number): void {
  const parseLength = parser._parseLength
  parser._parseLength = function (this: any) {
    const done = parseLength.call(this)
    if (done && this.packet.length > max) {
      this._emitError(new Error(`packet of ${this.packet.length} bytes exceeds the limit of ${max}`))
      return false
    }
    return done
  }
}
