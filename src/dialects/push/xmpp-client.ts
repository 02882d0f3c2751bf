// Client mode (uwpx-push §6.1, §12.1 item 7a): Herald logs in as the push account (push@example.org), keeps one PEP
// node per registered (device, account) on that account, subscribed to by itself, and turns the pubsub events the
// user's server's publishes cause into WNS pushes. Fixes of §12.2: IQ results correlated (success=false on an error),
// `delete` in the #owner namespace, the STARTTLS certificate verified, `from` checked without crashing.
import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import type net from 'node:net'
import tls from 'node:tls'
import { client, xml, type Client, type Element } from '@xmpp/client'
import TlsSocket from '@xmpp/tls/lib/Socket.js'
import type { Logger } from 'pino'
import type { PushNodes } from './nodes.ts'
import type { PushDelivery } from './xmpp-deliver.ts'
import { LinkedMode, within, type XmppSession } from './xmpp-link.ts'
import { NS_DATA, notificationOf, parseNotification } from './xmpp-summary.ts'

export const NS_PUBSUB = 'http://jabber.org/protocol/pubsub'
export const NS_PUBSUB_OWNER = 'http://jabber.org/protocol/pubsub#owner'
export const NS_PUBSUB_EVENT = 'http://jabber.org/protocol/pubsub#event'
const NS_STREAMS = 'http://etherx.jabber.org/streams'
const NS_TLS = 'urn:ietf:params:xml:ns:xmpp-tls'

/** §6.1: the node configuration every push node is created with */
export const PUBLISH_OPTIONS: [string, string][] = [
  ['pubsub#access_model', 'open'],
  ['pubsub#publish_model', 'open'],
  ['pubsub#deliver_notifications', '1'],
  ['pubsub#deliver_payloads', '1'],
  ['pubsub#persist_items', '1'],
  ['pubsub#subscribe', '1'],
  ['pubsub#presence_based_delivery', '0'],
  ['pubsub#notification_type', 'normal'],
]

const field = (v: string, value: string, type?: string) => xml('field', { var: v, type }, xml('value', {}, value))

/** §6.1 node creation: a publish to the account's own PEP service (no `to`) with the publish-options form */
export function createNodeIq(node: string): Element {
  return xml('iq', { type: 'set' }, xml('pubsub', { xmlns: NS_PUBSUB },
    xml('publish', { node }, xml('item', {}, xml('notification', { xmlns: 'urn:xmpp:push:0' }))),
    xml('publish-options', {}, xml('x', { xmlns: NS_DATA, type: 'submit' },
      field('FORM_TYPE', 'http://jabber.org/protocol/pubsub#publish-options', 'hidden'),
      ...PUBLISH_OPTIONS.map(([k, v]) => field(k, v))))))
}

export function subscribeIq(node: string, jid: string): Element {
  return xml('iq', { type: 'set' }, xml('pubsub', { xmlns: NS_PUBSUB }, xml('subscribe', { node, jid })))
}

export function unsubscribeIq(node: string, jid: string): Element {
  return xml('iq', { type: 'set' }, xml('pubsub', { xmlns: NS_PUBSUB }, xml('unsubscribe', { node, jid })))
}

/** XEP-0060 §8.4: delete is an owner use case (the original sent it in the plain namespace) */
export function deleteNodeIq(node: string): Element {
  return xml('iq', { type: 'set' }, xml('pubsub', { xmlns: NS_PUBSUB_OWNER }, xml('delete', { node })))
}

export interface ClientModeOptions {
  /** the push account, `push@example.org` */
  jid: string
  password: string
  /** xmpp://host:port */
  service: string
  tlsInsecure: boolean
  /** PEM of CAs trusted beside Node's, for the server's certificate */
  ca?: string
  timeoutMs: number
  readyWaitMs: number
  reconnectMs: number
  reconnectMaxMs: number
  delivery: PushDelivery
  log: Logger
}

/** What each pubsub event item is (exported for the tests of the intake). */
export type EventVerdict = { kind: 'push'; node: string; notification: Element } | { kind: 'own' } | { kind: 'other' }

/**
 * §6.1 notification intake, fixed: only messages from the account's own bare JID (a missing `from` is dropped); one
 * verdict per `<item>` of `<event><items node>`. The item of Herald's own node-creating publish (`publisher` = the
 * account; an empty `<notification/>`) is never a push.
 */
