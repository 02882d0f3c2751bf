// From a publish on a node to one WNS push (uwpx-push §5.2 "incoming notification", §4.2, §7 step 5): the node's
// device and account from the store, the body for the device's version, queued on Herald's push service. Both
// XMPP modes end here; component mode also checks the publish-options secret (§12.1 item 7b).
import { timingSafeEqual } from 'node:crypto'
import type { Logger } from 'pino'
import { Counter, type Registry } from 'prom-client'
import type { Clock } from '../../core/clock.ts'
import type { PushService } from '../../core/push/service.ts'
import { wnsBody } from '../../core/push/wns-body.ts'
import type { PushStore } from './store.ts'
import type { PushSummary } from './xmpp-summary.ts'

/**
 * - `queued`: on the push service's durable queue
 * - `unknown-node`: no live registration has this node
 * - `forbidden`: the publish-options secret is not the node's
 * - `transient`: the store or the push queue failed; the publisher may try again
 * - `undeliverable`: no WNS body can be made of it (over the raw size limit); trying again changes nothing
 */
export type DeliveryOutcome = 'queued' | 'unknown-node' | 'forbidden' | 'transient' | 'undeliverable'

export interface DeliveryOptions {
  store: PushStore
  push: PushService
  clock: Clock
  log: Logger
  registry: Registry
  /** `client` or `component`, for the metric */
  mode: string
}

export class PushDelivery {
  private readonly outcomes: Counter<'mode' | 'outcome'>

  constructor(private readonly o: DeliveryOptions) {
    const name = 'push_xmpp_publishes_total'
    this.outcomes = (o.registry.getSingleMetric(name) as Counter<'mode' | 'outcome'> | undefined)
      ?? new Counter({ name, help: 'XEP-0357 publishes that reached Herald, by XMPP mode and outcome (queued, unknown-node, forbidden, transient, undeliverable, ignored)', labelNames: ['mode', 'outcome'], registers: [o.registry] })
  }

  /** a publish not acted on by design (the push account's own node-creating item, a malformed event) */
  ignored(): void { this.outcomes.inc({ mode: this.o.mode, outcome: 'ignored' }) }

  /**
   * One push for a publish on `node`. `secret`: the publish-options secret to check (component mode); undefined
   * skips the check (client mode, where the user's server publishes into Herald's PEP node and no secret reaches us).
   */
  async deliver(node: string, summary: PushSummary, secret?: string | null): Promise<DeliveryOutcome> {
    const outcome = await this.attempt(node, summary, secret)
    this.outcomes.inc({ mode: this.o.mode, outcome })
    return outcome
  }

  private async attempt(node: string, summary: PushSummary, secret: string | null | undefined): Promise<DeliveryOutcome> {
    const { log } = this.o
    let target
    try {
      target = await this.o.store.byNode(node, this.o.clock.now())
    } catch (err) {
      log.error({ err }, 'push: reading the node of a publish failed')
      return 'transient'
    }
    if (!target) return 'unknown-node'
    if (secret !== undefined && !sameSecret(secret ?? '', target.secret)) return 'forbidden'
    let payload: string
    try {
      payload = wnsBody(target.version ?? '', {
        type: 'push', accountId: target.account_id,
        messageCount: summary.messageCount, pendingSubscriptionCount: summary.pendingSubscriptionCount,
        notificationXml: summary.notificationXml,
      }).toString('utf8')
    } catch (err) {
      // over the WNS size limit even after the v1 fallback: nothing a retry changes
      log.warn({ err, device: target.device_id }, 'push: the notification cannot be sent to WNS')
      return 'undeliverable'
    }
    try {
      await this.o.push.send({ provider: 'wns', channelUri: target.channel_uri }, { payload, wnsType: 'wns/raw' }, { dialect: 'push' })
    } catch (err) {
      log.error({ err, device: target.device_id }, 'push: the push service refused a push')
      return 'transient'
    }
    return 'queued'
  }
}

/** constant time in the secret's content (the stored one is always 15 characters) */
function sameSecret(given: string, stored: string): boolean {
  const a = Buffer.from(given)
  const b = Buffer.from(stored)
  return a.length === b.length && timingSafeEqual(a, b)
}
