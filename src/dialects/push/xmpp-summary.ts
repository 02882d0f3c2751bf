// What a XEP-0357 publish carries to a device (uwpx-push §4.2, §12.1 item 8): the counts of the summary form inside
// `<notification xmlns="urn:xmpp:push:0">`, and for v1 devices the element itself without the sender and body.
// Pure functions over parsed stanzas.
import { xml } from '@xmpp/client'
import type { Element } from '@xmpp/xml'

export const NS_PUSH = 'urn:xmpp:push:0'
export const NS_DATA = 'jabber:x:data'
export const SUMMARY_FORM = 'urn:xmpp:push:summary'
/** never forwarded (§4.2): WNS payloads carry no message content or correspondents */
const PRIVATE_FIELDS = new Set(['last-message-sender', 'last-message-body'])

export interface PushSummary {
  messageCount: number
  pendingSubscriptionCount: number
  /** the `<notification>` element serialized for v1 devices, sender and body left out */
  notificationXml: string
}

/** §4.2 "integer prefix parse, default 0": leading digits after blanks ("12 new" → 12); none, or a sign → 0 */
export function countOf(text: string | null | undefined): number {
  const m = /^\s*\+?(\d+)/.exec(text ?? '')
  if (!m) return 0
  const n = Number(m[1])
  return Number.isSafeInteger(n) ? n : Number.MAX_SAFE_INTEGER
}

const fieldVar = (f: Element) => f.attrs.var ?? ''

/** the summary form among the notification's data forms (the first form without FORM_TYPE counts as one too) */
function summaryForm(notification: Element): Element | undefined {
  const forms = notification.getChildren('x', NS_DATA)
  const typeOf = (x: Element) => x.getChildren('field').find((f) => fieldVar(f) === 'FORM_TYPE')?.getChildText('value') ?? null
  return forms.find((x) => typeOf(x) === SUMMARY_FORM) ?? forms.find((x) => typeOf(x) === null)
}

/** The counts and the v1 body of one `<notification xmlns="urn:xmpp:push:0">` (an absent form: 0 and 0). */
export function parseNotification(notification: Element): PushSummary {
  const form = summaryForm(notification)
  const value = (name: string) => form?.getChildren('field').find((f) => fieldVar(f) === name)?.getChildText('value')
  const clean = withoutPrivate(notification)
  // serialized as a root element: its namespace stays explicit
  clean.attrs.xmlns = NS_PUSH
  return {
    messageCount: countOf(value('message-count')),
    // mod_cloud_notify sends this field with no <value/> at all (issue 14): 0
    pendingSubscriptionCount: countOf(value('pending-subscription-count')),
    notificationXml: clean.toString(),
  }
}

/** a copy of `el` without the sender and body fields of its data forms */
function withoutPrivate(el: Element): Element {
  const keep = (c: Element | string) => typeof c === 'string' || !(c.is('field') && c.parent?.is('x', NS_DATA) && PRIVATE_FIELDS.has(fieldVar(c)))
  return xml(el.name, { ...el.attrs }, ...el.children.filter(keep).map((c) => (typeof c === 'string' ? c : withoutPrivate(c))))
}

/** `<notification xmlns="urn:xmpp:push:0">` of a pubsub `<item>`, if that is what it holds */
export function notificationOf(item: Element | undefined): Element | undefined {
  return item?.getChild('notification', NS_PUSH)
}
