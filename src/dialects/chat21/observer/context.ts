// What every flow needs: the app's topics, the store, the bus, webhooks, metrics; and deliver() (§5.1 step 4):
// commit every inbox copy (messages, conversations, webhooks) in one transaction, then publish the copies.
import type { Logger } from 'pino'
import type { Bus } from '../../../core/bus/types.ts'
import type { JsonLimits } from '../json.ts'
import type { Chat21Metrics } from '../metrics.ts'
import type { Chat21Store, Copy, Doc, WebhookJob } from '../store.ts'
import { rk, Topics } from '../topics.ts'
import type { Webhooks } from '../webhooks.ts'
import type { Chat21Push } from '../push.ts'
import { Turns } from './serial.ts'

export interface FlowOptions {
  presence: boolean
  historyLimit: number
  /** bounds of the JSON clients send, over MQTT and REST */
  json: JsonLimits
}

export class Flow {
  readonly topics: Topics
  /** per sender: outgoing messages reach the store in arrival order, whatever their group lookups take */
  readonly senders = new Turns()
  /** offline push (issue 14 item 5), when Herald has a push service */
  push?: Chat21Push
  constructor(
    readonly app: string,
    readonly store: Chat21Store,
    readonly bus: () => Bus,
    readonly webhooks: Webhooks,
    readonly log: Logger,
    readonly opts: FlowOptions,
    readonly metrics: Chat21Metrics,
  ) {
    this.topics = new Topics(app)
  }

  /** message-sent for status 100 copies, message-delivered for status 150 ones (§8.2). */
  private messageHooks(c: Copy): WebhookJob[] {
    const event = c.msg.status === 100 ? 'message-sent' : c.msg.status === 150 ? 'message-delivered' : undefined
    if (!event) return []
    return this.webhooks.jobs(event, {
      recipient_id: c.msg.recipient, app_id: this.app, message_id: c.msg.message_id, data: c.msg,
      extras: { topic: rk(this.topics.messageAdded(c.inbox, c.cw)) }, delivered_to: c.inbox,
    })
  }

  /**
   * Store every copy, then publish each to its inbox `clientadded` topic. The publishes are issued in order at
   * once and not awaited: the next message of the same sender need not wait for sockets, only for its commit.
   */
  async deliver(copies: Copy[]): Promise<void> {
    if (copies.length === 0) return
    await this.store.saveCopies(this.app, copies, copies.flatMap((c) => this.messageHooks(c)))
    for (const c of copies) {
      this.publish(this.topics.messageAdded(c.inbox, c.cw), c.msg)
        .catch((err) => this.log.warn({ err, inbox: c.inbox }, 'chat21 copy stored but not published'))
    }
    this.webhooks.kick()
    if (this.push) this.push.offline(copies).catch((err) => this.log.warn({ err }, 'chat21 offline push not queued'))
  }

  async publish(topic: string, body: Doc): Promise<void> {
    // AMQP routing keys longer than 255 bytes cannot exist (§2.1, §7)
    if (Buffer.byteLength(topic) > 255) { this.log.warn({ topic }, 'chat21 topic too long, not published'); return }
    await this.bus().publish(topic, JSON.stringify(body), { qos: 1 })
  }
}
