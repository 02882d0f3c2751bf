// HISTORY (§6.7): pages of a feed in both directions, the read cursor with unread counts, replies, a window around
// a message, clearing the feed for the requester, sticker packs and media filters.
import type { Handler, Request, Synrc } from '../context.ts'
import type { MessageRow } from '../store/messages.ts'
import { phoneOfRoster } from '../store/rosters.ts'
import { devicesTopic } from '../topics.ts'
import type { Rec } from '../wire.ts'
import { bin, feedOf, feedRecord, invalid, mayRead, messageRecord, messagingOf, text, type Feed } from './messaging.ts'

const MEDIA = new Set(['image', 'video', 'file', 'link', 'audio', 'contact', 'location', 'text'])
/** §6.7: size 0 asks for a default page; no page is larger than MAX_PAGE */
const DEFAULT_PAGE = 50
const MAX_PAGE = 500

const opt = (v: string | null | undefined): Buffer | null => (v ? bin(v) : null)
const pageSize = (n: number): number => Math.min(MAX_PAGE, n === 0 ? DEFAULT_PAGE : Math.abs(n))
const intOr0 = (v: unknown): number => (typeof v === 'number' && Number.isSafeInteger(v) ? v : 0)

function reply(r: Request, s: Synrc, set: Partial<Rec>): Promise<void> {
  return s.reply(r.from.clientId, { $: 'History', roster_id: bin(r.from.rosterId!), feed: r.rec.feed, size: r.rec.size, entity_id: r.rec.entity_id, data: [], status: r.rec.status, ...set })
}

/** §6.7 paging: size > 0 goes back (older than entity_id, newest first), size < 0 forward (newer, oldest first);
 *  entity_id 0 starts at the newest (back) or the oldest (forward) end. The reply's size is the new position: the
 *  id of the page's last message, to page on from (0: nothing more). */
async function page(r: Request, s: Synrc, f: Feed, kind?: string): Promise<void> {
  const size = intOr0(r.rec.size)
  const { messages } = messagingOf(s)
  const cleared = (await messages.reader(r.from.rosterId!, f.key))?.cleared ?? 0
  const rows = await messages.page({ feed: f.key, from: intOr0(r.rec.entity_id), dir: size < 0 ? 'forward' : 'back', limit: pageSize(size), cleared, kind })
  await reply(r, s, { size: rows.at(-1)?.id ?? 0, data: rows.map((m) => messageRecord(s, m)) })
}

/** §6.7 update: the reader's cursor moves to entity_id (0 or []: to the newest message), and the user's devices
 *  hear the feed's unread count and last message as Contact (p2p) or Room (muc) with status last_msg */
async function cursor(r: Request, s: Synrc, f: Feed): Promise<void> {
  const me = r.from.rosterId!
  const { messages } = messagingOf(s)
  const top = await messages.top(f.key)
  const asked = intOr0(r.rec.entity_id)
  if (asked < 0) return invalid(r, s)
  // ids are one sequence: any id up to the top is a position (the read message may be gone, delete after ack)
  const pos = asked === 0 ? top : Math.min(asked, top)
  await messages.setReader(me, f.key, { pos }, s.clock.now())
  const cleared = (await messages.reader(me, f.key))?.cleared ?? 0
  const nread = await messages.unread(f.key, me, Math.max(pos, cleared))
  const last = top ? await messages.get(top) : undefined
  const lastMsg = last ? messageRecord(s, last) : null
  let rec: Rec
  if (f.kind === 'p2p') {
    const peer = f.from === me ? f.to : f.from
    const p = await s.stores.rosters.get(peer)
    rec = {
      $: 'Contact', phone_id: bin(peer), avatar: opt(p?.avatar), names: opt(p?.names), surnames: opt(p?.surnames), nick: opt(p?.nick),
      reader: pos, nread, last_msg: lastMsg, presence: null, update: s.clock.now(), created: p?.created ?? 0, settings: [], services: [], status: 'last_msg',
    }
  } else {
    const room = await s.stores.rooms.get(f.room)
    rec = {
      $: 'Room', id: bin(f.room), name: opt(room?.name), links: [], description: opt(room?.description), settings: [], members: [], admins: [],
      data: [], type: room?.type ?? null, tos: null, tos_update: 0, unread: nread, mentions: [], readers: [pos], last_msg: lastMsg,
      update: room?.update_at ?? 0, created: room?.created ?? 0, status: 'last_msg',
    }
  }
  await s.publish(devicesTopic(r.from.phone ?? phoneOfRoster(me)), rec)
}

