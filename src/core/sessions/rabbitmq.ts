// Sessions on RabbitMQ 3.x's MQTT plugin (issue 9 §1). A client's MQTT session there *is* its subscription queues:
// `mqtt-subscription-<clientId>qos0` and `…qos1`, bound to `amq.topic` by routing key, made by its first SUBSCRIBE
// at that QoS and consumed by its connection. So a server-side subscription is one more binding on such a queue,
// done through the management API (rabbitmq_management), and connect/disconnect events come from the
// rabbitmq_event_exchange plugin. What RabbitMQ does not keep, Herald cannot add: a client that has subscribed to
// nothing has no session to extend (capability sessionWithoutSubscription), and the clean flag is not reported.
import type { ChannelModel } from 'amqplib'
import type { Principal } from '../access/types.ts'
import { bindingKeyToFilter, filterToBindingKey } from '../util/routing-keys.ts'
import { SessionEvents } from './events.ts'
import type { SessionCapabilities, SessionEvent, SessionInfo, SessionListener, Sessions, SessionSubscription } from './types.ts'

const EVENT_EXCHANGE = 'amq.rabbitmq.event'
const MQTT_EXCHANGE = 'amq.topic'
/** how long disconnect() waits for the connect event of a client it has not heard of */
const EVENT_GRACE_MS = 1000

export interface RabbitMqSessionsOptions {
  /** AMQP URL (amqp://user:pass@host:5672/vhost): the event exchange is consumed over it */
  amqpUrl: string
  /** management API base (http://user:pass@host:15672): queues, bindings, connections */
  managementUrl: string
  /** the principal Herald's access layer remembers for a login (hook calls); null for RabbitMQ's own users */
  lookup(username: string, clientId: string): Promise<Principal | null>
  onError(err: unknown, event: SessionEvent | 'events', clientId: string): void
  /** how long each management call may take */
  timeoutMs?: number
  /** how long disconnect() retries a connection the management statistics do not list yet */
  disconnectWithinMs?: number
}

interface Connection { name: string; info: SessionInfo }
interface Binding { source: string; routing_key: string; properties_key: string }

/** RabbitMQ's queue for a client's subscriptions at a QoS (rabbit_mqtt_util:subcription_queue_name). */
export const subscriptionQueue = (clientId: string, qos: 0 | 1): string => `mqtt-subscription-${clientId}qos${qos}`

export class RabbitMqSessions implements Sessions {
  readonly broker = 'rabbitmq'
  readonly capabilities: SessionCapabilities = { events: true, subscriptions: true, disconnect: true, sessionWithoutSubscription: false, cleanFlag: false }
  private readonly events: SessionEvents
  private readonly byClient = new Map<string, Connection>()
  private readonly byName = new Map<string, Connection>()
  private conn?: ChannelModel
  private closing = false
  private readonly api: string
  private readonly auth: string
  private readonly vhost: string

  private constructor(private readonly o: RabbitMqSessionsOptions) {
    this.events = new SessionEvents((err, event, clientId) => o.onError(err, event, clientId))
    const m = new URL(o.managementUrl)
    this.auth = 'Basic ' + Buffer.from(`${decodeURIComponent(m.username)}:${decodeURIComponent(m.password)}`).toString('base64')
    m.username = ''
    m.password = ''
    this.api = m.toString().replace(/\/+$/, '') + '/api'
    const path = new URL(o.amqpUrl).pathname.slice(1)
    this.vhost = path ? decodeURIComponent(path) : '/'
  }

  /** Connects to the event exchange and learns the MQTT connections already open; fails when either plugin is off. */
  static async connect(o: RabbitMqSessionsOptions): Promise<RabbitMqSessions> {
    const s = new RabbitMqSessions(o)
    try {
      await s.openEvents()
      await s.learnOpenConnections()
    } catch (err) {
      await s.close()
      throw err
    }
    return s
  }

  on(event: SessionEvent, fn: SessionListener): () => void {
    return this.events.on(event, fn)
  }

  async subscribe(clientId: string, subs: SessionSubscription[]): Promise<void> {
    const queues = await this.queuesOf(clientId)
    if (!queues.length) throw new Error(`no session for client ${clientId} on the rabbitmq broker (its session is its subscription queue, made by its first SUBSCRIBE)`)
    for (const s of subs) {
      // the queue of the asked QoS if the client has one, else the one it has (delivered at that queue's QoS)
      const qos = queues.includes(s.qos === 0 ? 0 : 1) ? (s.qos === 0 ? 0 : 1) : queues[0]
      await this.call('POST', `/bindings/${this.v()}/e/${MQTT_EXCHANGE}/q/${encodeURIComponent(subscriptionQueue(clientId, qos))}`, { routing_key: filterToBindingKey(s.filter), arguments: {} })
    }
  }

