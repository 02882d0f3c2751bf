// Embedded bus: publishes and subscribes inside the Aedes instance, with no socket in between.
import type { Aedes, AedesPublishPacket } from 'aedes'
import { topicMatches } from '../access/topics.ts'
import type { Bus, BusHandler, BusMessage, PublishOptions, QoS, SubscribeOptions } from './types.ts'

/** A `beforeAck` subscription, and the client PUBLISHes it already handled before their acknowledgement. */
interface EarlySub {
  filter: string
  handler: BusHandler
  maxQos: QoS
  /** payload buffers of handled PUBLISHes: the broker hands the same buffer on when it publishes the packet */
  handled: WeakSet<Buffer>
}

type Packet = Pick<AedesPublishPacket, 'topic' | 'payload' | 'qos' | 'retain'>

function message(packet: Packet, maxQos: QoS): BusMessage {
  return {
    topic: packet.topic,
    payload: Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload),
    qos: Math.min(packet.qos, maxQos) as QoS,
    retain: packet.retain,
  }
}

export class EmbeddedBus implements Bus {
  readonly kind = 'embedded' as const
  private early: EarlySub[] = []
  constructor(private broker: Aedes, private onError: (err: unknown, topic: string) => void = () => {}) {}

  /**
   * The broker's hook for a client's PUBLISH before it is acknowledged (transport/broker.ts): runs the handlers of
   * the `beforeAck` subscriptions it matches, and settles (never rejects) once they have; undefined when none does.
   */
  beforeAck(packet: Packet): Promise<void> | undefined {
    if (this.early.length === 0) return undefined
    const subs = this.early.filter((s) => topicMatches(s.filter, packet.topic))
    if (subs.length === 0) return undefined
    if (Buffer.isBuffer(packet.payload)) for (const s of subs) s.handled.add(packet.payload)
    return Promise.all(subs.map((s) => this.run(s.handler, message(packet, s.maxQos)))).then(() => {})
  }

  private async run(handler: BusHandler, msg: BusMessage): Promise<void> {
    try {
      await handler(msg)
    } catch (err) {
      this.onError(err, msg.topic)
    }
  }

  /**
   * A `beforeAck` subscription: client PUBLISHes reach it through beforeAck(); what reaches the broker otherwise
   * (Herald's own publishes, wills published for a vanished node) is handled here, as it comes, once.
   */
  private subscribeEarly(filter: string, handler: BusHandler, maxQos: QoS): Promise<() => Promise<void>> {
    const sub: EarlySub = { filter, handler, maxQos, handled: new WeakSet() }
    const deliver = (packet: AedesPublishPacket, done: () => void) => {
      const payload = packet.payload
      if (Buffer.isBuffer(payload) && sub.handled.has(payload)) sub.handled.delete(payload)
      else void this.run(handler, message(packet, maxQos))
      done()
    }
    const unsubscribe = () => new Promise<void>((r) => {
      this.early = this.early.filter((s) => s !== sub)
      this.broker.unsubscribe(filter, deliver, () => r())
    })
    return new Promise((resolve) => {
      this.broker.subscribe(filter, deliver, () => {
        this.early.push(sub)
        resolve(unsubscribe)
      })
    })
  }

  publish(topic: string, payload: Buffer | string, opts: PublishOptions = {}): Promise<void> {
    return new Promise((resolve, reject) => {
      this.broker.publish({
        cmd: 'publish', topic, payload: typeof payload === 'string' ? Buffer.from(payload) : payload,
        qos: opts.qos ?? 0, retain: opts.retain ?? false, dup: false,
      }, (err) => (err ? reject(err) : resolve()))
    })
  }

  subscribe(filter: string, handler: BusHandler, opts: SubscribeOptions = {}): Promise<() => Promise<void>> {
    // as over a socket, a message arrives at min(publish QoS, subscription QoS) (MQTT 3.1.1 §3.8.4)
    const maxQos = opts.qos ?? 1
    if (opts.beforeAck) return this.subscribeEarly(filter, handler, maxQos)
    // Handlers run one at a time, in order, from this subscription's own queue. Aedes' emitter slot is released
    // at once: a handler that publishes (and awaits it) while holding a slot deadlocks once every slot is held.
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
    const deliver = (packet: AedesPublishPacket, done: () => void) => {
      queue.push(message(packet, maxQos))
      if (!running) {
        running = true
        void run()
      }
      done()
    }
    const unsubscribe = () => new Promise<void>((r) => {
      active = false
      queue = []
      head = 0
      this.broker.unsubscribe(filter, deliver, () => r())
    })
    return new Promise((resolve) => {
      this.broker.subscribe(filter, deliver, () => resolve(unsubscribe))
    })
  }

  async close(): Promise<void> {}
}
