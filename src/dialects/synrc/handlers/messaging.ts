// MESSAGE, TYPING, HISTORY and delivery acks (§6.6, §6.7, §7 chains): the module, the feeds both share (who may post
// to or read a feed, its topic, its parties' devices), Message records from stored rows, and the transient delivery
// queue of "delete after ack" (issue 12 §4) with its resend at device connect.
import { randomBytes } from 'node:crypto'
import type { SessionInfo } from '../../../core/sessions/types.ts'
import { DEVICE, DEVICE_OR_SYS, type Handler, type Module, type Sender, type Synrc } from '../context.ts'
import { DeliveryStore } from '../store/deliveries.ts'
import { DELETED, MessageStore, type MessageRow, type NewMessage } from '../store/messages.ts'
import { phoneOfRoster } from '../store/rosters.ts'
import { clientKind, privateTopic, roomTopic, validLevel } from '../topics.ts'
import { error, type Rec } from '../wire.ts'
import { history } from './history.ts'
import { message } from './message.ts'
import { typing } from './typing.ts'

export const text = (v: unknown): string | undefined => (v instanceof Uint8Array ? Buffer.from(v).toString('utf8') : undefined)
export const bin = (s: string): Buffer => Buffer.from(s, 'utf8')
export const invalid = (r: { from: Sender }, s: Synrc, code = 'invalid_data'): Promise<void> => s.reply(r.from.clientId, s.wire.io(error(code), bin('')))

/** a feed as §7 keys it: p2p by the two roster ids sorted (from/to as the message gave them), muc by room */
export type Feed =
  | { kind: 'p2p'; from: string; to: string; key: string }
  | { kind: 'muc'; room: string; key: string }

export function feedOf(v: unknown): Feed | undefined {
  const r = v as Rec | null | undefined
  if (r?.$ === 'p2p') {
    const from = text(r.from), to = text(r.to)
    if (!from || !to || !validLevel(from) || !validLevel(to) || from === to) return undefined
    return { kind: 'p2p', from, to, key: privateTopic(from, to) }
  }
  if (r?.$ === 'muc') {
    const room = text(r.name)
    return room && validLevel(room) ? { kind: 'muc', room, key: `room/${room}` } : undefined
  }
  return undefined
}

export const topicOf = (f: Feed): string => (f.kind === 'p2p' ? privateTopic(f.from, f.to) : roomTopic(f.room))

/** the feed record of a stored message: {p2p,From,To} as it was sent, or {muc,Room} */
export function feedRecord(row: Pick<MessageRow, 'feed' | 'author' | 'recipient'>): Rec {
  const feed = row.feed.startsWith(DELETED) ? row.feed.slice(DELETED.length) : row.feed
  return feed.startsWith('private/') ? { $: 'p2p', from: bin(row.author), to: bin(row.recipient) } : { $: 'muc', name: bin(row.recipient) }
}

/** the rosters of a feed: both parties of a p2p feed, a room's members */
export async function partiesOf(s: Synrc, f: Feed): Promise<string[]> {
  if (f.kind === 'p2p') return [f.from, f.to]
  return (await s.stores.rooms.members(f.room)).map((m) => m.roster_id)
}

/** §6.6: a device posts as From of a p2p feed between friends, or as a member of the room; sys_ posts anywhere that exists */
export async function mayPost(s: Synrc, from: Sender, f: Feed): Promise<boolean> {
  if (from.kind === 'sys') return f.kind === 'p2p' || (await s.stores.rooms.get(f.room)) !== undefined
  const me = from.rosterId!
  if (f.kind === 'p2p') return f.from === me && s.stores.friends.areFriends(f.from, f.to)
  return s.stores.rooms.isMember(f.room, me)
}

/** §6.7: a party of the p2p feed (friends or not any more), or a member of the room */
export async function mayRead(s: Synrc, rosterId: string, f: Feed): Promise<boolean> {
  if (f.kind === 'p2p') return f.from === rosterId || f.to === rosterId
  return s.stores.rooms.isMember(f.room, rosterId)
}

