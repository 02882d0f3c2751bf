// ROSTER (§6.3): get, patch, nick (with the nick index of §7), remove, create, list, add, del on the device's own
// roster (`<phone>_1`, one per phone). Changes go to devices/<phone> as the Roster and to contacts/<rosterId> (the
// friends) as a Contact.
import type { Handler, Request, Synrc } from '../context.ts'
import type { RosterPatch, RosterRow } from '../store/rosters.ts'
import { contactsTopic, devicesTopic, validLevel } from '../topics.ts'
import { error, ok, type Rec } from '../wire.ts'
import { dropRoster } from './friend.ts'
import { bareContact, bin, contactOf, text, toFriends } from './presence.ts'
import { rosterRecord } from './profile.ts'

const fail = (r: Request, s: Synrc, code: string) => s.reply(r.from.clientId, s.wire.io(error(code), bin('')))

/** §6.3 patch fields and how long each may be (an avatar is a URL or a small data URI) */
const LIMITS: Record<keyof RosterPatch, number> = { names: 256, surnames: 256, email: 256, avatar: 64 * 1024 }
/** nicks as the spec's other unique index, room links (§6.8 `^[a-zA-Z0-9_]{2,48}$`); unique case-insensitively */
export const NICK = /^[a-zA-Z0-9_]{2,48}$/
/** the most contacts one Roster/add or del names */
const MAX_LIST = 1000

/** the roster id a request names: its own when empty; an integer n is `<phone>_n` (Roster.id is binary | integer) */
function idOf(r: Request): string | undefined {
  const v: unknown = r.rec.id
  if (v === null) return r.from.rosterId
  if (typeof v === 'number' || typeof v === 'bigint') return `${r.from.phone}_${v}`
  return text(v)
}

/** the full roster: its contacts (every row, with its status) and rooms */
export async function fullRoster(s: Synrc, row: RosterRow, status: string | null): Promise<Rec> {
  const rows = await s.stores.friends.of(row.id)
  const others = await s.stores.rosters.byIds(rows.map((f) => f.friend_id))
  const userlist = rows.map((f) => {
    const other = others.get(f.friend_id)
    return other ? contactOf(s, other, f.status, { presence: f.status === 'friend' }) : bareContact(f.friend_id, f.status)
  })
  const roomlist: Rec[] = []
  for (const id of await s.stores.rooms.roomsOf(row.id)) {
    const room = await s.stores.rooms.get(id)
    if (room) roomlist.push({ $: 'Room', id: bin(room.id), name: bin(room.name), type: room.type })
  }
  return rosterRecord(row, { userlist, roomlist, status })
}

/** a change: the Roster to the owner's devices, the Contact to its friends */
async function announce(s: Synrc, id: string, status: string): Promise<void> {
  const row = (await s.stores.rosters.get(id))!
  await s.publish(devicesTopic(row.phone), await fullRoster(s, row, status))
  await toFriends(s, id)
}

/** names, surnames, email, avatar of a request, when given and within limits; undefined when one is over */
function patchOf(rec: Rec): RosterPatch | undefined {
  const set: RosterPatch = {}
  for (const k of Object.keys(LIMITS) as (keyof RosterPatch)[]) {
    const v = text(rec[k])
    if (v === undefined) continue
    if (Buffer.byteLength(v) > LIMITS[k]) return undefined
    set[k] = v
  }
  return set
}

/** the nick check of nick and patch: invalid_nick, nick (taken), or set */
async function setNick(r: Request, s: Synrc, id: string, nick: string | undefined): Promise<boolean> {
  if (!nick || !NICK.test(nick)) { await fail(r, s, 'invalid_nick'); return false }
  if (!(await s.stores.rosters.setNick(id, nick, s.clock.now()))) { await fail(r, s, 'nick'); return false }
  return true
}

/** the contact ids of a Roster/add or del userlist (Contacts; bare integers name nobody) */
const listed = (rec: Rec): string[] =>
  [...new Set(((rec.userlist ?? []) as Rec[]).filter((c) => c && c.$ === 'Contact').map((c) => text(c.phone_id)).filter((x): x is string => !!x && validLevel(x)))]

