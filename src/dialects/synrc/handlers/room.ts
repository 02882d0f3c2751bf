// ROOM (§6.8): create, get, patch, add/join, remove, leave, mute/unmute, delete (sys_ only). Membership drives the
// server-side subscriptions to room/<id> (issue 12 "Topics"); changes go to the room, with a §6.6 system message.
import { randomBytes } from 'node:crypto'
import type { Handler, Request, Sender, Synrc } from '../context.ts'
import type { LinkRow, MemberRow, RoomRow } from '../store/rooms.ts'
import { MAX_LINKS } from '../store/rooms.ts'
import { phoneOfRoster, type RosterRow } from '../store/rosters.ts'
import { devicesTopic, roomTopic, validLevel } from '../topics.ts'
import { Wire, type Rec } from '../wire.ts'
import { bin, denied, displayName, fail, invalid, isAdmin, memberRecord, rosterOf, text } from './member.ts'

/** §6.8: the text of a link (and of a channel's own id) */
export const LINK_RE = /^[a-zA-Z0-9_]{2,48}$/
const TYPES = ['group', 'channel', 'call']
const LABEL: Record<string, string> = { group: 'Group', channel: 'Channel', call: 'Call' }

// what a room keeps opaque (settings, avatar Descs, tos) as a layout A Room term: the same bytes whatever the wire speaks
const storage = new Wire({ layout: 'a', maxBytes: 16 * 1024 * 1024 })
const encodeDoc = (d: Record<string, unknown>): string => storage.encode({ ...d, $: 'Room' }).toString('base64')
const decodeDoc = (doc: string): Rec => storage.decode(Buffer.from(doc, 'base64'))

export const linkRecord = (l: LinkRow, status: string | null = null): Rec => ({
  $: 'Link', id: bin(l.id), name: l.name ? bin(l.name) : null, room_id: bin(l.room_id), created: l.created, type: l.type, status,
})

const COUNTERS = ['SUBSCRIBERS_COUNT', 'ADMINS_COUNT']

/** §6.8: a channel's counters as Features of group CHANNEL_DATA (S2 roster_var.hrl), in place of any sent ones */
function channelSettings(roomId: string, settings: Rec[], subscribers: number, admins: number): Rec[] {
  const own = settings.filter((f) => !(text(f.group) === 'CHANNEL_DATA' && COUNTERS.includes(text(f.key) ?? '')))
  const counter = (key: string, n: number): Rec =>
    ({ $: 'Feature', id: bin(`${roomId}_${key.toLowerCase()}`), key: bin(key), value: bin(String(n)), group: bin('CHANNEL_DATA') })
  return [...own, counter('SUBSCRIBERS_COUNT', subscribers), counter('ADMINS_COUNT', admins)]
}

/** §3 Room: the stored room with its members, admins (owner first) and links */
export async function roomRecord(s: Synrc, row: RoomRow, status: string | null): Promise<Rec> {
  const d = decodeDoc(row.doc)
  const ms = await s.stores.rooms.members(row.id)
  const admins = [...ms.filter((m) => m.role === 'owner'), ...ms.filter((m) => m.role === 'admin')]
  const settings = row.type === 'channel' ? channelSettings(row.id, d.settings, ms.length - admins.length, admins.length) : d.settings
  return {
    $: 'Room', id: bin(row.id), name: row.name ? bin(row.name) : null, links: (await s.stores.rooms.linksOf(row.id)).map((l) => linkRecord(l)),
    description: row.description ? bin(row.description) : null, settings, members: await Promise.all(ms.map((m) => memberRecord(s, m))),
    admins: await Promise.all(admins.map((m) => memberRecord(s, m))), data: d.data, type: row.type, tos: d.tos, tos_update: d.tos_update,
    update: row.update_at, created: row.created, status,
  }
}

/** a change of the room as the spec's short Room: its id, the members concerned, the status */
const change = (roomId: string, status: string, members: Rec[] = [], admins: Rec[] = []): Rec => ({ $: 'Room', id: bin(roomId), members, admins, status })

const subscribe = (s: Synrc, rosterIds: string[], roomId: string) =>
  Promise.all(rosterIds.map((id) => s.subscribePhone(phoneOfRoster(id), [roomTopic(roomId)])))
const unsubscribe = (s: Synrc, rosterIds: string[], roomId: string) =>
  Promise.all(rosterIds.map((id) => s.unsubscribePhone(phoneOfRoster(id), [roomTopic(roomId)])))

