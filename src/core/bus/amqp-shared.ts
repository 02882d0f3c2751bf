// Shared subscriptions on RabbitMQ 3.x, whose MQTT plugin has no `$share`: RabbitMQ's own competing consumers.
// One durable queue per (group, filter), bound to `amq.topic` with the filter in routing-key form; every Herald
// node consumes it, RabbitMQ hands each message to one of them, and it is acknowledged after the handler ran.
// (chat21 §2.1 for the MQTT ↔ AMQP mapping, §3.2 for the original observer's shared queues.)
import { createHash } from 'node:crypto'
import type { Channel, ChannelModel } from 'amqplib'
import { filterToBindingKey, routingKeyToTopic } from '../util/routing-keys.ts'
import type { BusHandler, QoS } from './types.ts'

export const MQTT_EXCHANGE = 'amq.topic'

/** The queue every node of `group` consumes for `filter`. */
export function sharedQueueName(group: string, filter: string): string {
  const key = filterToBindingKey(filter)
  const name = `herald.${group}.${key}`
  return name.length <= 200 ? name : `herald.${group}.${createHash('sha256').update(key).digest('hex').slice(0, 32)}`
}

export interface AmqpSharedOptions {
  url: string
  group: string
  /** unacknowledged messages per node and queue */
  prefetch?: number
  /** shown by `rabbitmqctl list_connections user_provided_name` */
  connectionName?: string
  onError?: (err: unknown, topic: string) => void
}

interface SharedSub { filter: string; handler: BusHandler; consumerTag?: string }

export class AmqpShared {
  private conn?: ChannelModel
  private channel?: Channel
  private subs = new Set<SharedSub>()
  private closing = false

  private constructor(private o: AmqpSharedOptions) {}

  static async connect(o: AmqpSharedOptions): Promise<AmqpShared> {
    const shared = new AmqpShared(o)
    await shared.open()
    return shared
  }

  /** (Re)open the connection and consume every subscription's queue again; RabbitMQ redelivers what was unacked. */
  private async open(): Promise<void> {
    const amqp = (await import('amqplib')).default
    const conn = await amqp.connect(this.o.url, { clientProperties: { connection_name: this.o.connectionName ?? `herald-${this.o.group}-${process.pid}` } })
    conn.on('error', () => {}) // followed by 'close', which reconnects
    conn.on('close', () => { if (!this.closing) this.reconnect() })
    const channel = await conn.createChannel()
    channel.on('error', () => {})
    await channel.prefetch(this.o.prefetch ?? 64)
    this.conn = conn
    this.channel = channel
    for (const sub of this.subs) await this.consume(sub)
  }

  private reconnect(attempt = 0): void {
    this.channel = undefined
    const delay = Math.min(30_000, 500 * 2 ** attempt)
    setTimeout(() => {
      if (this.closing) return
      this.open().catch((err) => {
        this.o.onError?.(err, '(amqp reconnect)')
        this.reconnect(attempt + 1)
      })
    }, delay).unref()
  }

  private async consume(sub: SharedSub): Promise<void> {
    const channel = this.channel
    if (!channel) return // consumed again once reconnected
    const queue = sharedQueueName(this.o.group, sub.filter)
    await channel.assertQueue(queue, { durable: true, autoDelete: false, exclusive: false })
    await channel.bindQueue(queue, MQTT_EXCHANGE, filterToBindingKey(sub.filter))
    const { consumerTag } = await channel.consume(queue, (m) => {
      if (!m) return
      const topic = routingKeyToTopic(m.fields.routingKey)
      const msg = { topic, payload: m.content, qos: 1 as QoS, retain: false }
      Promise.resolve()
        .then(() => sub.handler(msg))
        .catch((err) => this.o.onError?.(err, topic))
        .finally(() => { try { channel.ack(m) } catch { /* channel closed: RabbitMQ redelivers */ } })
    }, { noAck: false })
    sub.consumerTag = consumerTag
  }

  async subscribe(filter: string, handler: BusHandler): Promise<() => Promise<void>> {
    const sub: SharedSub = { filter, handler }
    this.subs.add(sub)
    await this.consume(sub)
    return async () => {
      this.subs.delete(sub)
      if (sub.consumerTag) await this.channel?.cancel(sub.consumerTag).catch(() => {})
    }
  }

  async close(): Promise<void> {
    this.closing = true
    await this.channel?.close().catch(() => {})
    await this.conn?.close().catch(() => {})
  }
}
