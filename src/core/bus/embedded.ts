// Embedded bus: publishes and subscribes inside the Aedes instance, with no socket in between.
import type { Aedes, AedesPublishPacket } from 'aedes'
import type { Bus, BusHandler, BusMessage, PublishOptions, QoS, SubscribeOptions } from './types.ts'

export class EmbeddedBus implements Bus {
  readonly kind = 'embedded' as const
  constructor(private broker: Aedes, private onError: (err: unknown, topic: string) => void = () => {}) {}

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
        try {
          await handler(msg)
        } catch (err) {
          this.onError(err, msg.topic)
        }
      }
      queue = []
      head = 0
      running = false
    }
    const deliver = (packet: AedesPublishPacket, done: () => void) => {
      queue.push({
        topic: packet.topic,
        payload: Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload),
        qos: Math.min(packet.qos, maxQos) as QoS,
        retain: packet.retain,
      })
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