  async unsubscribe(clientId: string, filters: string[]): Promise<void> {
    const keys = new Set(filters.map(filterToBindingKey))
    for (const qos of [0, 1] as const) {
      const q = encodeURIComponent(subscriptionQueue(clientId, qos))
      for (const b of await this.bindings(q)) {
        if (!keys.has(b.routing_key)) continue
        await this.call('DELETE', `/bindings/${this.v()}/e/${MQTT_EXCHANGE}/q/${q}/${encodeURIComponent(b.properties_key)}`, undefined, [404])
      }
    }
  }

  /**
   * The management API closes a connection only once its statistics list it (collect_statistics_interval, 5 s by
   * default): a connection just opened is retried until then, or until its close event.
   */
  async disconnect(clientId: string): Promise<boolean> {
    const c = this.byClient.get(clientId) ?? (await this.awaitConnect(clientId, EVENT_GRACE_MS))
    if (!c) return false
    const end = Date.now() + (this.o.disconnectWithinMs ?? 15_000)
    for (;;) {
      const status = await this.call('DELETE', `/connections/${encodeURIComponent(c.name)}`, undefined, [404], { 'x-reason': 'disconnected by Herald' })
      if (status !== 404) return true
      if (!this.byName.has(c.name)) return false
      if (Date.now() > end) throw new Error(`RabbitMQ did not close connection ${c.name} of client ${clientId} within ${this.o.disconnectWithinMs ?? 15_000} ms`)
      await new Promise((r) => setTimeout(r, 250))
    }
  }

  /** a connect event that may still be on its way (the event exchange lags the CONNACK by a few ms) */
  private async awaitConnect(clientId: string, ms: number): Promise<Connection | undefined> {
    const end = Date.now() + ms
    while (Date.now() < end) {
      await new Promise((r) => setTimeout(r, 20))
      const c = this.byClient.get(clientId)
      if (c) return c
    }
    return undefined
  }

  async list(clientId: string): Promise<SessionSubscription[]> {
    const out: SessionSubscription[] = []
    for (const qos of [0, 1] as const) {
      for (const b of await this.bindings(encodeURIComponent(subscriptionQueue(clientId, qos)))) out.push({ filter: bindingKeyToFilter(b.routing_key), qos })
    }
    return out
  }

  async close(): Promise<void> {
    this.closing = true
    await this.conn?.close().catch(() => {})
  }

  // --- events (rabbitmq_event_exchange) ---

  private async openEvents(): Promise<void> {
    // loaded on first use: only a RabbitMQ deployment pays for amqplib (issue 11 item 7)
    const amqp = (await import('amqplib')).default
    const conn = await amqp.connect(this.o.amqpUrl, { clientProperties: { connection_name: `herald-sessions-${process.pid}` } })
    conn.on('error', () => {}) // followed by 'close'
    conn.on('close', () => { if (!this.closing) this.reopen() })
    const channel = await conn.createChannel()
    channel.on('error', () => {})
    // the plugin declares its exchange when it starts: its absence means the plugin is off
    await channel.checkExchange(EVENT_EXCHANGE)
    const { queue } = await channel.assertQueue('', { exclusive: true, autoDelete: true })
    await channel.bindQueue(queue, EVENT_EXCHANGE, 'connection.created')
    await channel.bindQueue(queue, EVENT_EXCHANGE, 'connection.closed')
    await channel.consume(queue, (m) => { if (m) void this.onEvent(m.fields.routingKey, (m.properties.headers ?? {}) as Record<string, unknown>) }, { noAck: true })
    this.conn = conn
  }

  private reopen(): void {
    setTimeout(() => {
      if (this.closing) return
      this.openEvents().then(() => this.learnOpenConnections()).catch((err: unknown) => {
        this.o.onError(err, 'events', '')
        this.reopen()
      })
    }, 1000).unref()
  }

  private async onEvent(key: string, h: Record<string, unknown>): Promise<void> {
    const name = String(h.name ?? '')
    if (key === 'connection.created') {
      const protocol = String(h.protocol ?? '')
      if (!protocol.includes('MQTT')) return
      const clientId = erlangClientId(String(h.variable_map ?? ''))
      if (clientId === undefined) return
      await this.opened(name, clientId, String(h.user ?? ''), listenerOf(protocol, h.ssl === true || h.ssl === 'true'))
    } else if (key === 'connection.closed') {
      const c = this.byName.get(name)
      if (!c) return
      this.byName.delete(name)
      if (this.byClient.get(c.info.clientId) === c) this.byClient.delete(c.info.clientId)
      await this.events.emit('disconnect', c.info)
    }
  }

