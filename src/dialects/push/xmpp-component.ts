// Component mode (uwpx-push §12.1 item 7b, §11): Herald is an XEP-0114 component (push.example.org, returned as
// push_bare_jid) and the XEP-0357 app server itself. The user's server publishes to it; each publish IQ is answered
// exactly once, after the push is queued: a result, or forbidden (the publish-options secret is not the node's: the
// original never checked it), item-not-found (no such node), a `wait` error when Herald could not take it now
// (the user's server counts only non-`wait` errors against the registration).
import { component, xml, type Component, type IqContext } from '@xmpp/component'
import type { Element } from '@xmpp/xml'
import type { Logger } from 'pino'
import type { PushNodes } from './nodes.ts'
import type { DeliveryOutcome, PushDelivery } from './xmpp-deliver.ts'
import { LinkedMode, within, type XmppSession } from './xmpp-link.ts'
import { NS_DATA, NS_PUSH, notificationOf, parseNotification } from './xmpp-summary.ts'

const NS_PUBSUB = 'http://jabber.org/protocol/pubsub'
const NS_PUBSUB_ERRORS = 'http://jabber.org/protocol/pubsub#errors'
const NS_STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas'
const NS_DISCO_INFO = 'http://jabber.org/protocol/disco#info'
const PUBLISH_OPTIONS = 'http://jabber.org/protocol/pubsub#publish-options'

/** an `<error/>` for xmpp.js's IQ callee to answer with (it builds the error IQ around it) */
export function stanzaError(type: 'auth' | 'cancel' | 'modify' | 'wait', condition: string, pubsubCondition?: string): Element {
  return xml('error', { type }, xml(condition, { xmlns: NS_STANZAS }), pubsubCondition ? xml(pubsubCondition, { xmlns: NS_PUBSUB_ERRORS }) : undefined)
}

/** What a publish IQ's `<pubsub/>` asks for (§11): the node, the notification, the publish-options secret */
export type PublishRequest = { ok: true; node: string; notification: Element; itemId?: string; secret: string | null } | { ok: false; error: Element }

export function parsePublish(pubsub: Element): PublishRequest {
  const publish = pubsub.getChild('publish', NS_PUBSUB)
  if (!publish) return { ok: false, error: stanzaError('cancel', 'feature-not-implemented') }
  const node = publish.attrs.node
  if (!node) return { ok: false, error: stanzaError('modify', 'bad-request', 'nodeid-required') }
  const item = publish.getChild('item', NS_PUBSUB)
  const notification = notificationOf(item)
  if (!notification) return { ok: false, error: stanzaError('modify', 'bad-request', 'invalid-payload') }
  return { ok: true, node, notification, itemId: item?.attrs.id, secret: secretOf(pubsub) }
}

/** the `secret` field of the publish-options form (FORM_TYPE …#publish-options), if there is one */
function secretOf(pubsub: Element): string | null {
  for (const x of pubsub.getChild('publish-options', NS_PUBSUB)?.getChildren('x', NS_DATA) ?? []) {
    const fields = x.getChildren('field')
    const formType = fields.find((f) => f.attrs.var === 'FORM_TYPE')?.getChildText('value')
    if (formType !== undefined && formType !== null && formType !== PUBLISH_OPTIONS) continue
    const secret = fields.find((f) => f.attrs.var === 'secret')
    if (secret) return secret.getChildText('value') ?? ''
  }
  return null
}

/** the one answer to a publish, by what became of it */
export function answerOf(outcome: DeliveryOutcome, node: string, itemId: string | undefined): Element {
  switch (outcome) {
    case 'queued': return xml('pubsub', { xmlns: NS_PUBSUB }, xml('publish', { node }, itemId ? xml('item', { id: itemId }) : undefined))
    case 'forbidden': return stanzaError('auth', 'forbidden')
    case 'unknown-node': return stanzaError('cancel', 'item-not-found')
    case 'transient': return stanzaError('wait', 'resource-constraint')
    case 'undeliverable': return stanzaError('modify', 'not-acceptable', 'payload-too-big')
  }
}