const BY_STATUS: Record<string, (r: Request, s: Synrc, row: RosterRow) => Promise<void>> = {
  get: async (r, s, row) => s.reply(r.from.clientId, await fullRoster(s, row, 'get')),

  // §6.3: the contacts, rooms, stars and tags of a patch are not taken: they change through Friend, Room, Star, Tag
  patch: async (r, s, row) => {
    const set = patchOf(r.rec)
    if (!set) return fail(r, s, 'invalid_data')
    const nick = text(r.rec.nick)
    if (nick !== undefined && nick !== row.nick && !(await setNick(r, s, row.id, nick))) return
    await s.stores.rosters.patch(row.id, set, s.clock.now())
    await announce(s, row.id, 'patch')
  },

  nick: async (r, s, row) => {
    if (!(await setNick(r, s, row.id, text(r.rec.nick)))) return
    await announce(s, row.id, 'nick')
  },

  remove: async (r, s, row) => {
    // the friends hear it while they still follow contacts/<rosterId>
    await s.publish(contactsTopic(row.id), bareContact(row.id, 'remove'))
    await dropRoster(s, row)
    await s.reply(r.from.clientId, s.wire.io(ok('removed'), bin('')))
  },

  add: async (r, s, row) => {
    const ids = listed(r.rec).filter((id) => id !== row.id).slice(0, MAX_LIST)
    const added: string[] = []
    const present: Buffer[] = []
    for (const id of ids) {
      if (!(await s.stores.rosters.get(id))) continue
      if (await s.stores.friends.get(row.id, id)) present.push(bin(id))
      else {
        // a contact kept in the roster without a friendship (Contact status internal); Friend/request asks for one
        await s.stores.friends.set(row.id, id, 'internal', s.clock.now())
        added.push(id)
      }
    }
    if (added.length) return s.reply(r.from.clientId, s.wire.io(ok('added'), bin('')))
    if (present.length) return s.reply(r.from.clientId, s.wire.io(ok('already_present', present), bin('')))
    await fail(r, s, 'contacts_not_found')
  },

  // only contacts added with Roster/add leave here; a friendship ends with Friend/revoke
  del: async (r, s, row) => {
    const removed: Buffer[] = []
    for (const id of listed(r.rec).slice(0, MAX_LIST)) {
      if ((await s.stores.friends.get(row.id, id))?.status !== 'internal') continue
      await s.stores.friends.remove(row.id, id)
      removed.push(bin(id))
    }
    if (!removed.length) return fail(r, s, 'contacts_not_found')
    await s.reply(r.from.clientId, s.wire.io(ok('removed', removed), bin('')))
  },
}

export const roster: Handler = async (r, s) => {
  const phone = r.from.phone!
  const status = r.rec.status === 'nickid' ? 'nick' : String(r.rec.status)
  if (status === 'list') {
    const rows = await s.stores.rosters.byPhone(phone)
    if (!rows.length) return fail(r, s, 'profile_not_found')
    // §6.3 `{io,List,<<>>}`: the list is io's code
    return s.reply(r.from.clientId, { $: 'io', code: rows.map((row) => rosterRecord(row, { status: 'list' })), data: bin('') })
  }
  if (status === 'create') {
    // one roster per phone: create (re)makes the phone's roster, with the names it is given, and answers it
    const set = patchOf(r.rec)
    if (!set) return fail(r, s, 'invalid_data')
    const row = await s.stores.rosters.ensure(phone, s.clock.now(), set)
    return s.reply(r.from.clientId, await fullRoster(s, row, 'create'))
  }
  const op = BY_STATUS[status]
  if (!op) return fail(r, s, 'invalid_data')
  const id = idOf(r)
  // another user's roster answers as a missing one: a device reads and changes its own only
  const row = id !== undefined && id === r.from.rosterId ? await s.stores.rosters.get(id) : undefined
  if (!row) {
    if (status === 'remove' && !(await s.stores.rosters.byPhone(phone)).length) return fail(r, s, 'profile_not_found')
    return fail(r, s, status === 'patch' || status === 'nick' ? 'not_found' : 'roster_not_found')
  }
  await op(r, s, row)
}