/** the Message record of a stored row; `status` is what the feed is told (sent, link, edit) */
export function messageRecord(s: Synrc, row: MessageRow, status: string = row.status): Rec {
  const body = s.wire.decode(Buffer.from(row.body, 'base64'))
  return {
    $: 'Message', id: row.id, container: 'chain', feed_id: feedRecord(row), prev: row.prev, next: row.next,
    msg_id: row.msg_id === null ? null : bin(row.msg_id), from: row.author ? bin(row.author) : null, to: bin(row.recipient),
    created: row.created, files: body.files, type: body.type, link: body.link, seenby: body.seenby, repliedby: body.repliedby,
    mentioned: body.mentioned, status,
  }
}

/** ETF of the opaque fields (the same Message record in both layouts) */
export const bodyOf = (s: Synrc, m: Rec): string => s.wire.encode({
  $: 'Message', files: m.files ?? [], type: m.type ?? [], link: m.link ?? null, seenby: m.seenby ?? [], repliedby: m.repliedby ?? [],
  mentioned: m.mentioned ?? [],
}).toString('base64')

const MEDIA = new Set(['image', 'video', 'file', 'link', 'audio', 'contact', 'location', 'text'])
/** §6.7 media filters: a Desc's mime category is its type before '/', application/* is a file, an unknown one too */
export function kindsOf(files: Rec[]): string {
  const kinds = new Set(files.map((d) => {
    const head = (text(d.mime) ?? 'text').toLowerCase().split('/')[0]
    return MEDIA.has(head) ? head : 'file'
  }))
  return `,${[...kinds].join(',')},`
}

/**
 * Which broker session holds a device's deliveries (§6.6 "delete after ack"). The embedded broker keeps sessions in
 * memory: a session is the same one only while this process runs and the device reconnects with clean=false. A
 * delivery queued while such a session exists (the device connected, or offline with its persistent session) reaches
 * the device through the broker, now or when the broker redelivers its queue at reconnect; any other pending delivery
 * (no session yet since this process started, a clean session, or a session of an earlier process) is Herald's to
 * resend at the device's next connect, to its actions topic, after which the new session holds it.
 */
class DeviceSessions {
  private readonly boot = randomBytes(6).toString('hex')
  private n = 0
  private readonly live = new Map<string, string>()
  private readonly clean = new Map<string, boolean | undefined>()

  /** from the sessions seam's connect event (it runs before the request loop's, which makes the subscriptions) */
  connecting(info: SessionInfo): void { if (clientKind(info.clientId) === 'device') this.clean.set(info.clientId, info.clean) }

  /** the device's broker session after this connect */
  begin(clientId: string): string {
    const had = this.live.get(clientId)
    if (had && this.clean.get(clientId) === false) return had
    const id = `${this.boot}:${++this.n}`
    this.live.set(clientId, id)
    return id
  }

  /** a clean session ends with its connection */
  end(clientId: string): void {
    if (this.clean.get(clientId) !== false) this.live.delete(clientId)
    this.clean.delete(clientId)
  }

  of(clientId: string): string | null { return this.live.get(clientId) ?? null }
}

export interface Messaging { messages: MessageStore; deliveries: DeliveryStore; sessions: DeviceSessions }
const STATE = new WeakMap<Synrc, Messaging>()

/** the module's stores and session table (the dialect's Stores do not carry them yet: the db is the other stores') */
export function messagingOf(s: Synrc): Messaging {
  let m = STATE.get(s)
  if (!m) {
    m = { messages: s.stores.messages, deliveries: s.stores.deliveries, sessions: new DeviceSessions() }
    STATE.set(s, m)
  }
  return m
}

/** the logged-in devices of these rosters but one (the sender's own device) */
export async function devicesOf(s: Synrc, rosters: string[], except?: string): Promise<string[]> {
  const out: string[] = []
  for (const phone of new Set(rosters.map(phoneOfRoster))) {
    for (const d of await s.stores.auth.devices(phone)) if (d.client_id !== except) out.push(d.client_id)
  }
  return out
}

/** delivery rows for a message, each tagged with the broker session that holds it (if one does) */
function rowsFor(m: Messaging, targets: string[], id: number, now: number) {
  return targets.map((c) => ({ client_id: c, message_id: id, session: m.sessions.of(c), created: now }))
}

