// External bus: an mqtt.js client to an existing broker (Mosquitto, RabbitMQ, EMQX).
// Shared subscriptions split work between Herald nodes; QoS 1/2 publishes are flow-controlled so that a
// broker's inflight limit (Mosquitto's max_inflight_messages 20) never drops them.
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt'
import { topicMatches } from '../access/topics.ts'
import { AmqpShared } from './amqp-shared.ts'
import type { Bus, BusHandler, PublishOptions, QoS, SubscribeOptions } from './types.ts'

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

interface Sub { filter: string; handler: BusHandler }

export class ExternalBus implements Bus {
  readonly kind = 'external' as const
  private client!: MqttClient
  private pub!: MqttClient
  private subs: Sub[] = []
  private inflight = 0
  private waiting: (() => void)[] = []
  private amqp?: AmqpShared

  private constructor(private o: ExternalBusOptions) {}

  static async connect(o: ExternalBusOptions): Promise<ExternalBus> {
    const bus = new ExternalBus(o)
    const clientId = o.clientId ?? `herald-${process.pid}-${Math.random().toString(16).slice(2, 10)}`
    const options = (id: string): IClientOptions => ({
      clientId: id, username: o.username, password: o.password,
      clean: true, reconnectPeriod: 1000, connectTimeout: 10_000, ...o.mqtt,
    })
    // Publishing has its own connection: mqtt.js holds every incoming packet (PUBACK/PUBCOMP included) until
    // handleMessage's callback runs, so a handler awaiting its own QoS 1/2 publish on one connection would deadlock.
    bus.client = await mqtt.connectAsync(o.url, options(clientId))
    bus.pub = await mqtt.connectAsync(o.url, options(`${clientId}-pub`)).catch(async (err) => {
      await bus.client.endAsync(true)
      throw err
    })
    bus.pub.on('error', () => {})
    bus.client.on('error', () => {}) // reconnects on its own; errors surface on publish
    // mqtt.js waits for this callback before acknowledging the message and taking the next one
    bus.client.handleMessage = (packet, done) => {
      const topic = packet.topic
      const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload)
      const msg = { topic, payload, qos: packet.qos as QoS, retain: packet.retain }
      const runs = bus.subs.filter((s) => topicMatches(s.filter, topic)).map(async (s) => {
        try { await s.handler(msg) } catch (err) { bus.o.onError?.(err, topic) }
      })
      Promise.all(runs).then(() => done(), () => done())
    }
    if (o.amqpUrl) bus.amqp = await AmqpShared.connect({ url: o.amqpUrl, group: o.sharedGroup ?? 'herald', onError: o.onError })
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

  async subscribe(filter: string, handler: BusHandler, opts: SubscribeOptions = {}): Promise<() => Promise<void>> {
    if (opts.shared && this.amqp) return this.amqp.subscribe(filter, handler)
    const sub = { filter, handler }
    this.subs.push(sub)
    const wire = opts.shared && this.o.sharedSubscriptions !== false ? `$share/${this.o.sharedGroup ?? 'herald'}/${filter}` : filter
    // mqtt.js rejects a SUBACK with 0x80 itself; either way the handler must not stay registered
    const granted = await this.client.subscribeAsync(wire, { qos: opts.qos ?? 1 }).catch(() => [{ qos: 128 }])
    if (granted.some((g) => g.qos === 128)) {
      this.subs = this.subs.filter((s) => s !== sub)
      throw new Error(`broker refused subscription to ${wire}`)
    }
    return async () => {
      this.subs = this.subs.filter((s) => s !== sub)
      if (!this.subs.some((s) => s.filter === filter)) await this.client.unsubscribeAsync(wire)
    }
  }

  async close(): Promise<void> {
    await this.amqp?.close()
    await Promise.all([this.client.endAsync(), this.pub.endAsync()])
  }
}
