// The embedded broker: Aedes with Herald's access layer in its connect, publish, subscribe and delivery hooks.
import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import { TLSSocket } from 'node:tls'
import { Aedes, type AedesPublishPacket, type AuthenticateError, type Client, type Connection } from 'aedes'
import type { AccessControl, AccessSession } from '../core/access/access.ts'
import { validTopicFilter, validTopicName } from '../core/access/topics.ts'
import type { Metrics } from '../core/http/metrics.ts'
import type { Presence } from '../core/presence/presence.ts'

export interface BrokerOptions {
  access: AccessControl
  metrics: Metrics
  presence: Presence
  maxPacketSize: number
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

function authError(code: 4 | 5, message: string): AuthenticateError {
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

  aedes.authenticate = (client, username, password, done) => {
    const ip = remoteAddress(client)
    access.authenticate({ username, password, clientId: client.id, ip, certCN: verifiedCertCN(client) }).then((r) => {
      if (r.ok) {
        sessions.set(client, access.session({ ...r.principal, clientId: client.id }))
        return done(null, true)
      }
      metrics.authFailures.inc({ reason: r.reason })
      o.log.debug({ clientId: client.id, username, ip, reason: r.reason }, 'mqtt login refused')
      done(r.reason === 'bad-credentials' ? authError(4, 'bad user name or password') : authError(5, 'not authorized'), false)
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
    done(null, s && s.can('subscribe', sub.topic) ? sub : null)
  }

  aedes.authorizeForward = (client, packet) => {
    const s = sessions.get(client)
    if (!s || !s.can('read', packet.topic)) return null
    metrics.messagesOut.value++
    return packet
  }

  aedes.on('clientReady', (client) => {
    metrics.connections.inc()
    const s = sessions.get(client)
    presence.connected(client.id, s?.principal)
  })
  aedes.on('clientDisconnect', (client) => {
    metrics.connections.dec()
    presence.disconnected(client.id, sessions.get(client)?.principal)
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