/** stored with its delivery rows in one transaction: one per device of the feed's parties but the sending one */
export async function storeMessage(s: Synrc, f: Feed, m: NewMessage, senderClientId?: string): Promise<MessageRow> {
  const ms = messagingOf(s)
  const targets = await devicesOf(s, await partiesOf(s, f), senderClientId)
  const now = s.clock.now()
  return ms.messages.add(m, (trx, row) => ms.deliveries.enqueue(rowsFor(ms, targets, row.id, now), trx))
}

/** an edit or a completed upload is owed to every device again */
export async function requeue(s: Synrc, f: Feed, id: number, senderClientId?: string): Promise<void> {
  const ms = messagingOf(s)
  const targets = await devicesOf(s, await partiesOf(s, f), senderClientId)
  await ms.deliveries.enqueue(rowsFor(ms, targets, id, s.clock.now()))
}

/** the delivery rows of a message for these devices (targets read before a transaction: SQLite has one connection) */
export const deliveryRows = (s: Synrc, targets: string[], id: number) => rowsFor(messagingOf(s), targets, id, s.clock.now())

/** §6.6 delete after ack: the device's delivery leaves the queue; the last one marks the message delivered */
export async function acked(s: Synrc, clientId: string, id: number): Promise<void> {
  const { messages, deliveries } = messagingOf(s)
  if (!(await deliveries.ack(clientId, id))) return
  if ((await deliveries.pendingFor(id)) > 0) return
  // what is left belongs to devices that logged out since
  await deliveries.removeMessage(id)
  // a deleted message's tombstone goes once its delete has reached every device
  if ((await messages.get(id))?.status === 'delete') return void (await messages.remove(id))
  await messages.markDelivered(id, s.clock.now())
  if (s.settings.retention === 'delete-delivered') await messages.remove(id)
}

const RESEND_BATCH = 200

/** at connect: what the device's broker session does not hold, to its own actions topic, oldest first */
async function resend(s: Synrc, device: Sender): Promise<void> {
  const { messages, deliveries, sessions } = messagingOf(s)
  const session = sessions.begin(device.clientId)
  for (;;) {
    const ids = await deliveries.missed(device.clientId, session, RESEND_BATCH)
    if (!ids.length) return
    for (const id of ids) {
      const row = await messages.get(id)
      if (row) await s.reply(device.clientId, messageRecord(s, row))
      else await deliveries.ack(device.clientId, id)
    }
    await deliveries.held(device.clientId, ids, session)
  }
}

/** §6.6: a recipient device acknowledges a delivered Message by its server id, `{'Ack','Message',<<"Id">>}` */
const ack: Handler = async (r, s) => {
  const id = Number(text(r.rec.id))
  if (r.rec.table !== 'Message' || !Number.isSafeInteger(id) || id <= 0) return invalid(r, s)
  await acked(s, r.from.clientId, id)
}

/** §6.6 system messages of rooms, stored in the room's feed and delivered as any other */
async function systemMessage(s: Synrc, roomId: string, body: string): Promise<void> {
  const f: Feed = { kind: 'muc', room: roomId, key: `room/${roomId}` }
  const files = [{ $: 'Desc', mime: bin('text'), payload: bin(body) }]
  const now = s.clock.now()
  const row = await storeMessage(s, f, {
    feed: f.key, msg_id: null, author: '', recipient: roomId, created: now, status: 'sent', types: 'sys', link_id: null,
    kinds: kindsOf(files), body: bodyOf(s, { $: 'Message', files, type: ['sys'] }), update_at: now,
  })
  await s.publish(topicOf(f), messageRecord(s, row))
}


export const messaging: Module = {
  routes: {
    Message: { accept: DEVICE_OR_SYS, handle: message },
    Typing: { accept: DEVICE, handle: typing },
    History: { accept: DEVICE, handle: history },
    Ack: { accept: DEVICE, handle: ack },
  },
  start(s) {
    const { sessions } = messagingOf(s)
    s.sessions.on('connect', (info) => sessions.connecting(info))
    s.addDeviceHooks({
      connected: (device) => resend(s, device),
      disconnected: async (device) => sessions.end(device.clientId),
    })
    s.systemMessage = (roomId, body) => systemMessage(s, roomId, body)
  },
}