/** §6.7 get_reply: the replies (type reply, link = entity_id) to a message of a feed the reader is in */
async function replies(r: Request, s: Synrc): Promise<void> {
  const id = intOr0(r.rec.entity_id)
  const { messages } = messagingOf(s)
  const row = id > 0 ? await messages.get(id) : undefined
  const f = row ? feedOf(feedRecord(row)) : undefined
  if (!row || !f || !(await mayRead(s, r.from.rosterId!, f))) return invalid(r, s)
  const cleared = (await messages.reader(r.from.rosterId!, f.key))?.cleared ?? 0
  const rows = (await messages.replies(id, cleared)).filter((m) => m.feed === f.key)
  await reply(r, s, { feed: r.rec.feed ?? feedRecord(row), data: rows.map((m) => messageRecord(s, m)) })
}

/** §6.7 double_get (legacy): size messages each side of entity_id and the message itself, oldest first */
async function around(r: Request, s: Synrc, f: Feed): Promise<void> {
  const n = intOr0(r.rec.size), id = intOr0(r.rec.entity_id)
  if (n <= 0 || id <= 0) return invalid(r, s)
  const { messages } = messagingOf(s)
  const cleared = (await messages.reader(r.from.rosterId!, f.key))?.cleared ?? 0
  const limit = pageSize(n)
  const older = await messages.page({ feed: f.key, from: id, dir: 'back', limit, cleared })
  const mid = await messages.get(id)
  const newer = await messages.page({ feed: f.key, from: id, dir: 'forward', limit, cleared })
  const rows: MessageRow[] = [...older.reverse(), ...(mid && mid.feed === f.key && mid.id > cleared ? [mid] : []), ...newer]
  await reply(r, s, { data: rows.map((m) => messageRecord(s, m)) })
}

/** §6.7 delete: the feed is cleared for the requester only (what is there now stays hidden from it); its devices hear it */
async function clear(r: Request, s: Synrc, f: Feed): Promise<void> {
  const { messages } = messagingOf(s)
  const top = await messages.top(f.key)
  await messages.setReader(r.from.rosterId!, f.key, { cleared: top }, s.clock.now())
  await s.publish(devicesTopic(r.from.phone!), {
    $: 'History', roster_id: bin(r.from.rosterId!), feed: r.rec.feed, size: 0, entity_id: top, data: [], status: 'delete',
  })
}

/** §6.7 sticker packs: History{feed=#'StickerPack'{}, status=get, size=N} answers the stored packs, newest first */
async function stickers(r: Request, s: Synrc): Promise<void> {
  if (r.rec.status !== 'get') return invalid(r, s)
  const packs = await messagingOf(s).messages.stickerPacks(pageSize(intOr0(r.rec.size)))
  await reply(r, s, { size: packs.length, data: packs.map((p) => s.wire.decode(Buffer.from(p.body, 'base64'))) })
}

export const history: Handler = async (r, s) => {
  const me = r.from.rosterId!
  // a device reads its own roster's history only
  const asked = text(r.rec.roster_id)
  if (asked !== undefined && asked !== me) return invalid(r, s, 'not_authorized')
  if (r.rec.feed?.$ === 'StickerPack') return stickers(r, s)
  if (r.rec.status === 'get_reply') return replies(r, s)
  // §6.7: a non-empty data names the feed by its first Message's feed_id
  const first = Array.isArray(r.rec.data) ? (r.rec.data as Rec[]).find((m) => m?.$ === 'Message') : undefined
  const f = feedOf(first?.feed_id ?? r.rec.feed)
  if (!f) return invalid(r, s)
  if (!(await mayRead(s, me, f))) return invalid(r, s, 'not_authorized')
  const status = String(r.rec.status)
  if (status === 'get') return page(r, s, f)
  if (MEDIA.has(status)) return page(r, s, f, status)
  if (status === 'update') return cursor(r, s, f)
  if (status === 'double_get') return around(r, s, f)
  if (status === 'delete') return clear(r, s, f)
  // updated, last_loaded, last_msg are the server's own statuses
  return invalid(r, s)
}