export function eventItems(message: Element, bareJid: string): EventVerdict[] {
  const from = message.attrs.from
  if (!from || from.toLowerCase() !== bareJid) return []
  const out: EventVerdict[] = []
  for (const event of message.getChildren('event', NS_PUBSUB_EVENT)) {
    for (const items of event.getChildren('items')) {
      const node = items.attrs.node
      for (const item of items.getChildren('item')) {
        const notification = notificationOf(item)
        const publisher = item.attrs.publisher?.toLowerCase()
        if (!node || !notification) out.push({ kind: 'other' })
        else if (publisher === bareJid || (publisher === undefined && notification.getChildElements().length === 0)) out.push({ kind: 'own' })
        else out.push({ kind: 'push', node, notification })
      }
    }
  }
  return out
}

export class XmppClientMode extends LinkedMode implements PushNodes {
  readonly bareJid: string
  private current?: Client

  constructor(private readonly o: ClientModeOptions) {
    super({ reconnectMs: o.reconnectMs, reconnectMaxMs: o.reconnectMaxMs, log: o.log, what: `XMPP client ${o.jid.toLowerCase()}` })
    this.bareJid = o.jid.toLowerCase()
  }

  /** §6.1 create then subscribe, each result checked: a node is ready only when both succeeded */
  async create(nodes: string[]): Promise<boolean[]> {
    if (nodes.length === 0) return []
    if (!(await this.link.whenUp(this.o.readyWaitMs))) return nodes.map(() => false)
    return await Promise.all(nodes.map(async (node) => {
      try {
        await this.request(createNodeIq(node))
        await this.request(subscribeIq(node, this.bareJid))
        return true
      } catch (err) {
        this.o.log.warn({ err, node }, 'push: creating a PEP node failed')
        await this.request(deleteNodeIq(node)).catch(() => {})
        return false
      }
    }))
  }

  /** unsubscribe, then delete (#owner); a node already gone is fine */
  async remove(nodes: string[]): Promise<void> {
    if (nodes.length === 0) return
    if (!(await this.link.whenUp(this.o.readyWaitMs))) {
      // they stay on the server; a publish to one finds no registration and is not pushed
      this.o.log.warn({ nodes: nodes.length }, 'push: the XMPP session is down: PEP nodes of removed accounts are left on the server')
      return
    }
    await Promise.all(nodes.map(async (node) => {
      await this.request(unsubscribeIq(node, this.bareJid)).catch(() => {})
      await this.request(deleteNodeIq(node)).catch((err: unknown) => this.o.log.info({ err, node }, 'push: deleting a PEP node failed'))
    }))
  }

  private request(iq: Element): Promise<Element> {
    const c = this.current
    if (!c || !this.link.up) return Promise.reject(new Error('the XMPP session is not up'))
    return c.iqCaller.request(iq, this.o.timeoutMs)
  }

  private async onStanza(stanza: Element): Promise<void> {
    if (!stanza.is('message')) return
    for (const v of eventItems(stanza, this.bareJid)) {
      if (v.kind !== 'push') { this.o.delivery.ignored(); continue }
      const outcome = await this.o.delivery.deliver(v.node, parseNotification(v.notification))
      // a message cannot be refused: a publish lost here is only logged (component mode answers `wait` instead)
      if (outcome !== 'queued') this.o.log.warn({ node: v.node, outcome }, 'push: a PEP event was not delivered')
    }
  }

  /** one session: TCP, STARTTLS with a verified certificate, SASL, bind, initial presence */
  protected async open(signal: AbortSignal): Promise<XmppSession> {
    const s = await xmppLogin({
      jid: this.bareJid, password: this.o.password, service: this.o.service, tlsInsecure: this.o.tlsInsecure, ca: this.o.ca,
      timeoutMs: this.o.timeoutMs, log: this.o.log,
      onStanza: (st) => { void this.onStanza(st).catch((err: unknown) => this.o.log.error({ err }, 'push: handling a stanza failed')) },
    }, signal)
    this.current = s.client
    return s
  }
}

