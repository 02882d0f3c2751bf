// External bus: an mqtt.js client to an existing broker (Mosquitto, RabbitMQ, EMQX).
// Shared subscriptions split work between Herald nodes; each subscription is handled on its own connection (in
// order, concurrently with the others); QoS 1/2 publishes are flow-controlled so that a broker's inflight limit
// (Mosquitto's max_inflight_messages 20) never drops them.
import type { IClientOptions, MqttClient } from 'mqtt'
import { AmqpShared } from './amqp-shared.ts'
import type { Bus, BusHandler, PublishOptions, QoS, SubscribeOptions } from './types.ts'

/** mqtt.js is loaded when an external bus first connects: an embedded Herald never pays its memory (issue 11 item 7) */
const mqttJs = async () => (await import('mqtt')).default

export interface ExternalBusOptions {
  url: string
  username?: string
  password?: string
  clientId?: string
  sharedGroup?: string
  /** false for brokers without `$share` (RabbitMQ 3.x): every node then gets every message */
  sharedSubscriptions?: boolean
  maxInflight?: number
  /** RabbitMQ's AMQP URL: shared subscriptions become competing consumers of a durable queue (amqp-shared.ts) */
  amqpUrl?: string
  onError?: (err: unknown, topic: string) => void
  mqtt?: IClientOptions
}

export class ExternalBus implements Bus {
  readonly kind = 'external' as const
  private pub!: MqttClient
  /** one connection per subscription (see subscribe) */
  private conns = new Set<MqttClient>()
  private seq = 0
  private clientId: string
  private inflight = 0
  private waiting: (() => void)[] = []
  private amqp?: AmqpShared

  private constructor(private o: ExternalBusOptions) {
    this.clientId = o.clientId ?? `herald-${process.pid}-${Math.random().toString(16).slice(2, 10)}`
  }

  private options(id: string): IClientOptions {
    const o = this.o
    return { clientId: id, username: o.username, password: o.password, clean: true, reconnectPeriod: 1000, connectTimeout: 10_000, ...o.mqtt }
  }

  static async connect(o: ExternalBusOptions): Promise<ExternalBus> {
    const bus = new ExternalBus(o)
    // Publishing has its own connection: mqtt.js holds every incoming packet (PUBACK/PUBCOMP included) until
    // handleMessage's callback runs, so a handler awaiting its own QoS 1/2 publish on one connection would deadlock.
    bus.pub = await (await mqttJs()).connectAsync(o.url, bus.options(`${bus.clientId}-pub`))
    bus.pub.on('error', () => {}) // reconnects on its own; errors surface on publish
    if (o.amqpUrl) {
      bus.amqp = await AmqpShared.connect({ url: o.amqpUrl, group: o.sharedGroup ?? 'herald', onError: o.onError }).catch(async (err) => {
        await bus.pub.endAsync(true)
        throw err
      })
    }
    return bus
  }

  private async slot(): Promise<void> {
    if (this.inflight < (this.o.maxInflight ?? 16)) { this.inflight++; return }
    await new Promise<void>((r) => this.waiting.push(r))
  }

  private release(): void {
    const next = this.waiting.shift()
    if (next) next()
    else this.inflight--
  }

  async publish(topic: string, payload: Buffer | string, opts: PublishOptions = {}): Promise<void> {
    const qos = opts.qos ?? 0
    if (qos === 0) {
      await this.pub.publishAsync(topic, payload, { qos, retain: opts.retain ?? false })
      return
    }
    await this.slot()
    try {
      await this.pub.publishAsync(topic, payload, { qos, retain: opts.retain ?? false })
    } finally {
      this.release()
    }
  }

  /**
   * Each subscription has its own connection, hence its own queue: mqtt.js hands a connection's next packet over
   * only once handleMessage's callback has run, and sends the PUBACK/PUBREC from that callback, so the broker is
   * acknowledged after the handler settled, in arrival order (MQTT 3.1.1 §4.6), and a slow handler holds back
   * its own subscription only.
   */
  async subscribe(filter: string, handler: BusHandler, opts: SubscribeOptions = {}): Promise<() => Promise<void>> {
    if (opts.shared && this.amqp) return this.amqp.subscribe(filter, handler)
    const wire = opts.shared && this.o.sharedSubscriptions !== false ? `$share/${this.o.sharedGroup ?? 'herald'}/${filter}` : filter
    const client = await (await mqttJs()).connectAsync(this.o.url, this.options(`${this.clientId}-s${++this.seq}`))
    client.on('error', () => {}) // reconnects (and subscribes again) on its own
    client.handleMessage = (packet, done) => {
      const topic = packet.topic
      const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload)
      Promise.resolve()
        .then(() => handler({ topic, payload, qos: packet.qos as QoS, retain: packet.retain }))
        .catch((err) => this.o.onError?.(err, topic))
        .finally(() => done())
    }
    // mqtt.js rejects a SUBACK with 0x80 itself
    const granted = await client.subscribeAsync(wire, { qos: opts.qos ?? 1 }).catch(() => [{ qos: 128 }])
    if (granted.some((g) => g.qos === 128)) {
      await client.endAsync(true)
      throw new Error(`broker refused subscription to ${wire}`)
    }
    this.conns.add(client)
    return async () => {
      if (!this.conns.delete(client)) return
      await client.endAsync()
    }
  }

  async close(): Promise<void> {
    await this.amqp?.close()
    const all = [...this.conns, this.pub]
    this.conns.clear()
    await Promise.all(all.map((c) => c.endAsync()))
  }
}