/** the rosters named by Member records; the first Member that names no roster, when one does not (MMBRIE1) */
async function rostersOf(s: Synrc, ms: Rec[]): Promise<{ found: RosterRow[]; missing?: Rec }> {
  const found: RosterRow[] = []
  for (const m of ms) {
    const r = m?.$ === 'Member' ? await rosterOf(s, m.phone_id) : undefined
    if (!r) return { found, missing: m }
    if (!found.some((f) => f.id === r.id)) found.push(r)
  }
  return { found }
}

const names = async (s: Synrc, ids: string[]): Promise<string> =>
  (await Promise.all(ids.map(async (id) => displayName(await s.stores.rosters.get(id), id)))).join(', ')

/** §6.8 links of a create: each valid (LNKIE1), distinct (LNKIE2), at most MAX_LINKS (LNKIE3) */
function linkError(links: Rec[]): { code: string; link: Rec } | undefined {
  const seen = new Set<string>()
  for (const [i, l] of links.entries()) {
    const id = text(l?.id)
    if (!id || !LINK_RE.test(id)) return { code: 'LNKIE1', link: l }
    if (seen.has(id)) return { code: 'LNKIE2', link: l }
    if (i >= MAX_LINKS) return { code: 'LNKIE3', link: l }
    seen.add(id)
  }
  return undefined
}

const create: Handler = async ({ rec, from }, s) => {
  const me = from.rosterId!
  const admins: Rec[] = rec.admins ?? []
  if (!TYPES.includes(rec.type) || admins.length === 0) return invalid(s, from)
  // §6.8 admins=[Owner, …], head = owner: a device creates rooms it owns only
  if ((await rosterOf(s, admins[0].phone_id))?.id !== me) return fail(s, from, 'permissions_denied', admins[0])
  // a client may name its room (a channel's id is public, as a link); else Herald picks one
  const given = text(rec.id)
  if (given !== undefined && (rec.type === 'channel' ? !LINK_RE.test(given) : !validLevel(given) || given.length > 64)) return invalid(s, from)
  const id = given ?? randomBytes(12).toString('hex')
  const a = await rostersOf(s, admins)
  const m = await rostersOf(s, rec.members ?? [])
  if (a.missing || m.missing) return fail(s, from, 'MMBRIE1', a.missing ?? m.missing)
  const bad = linkError(rec.links ?? [])
  if (bad) return fail(s, from, bad.code, bad.link)
  const now = s.clock.now()
  const roles = new Map<string, string>()
  for (const r of m.found) roles.set(r.id, 'member')
  for (const r of a.found) roles.set(r.id, 'admin')
  roles.set(me, 'owner')
  const members = [...roles].map(([roster_id, role]) => ({ roster_id, role, muted: 0, joined: now }))
  const row: RoomRow = {
    id, name: text(rec.name) ?? '', description: text(rec.description) ?? '', type: rec.type, created: now, update_at: now,
    doc: encodeDoc({ settings: rec.settings ?? [], data: rec.data ?? [], tos: rec.tos, tos_update: rec.tos ? now : 0 }),
  }
  const links = (rec.links ?? []).map((l: Rec) => ({ id: text(l.id)!, name: text(l.name) ?? '', type: l.type ?? null, created: now }))
  const made = await s.stores.rooms.create(row, members, links)
  if (made === 'room') return fail(s, from, 'RCHIE1', rec)
  if (made === 'link') return fail(s, from, 'LNKIE2', rec)
  await subscribe(s, [...roles.keys()], id)
  await s.reply(from.clientId, await roomRecord(s, row, 'create'))
  await s.systemMessage(id, `${LABEL[rec.type]} created`)
}

/** a room that exists (else RCHIE2), and the requester's membership in it */
async function roomFor(s: Synrc, from: Sender, rec: Rec): Promise<{ room: RoomRow; me?: MemberRow } | undefined> {
  const id = text(rec.id)
  const room = id ? await s.stores.rooms.get(id) : undefined
  if (!room) {
    await fail(s, from, 'RCHIE2', rec)
    return undefined
  }
  return { room, me: from.rosterId ? await s.stores.rooms.member(room.id, from.rosterId) : undefined }
}

const get: Handler = async ({ rec, from }, s) => {
  const f = await roomFor(s, from, rec)
  if (!f) return
  if (!f.me && from.kind !== 'sys') return denied(s, from, f.room.id)
  await s.reply(from.clientId, await roomRecord(s, f.room, 'get'))
}

