// The bodies of WNS raw notifications for UWPX devices (uwpx-push §4.2, §12.1 item 6): pure functions over bytes.

/** What the UWPX push dialect (or any caller) asks WNS to deliver. */
export type WnsNotification =
  /** an XEP-0357 push for one account of the device */
  | {
    type: 'push'
    /** `account_id` exactly as the client sent it; echoed byte for byte */
    accountId: string
    messageCount: number
    pendingSubscriptionCount: number
    /**
     * v1 devices: the `<notification xmlns="urn:xmpp:push:0">` element as serialized from the pubsub event, with the
     * sender and body fields already left out by the XMPP side; without it the summary form is built from the counts.
     */
    notificationXml?: string
  }
  /** `request_test_push` (§3.3) */
  | { type: 'test' }
  /** any other raw payload (at most 5 KB) */
  | { type: 'raw'; payload: string | Uint8Array }

/** WNS refuses raw notifications over 5 KB (§12.1 item 6) */
export const WNS_MAX_RAW_BYTES = 5 * 1024
/** v1: a longer serialized notification is replaced by the plain text below (§4.2) */
export const V1_MAX_XML_BYTES = 4096
export const V1_FALLBACK_TEXT = 'New message received!'

const count = (n: number) => (Number.isSafeInteger(n) && n > 0 ? n : 0)

const xmlAttr = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;')

/** The summary form of XEP-0357 §5 (counts only), for a v1 push that came without its element. */
export function summaryXml(messageCount: number, pendingSubscriptionCount: number): string {
  const field = (v: string, value: string) => `<field var="${v}"><value>${value}</value></field>`
  return '<notification xmlns="urn:xmpp:push:0"><x xmlns="jabber:x:data" type="submit">'
    + field('FORM_TYPE', 'urn:xmpp:push:summary')
    + field('message-count', String(count(messageCount)))
    + field('pending-subscription-count', String(count(pendingSubscriptionCount)))
    + '</x></notification>'
}

/** Append `<account id="…"/>` as the last child of a serialized element (open/close or self-closing). */
export function appendAccount(xml: string, accountId: string): string {
  const el = xml.trim()
  const account = `<account id="${xmlAttr(accountId)}"/>`
  const close = /<\/[A-Za-z_][\w:.-]*\s*>$/.exec(el)
  if (close) return el.slice(0, close.index) + account + el.slice(close.index)
  const name = /^<([A-Za-z_][\w:.-]*)/.exec(el)
  if (name && el.endsWith('/>')) return `${el.slice(0, -2).trimEnd()}>${account}</${name[1]}>`
  throw new Error('notification XML is not one element')
}

/** The device's protocol version as stored from set_push_accounts: "2" means v2, anything else v1 (§4.2). */
export const isV2 = (version: string | number) => String(version) === '2'

/** The exact body for a device of `version`; throws when the notification cannot be sent to WNS. */
export function wnsBody(version: string | number, n: WnsNotification): Buffer {
  let body: Buffer
  switch (n.type) {
    case 'push':
      if (isV2(version)) {
        body = Buffer.from(`{"account_id":${JSON.stringify(n.accountId)},"action":"push","message_count":${count(n.messageCount)},`
          + `"pending_subscription_count":${count(n.pendingSubscriptionCount)},"version":2}`)
      } else {
        const xml = Buffer.from(appendAccount(n.notificationXml ?? summaryXml(n.messageCount, n.pendingSubscriptionCount), n.accountId))
        body = xml.length > V1_MAX_XML_BYTES ? Buffer.from(V1_FALLBACK_TEXT) : xml
      }
      break
    case 'test':
      body = Buffer.from(isV2(version) ? '{"action":"test_push","version":2}' : '<test/>')
      break
    case 'raw':
      body = Buffer.from(n.payload)
      break
  }
  if (body.length > WNS_MAX_RAW_BYTES) throw new Error(`raw notification of ${body.length} bytes is over the WNS limit of ${WNS_MAX_RAW_BYTES}`)
  return body
}

/** A channel URI must be a WNS host before it gets the bearer token (§13 channel URIs; issue 14 settings). */
export function isWnsChannelUri(uri: string): boolean {
  let u: URL
  try { u = new URL(uri) } catch { return false }
  return u.protocol === 'https:' && !u.username && !u.password && u.port === '' && /^[0-9a-z-]+\.notify\.windows\.com$/i.test(u.hostname)
}
