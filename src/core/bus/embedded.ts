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
    const deliver = (packet: AedesPublishPacket, done: () => void) => {
      const msg: BusMessage = {
        topic: packet.topic,
        payload: Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload),
        qos: Math.min(packet.qos, maxQos) as QoS,
        retain: packet.retain,
      }
      let result: void | Promise<void>
      try {
        result = handler(msg)
      } catch (err) {
        this.onError(err, msg.topic)
        return done()
      }
      if (result && typeof result.then === 'function') {
        result.then(done, (err) => { this.onError(err, msg.topic); done() })
      } else done()
    }
    return new Promise((resolve) => {
      this.broker.subscribe(filter, deliver, () => resolve(() => new Promise<void>((r) => this.broker.unsubscribe(filter, deliver, () => r()))))
    })
  }

  async close(): Promise<void> {}
}
