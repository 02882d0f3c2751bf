// heartsms §5: the `{operation, content}` stream on `heartsms/<account_id>`, QoS 2, not retained.
// Publishes go to the bus in call order (the bus keeps that order per topic, flow-controlled on an external broker).
import type { Logger } from 'pino'
import type { Bus } from '../../core/bus/types.ts'

export type Content = Record<string, unknown>

export class Stream {
  private bus: Bus | undefined
  /** publishes made before the bus is connected (HTTP listens first, as in the original) */
  private early: [string, string][] = []

  /** told of every publish (the offline push, push.ts) */
  onPublish?: (accountId: string, operation: string, content: Content) => void

  constructor(private log: Logger) {}

  attach(bus: Bus): void {
    this.bus = bus
    const early = this.early
    this.early = []
    for (const [topic, payload] of early) this.send(topic, payload)
  }

  detach(): void {
    this.bus = undefined
  }

  publish(accountId: string, operation: string, content: Content): void {
    const topic = `heartsms/${accountId}`
    const payload = JSON.stringify({ operation, content })
    this.onPublish?.(accountId, operation, content)
    if (!this.bus) { this.early.push([topic, payload]); return }
    this.send(topic, payload)
  }

  private send(topic: string, payload: string): void {
    this.bus!.publish(topic, payload, { qos: 2, retain: false }).catch((err) => this.log.error({ err, topic }, 'stream publish failed'))
  }
}