export interface ComponentModeOptions {
  /** the component's JID, push.example.org */
  domain: string
  secret: string
  /** xmpp://host:5347 */
  service: string
  timeoutMs: number
  readyWaitMs: number
  reconnectMs: number
  reconnectMaxMs: number
  delivery: PushDelivery
  log: Logger
}

export class XmppComponentMode extends LinkedMode implements PushNodes {
  readonly bareJid: string

  constructor(private readonly o: ComponentModeOptions) {
    super({ reconnectMs: o.reconnectMs, reconnectMaxMs: o.reconnectMaxMs, log: o.log, what: `XMPP component ${o.domain.toLowerCase()}` })
    this.bareJid = o.domain.toLowerCase()
  }

  /** nothing to make on the XMPP side: a node exists once stored; ready when the component is connected */
  async create(nodes: string[]): Promise<boolean[]> {
    if (nodes.length === 0) return []
    const up = await this.link.whenUp(this.o.readyWaitMs)
    return nodes.map(() => up)
  }

  /** a removed node is gone from the store: its next publish is answered item-not-found */
  async remove(): Promise<void> {}

  /** xmpp.js's callee answers with what this returns, once: never send a reply from here */
  async onPubsub(ctx: IqContext): Promise<Element> {
    const r = parsePublish(ctx.element)
    if (!r.ok) { this.o.delivery.ignored(); return r.error }
    const outcome = await this.o.delivery.deliver(r.node, parseNotification(r.notification), r.secret)
    if (outcome !== 'queued') this.o.log.info({ node: r.node, from: ctx.stanza.attrs.from, outcome }, 'push: a publish was refused')
    return answerOf(outcome, r.node, r.itemId)
  }

  /** XEP-0357 §3: a pubsub service of type push */
  discoInfo(): Element {
    return xml('query', { xmlns: NS_DISCO_INFO },
      xml('identity', { category: 'pubsub', type: 'push', name: 'Herald push' }),
      xml('feature', { var: NS_DISCO_INFO }),
      xml('feature', { var: NS_PUSH }),
      xml('feature', { var: PUBLISH_OPTIONS }))
  }

  protected async open(signal: AbortSignal): Promise<XmppSession> {
    const c: Component = component({ service: this.o.service, domain: this.bareJid, password: this.o.secret })
    c.reconnect.stop()
    let failure: ((err: Error) => void) | undefined
    const failed = new Promise<never>((_r, reject) => { failure = reject })
    failed.catch(() => {})
    c.on('error', (err: Error) => { this.o.log.debug({ err }, 'push: XMPP component error'); failure?.(err) })
    c.iqCallee.set(NS_PUBSUB, 'pubsub', (ctx) => this.onPubsub(ctx).catch((err: unknown) => {
      this.o.log.error({ err }, 'push: handling a publish failed')
      return stanzaError('wait', 'internal-server-error')
    }))
    c.iqCallee.get(NS_DISCO_INFO, 'query', () => this.discoInfo())
    const closed = new Promise<void>((resolve) => c.on('status', (s: string) => { if (s === 'disconnect' || s === 'offline') resolve() }))
    const destroy = () => { void c.disconnect().catch(() => {}) }
    const onAbort = () => { destroy(); failure?.(new Error('stopped')) }
    signal.addEventListener('abort', onAbort, { once: true })
    try {
      await within(Promise.race([c.start(), failed]), this.o.timeoutMs, 'XMPP component handshake', destroy)
    } catch (err) {
      destroy()
      throw err
    } finally {
      signal.removeEventListener('abort', onAbort)
    }
    return {
      closed,
      close: async () => { await within(c.stop(), this.o.timeoutMs, 'XMPP component close', destroy).catch(() => destroy()) },
    }
  }
}
