// Embedded bus: publishes and subscribes inside the embedded broker (transport/types.ts), with no socket in between.
import type { BrokerMessage, EmbeddedBroker } from '../../transport/types.ts'
import { topicMatches } from '../access/topics.ts'
import type { Bus, BusHandler, BusMessage, PublishOptions, QoS, SubscribeOptions } from './types.ts'

/** A `beforeAck` subscription: the broker hands it a client's QoS 1/2 PUBLISH before acknowledging it. */
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
   * A client's QoS 1/2 PUBLISH (or will), before it is acknowledged: runs the handlers of the `beforeAck`
   * subscriptions it matches, and settles (never rejects) once they have; undefined when none does. The broker marks
   * such messages `beforeAckDone` when it hands them to subscriptions, so each reaches a handler once.
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
    return this.broker.publish(m)
  }

  subscribe(filter: string, handler: BusHandler, opts: SubscribeOptions = {}): Promise<() => Promise<void>> {
    // as over a socket, a message arrives at min(publish QoS, subscription QoS) (MQTT 3.1.1 §3.8.4)
    const maxQos = opts.qos ?? 1
    if (opts.beforeAck) {
      // what the broker did not hand to beforeAck (QoS 0, Herald's own publishes) is handled as it comes, not awaited
      const sub: EarlySub = { filter, handler, maxQos }
      return this.broker.subscribe(filter, (m) => { if (!m.beforeAckDone) void this.run(handler, message(m, maxQos)) }).then((unsubscribe) => {
        this.early.push(sub)
        return async () => {
          this.early = this.early.filter((s) => s !== sub)
          await unsubscribe()
        }
      })
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