const patch: Handler = async ({ rec, from }, s) => {
  const f = await roomFor(s, from, rec)
  if (!f) return
  if (!isAdmin(f.me)) return denied(s, from, f.room.id)
  const { room } = f
  const d = decodeDoc(room.doc)
  const now = s.clock.now()
  const name = text(rec.name)
  const renamed = name !== undefined && name !== room.name
  // [] is "unchanged" for the lists: a client cannot tell an empty list from a field it did not fill (§2.2)
  const avatar = (rec.data ?? []).length > 0
  const doc = encodeDoc({
    settings: (rec.settings ?? []).length ? rec.settings : d.settings, data: avatar ? rec.data : d.data,
    tos: rec.tos ?? d.tos, tos_update: rec.tos ? now : d.tos_update,
  })
  const set: Partial<RoomRow> = { doc, update_at: now }
  if (name !== undefined) set.name = name
  if (rec.description !== null) set.description = text(rec.description) ?? ''
  if (TYPES.includes(rec.type)) set.type = rec.type
  await s.stores.rooms.update(room.id, set)
  const updated = (await s.stores.rooms.get(room.id))!
  await s.publish(roomTopic(room.id), await roomRecord(s, updated, 'patch'))
  if (renamed) await s.systemMessage(room.id, `${LABEL[updated.type]} is renamed to ${name}`)
  if (avatar) await s.systemMessage(room.id, `${LABEL[updated.type]} avatar changed`)
}

/** new members and admins (existing members named as admins are promoted), subscribed, then told to the room */
async function admit(s: Synrc, room: RoomRow, members: RosterRow[], admins: RosterRow[], status: 'add' | 'join'): Promise<string[]> {
  const now = s.clock.now()
  const added: MemberRow[] = []
  const promoted: MemberRow[] = []
  for (const [r, role] of [...admins.map((x) => [x, 'admin'] as const), ...members.map((x) => [x, 'member'] as const)]) {
    const was = await s.stores.rooms.member(room.id, r.id)
    if (was && (role === 'member' || isAdmin(was))) continue
    if (added.some((m) => m.roster_id === r.id) || promoted.some((m) => m.roster_id === r.id)) continue
    if (was) {
      await s.stores.rooms.setMember(room.id, r.id, { role })
      promoted.push({ ...was, role })
    } else {
      const m = { room_id: room.id, roster_id: r.id, role, muted: 0, joined: now }
      await s.stores.rooms.addMember(m)
      added.push(m)
    }
  }
  const ids = added.map((m) => m.roster_id)
  await subscribe(s, ids, room.id)
  const recs = async (ms: MemberRow[]) => Promise.all(ms.map((m) => memberRecord(s, m)))
  const all = [...added, ...promoted]
  if (all.length) {
    await s.publish(roomTopic(room.id), change(room.id, status, await recs(added.filter((m) => m.role === 'member')),
      await recs(all.filter((m) => isAdmin(m)))))
    if (ids.length) await s.systemMessage(room.id, `${await names(s, ids)} ${status === 'join' ? 'joined' : 'added'}`)
  }
  return ids
}

/** §6.9 Link/join and §6.8 self-join of a channel: the requester joins; the full Room (joined) back to it */
export async function joinRoom(s: Synrc, from: Sender, room: RoomRow): Promise<void> {
  const me = (await s.stores.rosters.get(from.rosterId!))!
  await admit(s, room, [me], [], 'join')
  await s.reply(from.clientId, await roomRecord(s, room, 'joined'))
}

const add: Handler = async ({ rec, from }, s) => {
  const f = await roomFor(s, from, rec)
  if (!f) return
  const asked = [...(rec.members ?? []), ...(rec.admins ?? [])]
  // §6.8 join "when not creating, with a non-empty members or admins" is add; an empty one joins a channel itself
  if (rec.status === 'join' && asked.length === 0) {
    if (f.me) return s.reply(from.clientId, await roomRecord(s, f.room, 'joined'))
    return f.room.type === 'channel' ? joinRoom(s, from, f.room) : denied(s, from, f.room.id)
  }
  if (!isAdmin(f.me)) return denied(s, from, f.room.id)
  const m = await rostersOf(s, rec.members ?? [])
  const a = await rostersOf(s, rec.admins ?? [])
  if (m.missing || a.missing) return fail(s, from, 'MMBRIE1', m.missing ?? a.missing)
  await admit(s, f.room, m.found, a.found, rec.status === 'join' ? 'join' : 'add')
}