  private async opened(name: string, clientId: string, user: string, listener: string): Promise<void> {
    const principal = await this.o.lookup(user, clientId).catch(() => null) ?? { kind: 'external', username: user, clientId, attrs: {} }
    const c: Connection = { name, info: { clientId, principal, listener } }
    this.byName.set(name, c)
    this.byClient.set(clientId, c)
    await this.events.emit('connect', c.info)
  }

  /** connections open before Herald started (or during an event outage), as the management API lists them */
  private async learnOpenConnections(): Promise<void> {
    const res = await this.fetch('GET', `/connections/?columns=name,protocol,ssl,user,client_properties`)
    if (!res.ok) throw new Error(`RabbitMQ management API ${res.status} on GET /connections`)
    const list = (await res.json()) as { name: string; protocol?: string; ssl?: boolean; user?: string; client_properties?: { client_id?: string } }[]
    for (const c of list) {
      const clientId = c.client_properties?.client_id
      if (!String(c.protocol).includes('MQTT') || typeof clientId !== 'string' || this.byName.has(c.name)) continue
      await this.opened(c.name, clientId, c.user ?? '', listenerOf(String(c.protocol), c.ssl === true))
    }
  }

  // --- management API ---

  private v(): string { return encodeURIComponent(this.vhost) }

  private async queuesOf(clientId: string): Promise<(0 | 1)[]> {
    const out: (0 | 1)[] = []
    for (const qos of [1, 0] as const) {
      const status = await this.call('GET', `/queues/${this.v()}/${encodeURIComponent(subscriptionQueue(clientId, qos))}?columns=name`, undefined, [404])
      if (status === 200) out.push(qos)
    }
    return out
  }

  private async bindings(queue: string): Promise<Binding[]> {
    const res = await this.fetch('GET', `/queues/${this.v()}/${queue}/bindings`)
    if (res.status === 404) return []
    if (!res.ok) throw new Error(`RabbitMQ management API ${res.status} on GET bindings of ${decodeURIComponent(queue)}`)
    return ((await res.json()) as Binding[]).filter((b) => b.source === MQTT_EXCHANGE)
  }

  /** one management call; statuses in `tolerate` are returned, any other failure throws naming the call */
  private async call(method: string, path: string, body?: unknown, tolerate: number[] = [], headers: Record<string, string> = {}): Promise<number> {
    const res = await this.fetch(method, path, body, headers)
    await res.arrayBuffer()
    if (res.ok || tolerate.includes(res.status)) return res.status
    throw new Error(`RabbitMQ management API ${res.status} on ${method} ${decodeURIComponent(path)}`)
  }

  private fetch(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Response> {
    return fetch(this.api + path, {
      method,
      headers: { authorization: this.auth, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(this.o.timeoutMs ?? 10_000),
    })
  }
}

/** `{'MQTT',"3.1.1"}` / `{'Web MQTT',"3.1.1"}` (event) or `MQTT 3.1.1` / `Web MQTT 3.1.1` (management) → listener name */
function listenerOf(protocol: string, ssl: boolean): string {
  const ws = protocol.includes('Web MQTT')
  return ws ? (ssl ? 'wss' : 'ws') : ssl ? 'mqtts' : 'mqtt'
}

/**
 * The client id in an event's `variable_map`, which the event exchange prints as an Erlang term:
 * `#{<<"client_id">> => <<"dev-1">>}`, or with bytes listed (`<<100,195,169>>`) when not printable.
 */
export function erlangClientId(map: string): string | undefined {
  const text = /<<"client_id">>\s*=>\s*<<"((?:[^"\\]|\\.)*)"(\/utf8)?>>/.exec(map)
  if (text) return unescapeErlang(text[1], text[2] !== undefined)
  const bytes = /<<"client_id">>\s*=>\s*<<([\d,\s]*)>>/.exec(map)
  if (bytes) return Buffer.from(bytes[1].split(',').filter((b) => b.trim()).map(Number)).toString('utf8')
  return undefined
}

function unescapeErlang(s: string, utf8: boolean): string {
  const raw = s.replace(/\\(x\{[0-9a-fA-F]+\}|[0-7]{1,3}|.)/g, (_, e: string) => {
    if (e.startsWith('x{')) return String.fromCodePoint(parseInt(e.slice(2, -1), 16))
    if (/^[0-7]+$/.test(e)) return String.fromCharCode(parseInt(e, 8))
    return ({ n: '\n', t: '\t', r: '\r', s: ' ', e: '\x1b', b: '\b', f: '\f', v: '\v', d: '\x7f' } as Record<string, string>)[e] ?? e
  })
  // ~p prints a binary's bytes as latin-1 characters unless it is marked /utf8
  return utf8 ? raw : Buffer.from(raw, 'latin1').toString('utf8')
}