export interface LoginOptions {
  /** bare JID to log in as */
  jid: string
  password: string
  /** xmpp://host:port */
  service: string
  /** accept any certificate (development) */
  tlsInsecure?: boolean
  /** PEM of CAs trusted beside Node's */
  ca?: string
  timeoutMs: number
  log?: Logger
  /** every stanza of the session, from before the initial presence on */
  onStanza?: (stanza: Element) => void
}

/**
 * Log in with @xmpp/client: TCP, STARTTLS required with the certificate checked for the JID's domain against Node's
 * CAs (plus `ca`) unless `tlsInsecure`, SASL, resource binding, then the initial `<presence/>` (§6.1).
 */
export async function xmppLogin(o: LoginOptions, signal?: AbortSignal): Promise<XmppSession & { client: Client }> {
  const [local, domain] = o.jid.split('@') as [string, string]
  const c = client({ service: o.service, domain, username: local, password: o.password, timeout: o.timeoutMs })
  c.reconnect.stop()
  let failure: ((err: Error) => void) | undefined
  const failed = new Promise<never>((_r, reject) => { failure = reject })
  failed.catch(() => {})
  c.on('error', (err: Error) => { o.log?.debug({ err }, 'push: XMPP client error'); failure?.(err) })
  c.prependListener('element', (el: Element) => securing(c, el, domain, o, (err) => { c.emit('error', err) }))
  if (o.onStanza) c.on('stanza', o.onStanza)
  const closed = new Promise<void>((resolve) => c.on('status', (st: string) => { if (st === 'disconnect' || st === 'offline') resolve() }))
  const destroy = () => { (c.socket as unknown as net.Socket | null)?.destroy?.(); void c.stop().catch(() => {}) }
  const onAbort = () => { destroy(); failure?.(new Error('stopped')) }
  signal?.addEventListener('abort', onAbort, { once: true })
  try {
    await within(Promise.race([c.start(), failed]), o.timeoutMs, 'XMPP login', destroy)
    await c.send(xml('presence'))
  } catch (err) {
    destroy()
    throw err
  } finally {
    signal?.removeEventListener('abort', onAbort)
  }
  return {
    client: c,
    closed,
    close: async () => { await within(c.stop(), o.timeoutMs, 'XMPP logout', destroy).catch(() => destroy()) },
  }
}

/**
 * Runs before xmpp.js's own stream-feature handlers: STARTTLS is required, and done here so that the certificate
 * is checked against Node's CAs (plus HERALD_PUSH_XMPP_CA_FILE), or not at all with TLS_INSECURE. xmpp.js's own
 * STARTTLS cannot be given these options; emptying the features hides them from it until the stream restarts.
 */
function securing(c: Client, el: Element, domain: string, o: { tlsInsecure?: boolean; ca?: string }, fail: (err: Error) => void): void {
  if (!el.is('features', NS_STREAMS) || c.socket?.secure === true) return
  const offered = el.getChild('starttls', NS_TLS) !== undefined
  el.children = []
  if (!offered) { fail(new Error('the XMPP server does not offer STARTTLS, which Herald requires')); return }
  void (async () => {
    const proceed = await c.sendReceive(xml('starttls', { xmlns: NS_TLS }))
    if (!proceed.is('proceed', NS_TLS)) throw new Error('the XMPP server refused STARTTLS')
    const tlsSocket = new TlsSocket()
    tlsSocket.connect({
      socket: c.socket as unknown as net.Socket, host: domain, servername: domain,
      rejectUnauthorized: o.tlsInsecure !== true,
      ...(o.ca ? { ca: [...nodeCas(), o.ca] } : {}),
    })
    await once(tlsSocket, 'connect')
    c._attachSocket(tlsSocket)
    await c.restart()
  })().catch((err: unknown) => fail(err instanceof Error ? err : new Error(String(err))))
}

/** Node's CAs: its bundle and NODE_EXTRA_CA_CERTS, which is what `ca` unset means (setting `ca` replaces them) */
let roots: string[] | undefined
function nodeCas(): string[] {
  if (!roots) {
    let extra: string[] = []
    try {
      if (process.env.NODE_EXTRA_CA_CERTS) extra = readFileSync(process.env.NODE_EXTRA_CA_CERTS, 'utf8').match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []
    } catch { /* Node warned about it at start and went on without it: so do we */ }
    roots = [...tls.rootCertificates, ...extra]
  }
  return roots
}