// §6.8 remove: members named in `members` leave the room; those named in `admins` lose admin rights (stay members)
const remove: Handler = async ({ rec, from }, s) => {
  const f = await roomFor(s, from, rec)
  if (!f) return
  if (!isAdmin(f.me)) return denied(s, from, f.room.id)
  const m = await rostersOf(s, rec.members ?? [])
  const a = await rostersOf(s, rec.admins ?? [])
  if (m.missing || a.missing) return fail(s, from, 'MMBRIE1', m.missing ?? a.missing)
  const gone: MemberRow[] = []
  const demoted: MemberRow[] = []
  for (const [r, what] of [...m.found.map((x) => [x, 'remove'] as const), ...a.found.map((x) => [x, 'demote'] as const)]) {
    const was = await s.stores.rooms.member(f.room.id, r.id)
    if (!was) return fail(s, from, 'MMBRIE1', (await memberRecordOf(s, f.room.id, r.id)))
    // the owner is neither removed nor demoted by others
    if (was.role === 'owner') return denied(s, from, f.room.id)
    if (what === 'remove' && !gone.some((g) => g.roster_id === r.id)) gone.push(was)
    if (what === 'demote' && was.role === 'admin' && !gone.some((g) => g.roster_id === r.id)) demoted.push(was)
  }
  const recs = async (ms: MemberRow[], status: string) => Promise.all(ms.map((x) => memberRecord(s, x, { status })))
  // the room hears of it while the removed are still subscribed; then they are not
  await s.publish(roomTopic(f.room.id), change(f.room.id, 'remove', await recs(gone, 'removed'), await recs(demoted, 'member')))
  for (const d of demoted) await s.stores.rooms.setMember(f.room.id, d.roster_id, { role: 'member' })
  if (gone.length) await s.systemMessage(f.room.id, `${await names(s, gone.map((g) => g.roster_id))} removed`)
  for (const g of gone) await s.stores.rooms.removeMember(f.room.id, g.roster_id)
  await unsubscribe(s, gone.map((g) => g.roster_id), f.room.id)
}

const memberRecordOf = (s: Synrc, roomId: string, rosterId: string): Rec =>
  ({ $: 'Member', feed_id: { $: 'muc', name: bin(roomId) }, phone_id: bin(rosterId) })

// §6.8 leave; an owner who leaves hands the room to the first admin (else the first member); the last one out deletes it
const leave: Handler = async ({ rec, from }, s) => {
  const f = await roomFor(s, from, rec)
  if (!f) return
  if (!f.me) return fail(s, from, 'MMBRIE1', memberRecordOf(s, f.room.id, from.rosterId!))
  const { room, me } = f
  await s.publish(roomTopic(room.id), change(room.id, 'leave', [await memberRecord(s, me, { status: 'removed' })]))
  await s.systemMessage(room.id, `${await names(s, [me.roster_id])} left`)
  await s.stores.rooms.removeMember(room.id, me.roster_id)
  await unsubscribe(s, [me.roster_id], room.id)
  const rest = await s.stores.rooms.members(room.id)
  if (rest.length === 0) return s.stores.rooms.remove(room.id)
  if (me.role === 'owner') {
    const heir = rest.find((x) => x.role === 'admin') ?? rest[0]
    await s.stores.rooms.setMember(room.id, heir.roster_id, { role: 'owner' })
    await s.publish(roomTopic(room.id), change(room.id, 'patch', [], [await memberRecord(s, { ...heir, role: 'owner' })]))
  }
}

const mute: Handler = async ({ rec, from }, s) => {
  const f = await roomFor(s, from, rec)
  if (!f) return
  if (!f.me) return denied(s, from, f.room.id)
  await s.stores.rooms.setMember(f.room.id, from.rosterId!, { muted: rec.status === 'mute' ? 1 : 0 })
  await s.publish(devicesTopic(from.phone!), { $: 'Room', id: bin(f.room.id), status: rec.status })
}

// §6.8 delete, from a sys_ client only: the members hear of it on room/<id>, then lose the subscription; no reply
const del: Handler = async ({ rec, from }, s) => {
  if (from.kind !== 'sys') {
    const id = text(rec.id)
    return id ? denied(s, from, id) : invalid(s, from)
  }
  const f = await roomFor(s, from, rec)
  if (!f) return
  const ms = await s.stores.rooms.members(f.room.id)
  await s.publish(roomTopic(f.room.id), change(f.room.id, 'delete'))
  await s.stores.rooms.remove(f.room.id)
  await unsubscribe(s, ms.map((m) => m.roster_id), f.room.id)
}

const BY_STATUS: Record<string, Handler> = {
  create, get, patch, add, join: add, remove, leave, mute, unmute: mute, delete: del,
}

/** §5: devices, and sys_ clients for get and delete (a service account has no roster to act as) */
export const room: Handler = async (r: Request, s) => {
  const h = BY_STATUS[r.rec.status]
  if (!h || (r.from.kind === 'sys' && h !== get && h !== del)) return invalid(s, r.from)
  await h(r, s)
}
