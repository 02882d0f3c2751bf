// Shared subscriptions on RabbitMQ 3.x, whose MQTT plugin has no `$share`: RabbitMQ's own competing consumers.
// One durable queue per (group, filter), bound to `amq.topic` with the filter in routing-key form; every Herald
// node consumes it, RabbitMQ hands each message to one of them, and it is acknowledged after the handler ran.
// (chat21 §2.1 for the MQTT ↔ AMQP mapping, §3.2 for the original observer's shared queues.)
import { createHash } from 'node:crypto'
import amqp, { type Channel, type ChannelModel } from 'amqplib'
import type { BusHandler, QoS } from './types.ts'

export const MQTT_EXCHANGE = 'amq.topic'

/** MQTT filter → AMQP binding key (RabbitMQ's rabbit_mqtt_util: `/`→`.`, `+`→`*`; `#` stays). */
export function filterToBindingKey(filter: string): string {
  return filter.replace(/[/+]/g, (c) => (c === '/' ? '.' : '*'))
}

/** AMQP routing key → MQTT topic (`.`→`/`). */
export function routingKeyToMqttTopic(key: string): string {
  return key.replace(/\./g, '/')
}

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
  onError?: (err: unknown, topic: string) => void
}

export class AmqpShared {
  private constructor(private conn: ChannelModel, private channel: Channel, private o: AmqpSharedOptions) {}

  static async connect(o: AmqpSharedOptions): Promise<AmqpShared> {
    const conn = await amqp.connect(o.url)
    conn.on('error', () => {}) // surfaces as 'close'; consumers stop, the node's health shows it
    const channel = await conn.createChannel()
    await channel.prefetch(o.prefetch ?? 64)
    return new AmqpShared(conn, channel, o)
  }

  async subscribe(filter: string, handler: BusHandler): Promise<() => Promise<void>> {
    const queue = sharedQueueName(this.o.group, filter)
    await this.channel.assertQueue(queue, { durable: true, autoDelete: false, exclusive: false })
    await this.channel.bindQueue(queue, MQTT_EXCHANGE, filterToBindingKey(filter))
    const { consumerTag } = await this.channel.consume(queue, (m) => {
      if (!m) return
      const topic = routingKeyToMqttTopic(m.fields.routingKey)
      const msg = { topic, payload: m.content, qos: 1 as QoS, retain: false }
      Promise.resolve()
        .then(() => handler(msg))
        .catch((err) => this.o.onError?.(err, topic))
        .finally(() => { try { this.channel.ack(m) } catch { /* channel closed: RabbitMQ redelivers */ } })
    }, { noAck: false })
    return async () => { await this.channel.cancel(consumerTag).catch(() => {}) }
  }

  async close(): Promise<void> {
    await this.channel.close().catch(() => {})
    await this.conn.close().catch(() => {})
  }
}
