// Embedded bus: publishes and subscribes inside the embedded broker (transport/types.ts), with no socket in between.
import type { BrokerMessage, EmbeddedBroker } from '../../transport/types.ts'
import { topicMatches } from '../access/topics.ts'
import type { Bus, BusHandler, BusMessage, PublishOptions, QoS, SubscribeOptions } from './types.ts'

/** A `beforeAck` subscription: the broker hands it every client PUBLISH before acknowledging it, Herald's own here. */
interface EarlySub {
  filter: string
  handler: BusHandler
  maxQos: QoS
}

function message(m: BrokerMessage, maxQos: QoS): BusMessage {
  return { topic: m.topic, payload: m.payload, qos: Math.min(m.qos, maxQos) as QoS, retain: m.retain }
}

export class EmbeddedBus implements Bus {
  readonly kind = 'embedded' as const
  private early: EarlySub[] = []
  constructor(private broker: EmbeddedBroker, private onError: (err: unknown, topic: string) => void = () => {}) {
    broker.setBeforeAck((m) => this.beforeAck(m))
  }

  /**
   * A client's PUBLISH (or will), before it is acknowledged: runs the handlers of the `beforeAck` subscriptions it
   * matches, and settles (never rejects) once they have; undefined when none does. Each message reaches them once,
   * by this path or by publish() below, and never through the broker's subscriptions: nothing to deduplicate.
   */
  private beforeAck(m: BrokerMessage): Promise<void> | undefined {
    if (this.early.length === 0) return undefined
    const subs = this.early.filter((s) => topicMatches(s.filter, m.topic))
    if (subs.length === 0) return undefined
    return Promise.all(subs.map((s) => this.run(s.handler, message(m, s.maxQos)))).then(() => {})
  }

  private async run(handler: BusHandler, msg: BusMessage): Promise<void> {
    try {
      await handler(msg)
    } catch (err) {
      this.onError(err, msg.topic)
    }
  }

  publish(topic: string, payload: Buffer | string, opts: PublishOptions = {}): Promise<void> {
    const m: BrokerMessage = {
      topic, payload: typeof payload === 'string' ? Buffer.from(payload) : payload, qos: opts.qos ?? 0, retain: opts.retain ?? false,
    }
    // Herald's own publishes reach the beforeAck handlers here, not awaited: a handler may publish to its own filter
    if (this.early.length > 0) void this.beforeAck(m)
    return this.broker.publish(m)
  }

  subscribe(filter: string, handler: BusHandler, opts: SubscribeOptions = {}): Promise<() => Promise<void>> {
    // as over a socket, a message arrives at min(publish QoS, subscription QoS) (MQTT 3.1.1 §3.8.4)
    const maxQos = opts.qos ?? 1
    if (opts.beforeAck) {
      const sub: EarlySub = { filter, handler, maxQos }
      this.early.push(sub)
      return Promise.resolve(async () => { this.early = this.early.filter((s) => s !== sub) })
    }
    // Handlers run one at a time, in order, from this subscription's own queue; the broker is never kept waiting
    // (a handler that publishes and awaits it while the broker waits for it would deadlock under a burst).
    let queue: BusMessage[] = []
    let head = 0
    let running = false
    let active = true
    const run = async () => {
      while (active && head < queue.length) {
        const msg = queue[head++]
        if (head >= 1024 && head * 2 >= queue.length) { queue = queue.slice(head); head = 0 }
        await this.run(handler, msg)
      }
      queue = []
      head = 0
      running = false
    }
    const deliver = (m: BrokerMessage) => {
      queue.push(message(m, maxQos))
      if (!running) {
        running = true
        void run()
      }
    }
    return this.broker.subscribe(filter, deliver).then((unsubscribe) => async () => {
      active = false
      queue = []
      head = 0
      await unsubscribe()
    })
  }

  async close(): Promise<void> {}
}
