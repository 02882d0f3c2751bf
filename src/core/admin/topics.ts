// The retained messages Herald has seen published while running (a `#` subscription on the bus), and DELETE: an
// empty retained PUBLISH, which is how MQTT clears a retained message (MQTT 3.1.1 §3.3.1.3) on either broker.
import type { Bus } from '../bus/types.ts'

export interface RetainedInfo { bytes: number; qos: number; at: string }

export class RetainedIndex {
  private retained = new Map<string, RetainedInfo>()
  private unsubscribe: (() => Promise<void>) | undefined

  async start(bus: Bus): Promise<void> {
    this.unsubscribe = await bus.subscribe('#', (m) => {
      if (!m.retain) return
      if (m.payload.length === 0) this.retained.delete(m.topic)
      else this.retained.set(m.topic, { bytes: m.payload.length, qos: m.qos, at: new Date().toISOString() })
    })
  }

  get(topic: string): RetainedInfo | undefined { return this.retained.get(topic) }

  topics(): string[] { return [...this.retained.keys()] }

  /** true when Herald knew a retained message on the topic */
  async clear(bus: Bus, topic: string): Promise<boolean> {
    const known = this.retained.has(topic)
    await bus.publish(topic, Buffer.alloc(0), { qos: 0, retain: true })
    this.retained.delete(topic)
    return known
  }

  async stop(): Promise<void> {
    await this.unsubscribe?.().catch(() => {})
  }
}
