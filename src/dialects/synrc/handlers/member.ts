// MEMBER (§6.8 Member/patch, §6.5 Member presence): a room member as the Member record, the permission and error
// replies the room, link and member handlers share, and a member's own patch of how it shows in one room.
import type { DeviceHooks, Handler, Sender, Synrc } from '../context.ts'
import type { MemberRow } from '../store/rooms.ts'
import { phoneOfRoster, rosterIdOf, type RosterRow } from '../store/rosters.ts'
import { roomTopic } from '../topics.ts'
import { error, type Rec } from '../wire.ts'

export const text = (v: unknown): string | undefined => (v instanceof Uint8Array && v.length ? Buffer.from(v).toString('utf8') : undefined)
export const bin = (s: string): Buffer => Buffer.from(s, 'utf8')
const opt = (s: string | null | undefined): Buffer | null => (s ? bin(s) : null)

/** owner and admins may change a room (§6.8 "only admins add/remove/patch") */
export const isAdmin = (m: MemberRow | undefined): boolean => m?.role === 'owner' || m?.role === 'admin'

/** how a roster is named in system messages: names and surnames, else its nick, else its phone */
export function displayName(r: RosterRow | undefined, rosterId: string): string {
  const full = [r?.names, r?.surnames].filter(Boolean).join(' ')
  return full || r?.nick || phoneOfRoster(rosterId)
}

/** a Member's roster id (Member.phone_id, §6.8): a roster id, or a bare phone standing for its roster */
export async function rosterOf(s: Synrc, v: unknown): Promise<RosterRow | undefined> {
  const id = text(v)
  if (!id) return undefined
  return (await s.stores.rosters.get(id)) ?? (/^[0-9]{5,20}$/.test(id) ? s.stores.rosters.get(rosterIdOf(id)) : undefined)
}

/** §3 Member: a membership as the record (presence from this node's connections; status = its role) */
export async function memberRecord(s: Synrc, m: MemberRow, extra: Partial<Rec> = {}): Promise<Rec> {
  const r = await s.stores.rosters.get(m.roster_id)
  return {
    $: 'Member', feed_id: { $: 'muc', name: bin(m.room_id) }, phone_id: bin(m.roster_id),
    avatar: opt(m.avatar ?? r?.avatar), names: opt(m.names ?? r?.names), surnames: opt(m.surnames ?? r?.surnames), alias: opt(m.alias),
    reader: 0, update: m.joined, settings: [], services: [],
    presence: s.connectedDevices(phoneOfRoster(m.roster_id)).length ? 'online' : 'offline', status: m.role, ...extra,
  }
}

/** §6.8: `{errors, [Code], Data}` to the requester */
export const fail = (s: Synrc, from: Sender, code: string, data: unknown): Promise<void> =>
  s.reply(from.clientId, { $: 'errors', code: [bin(code)], data })

/** §6.8 `{errors,[<<"permissions_denied">>],Member}`: the requester as a member of the room (or as who it is) */
export async function denied(s: Synrc, from: Sender, roomId: string): Promise<void> {
  const m = from.rosterId ? await s.stores.rooms.member(roomId, from.rosterId) : undefined
  const me = m ? await memberRecord(s, m) : { $: 'Member', feed_id: { $: 'muc', name: bin(roomId) }, phone_id: opt(from.rosterId) }
  return fail(s, from, 'permissions_denied', me)
}

export const invalid = (s: Synrc, from: Sender): Promise<void> => s.reply(from.clientId, s.wire.io(error('invalid_data'), bin('')))

/** the room a Member record names: feed_id {muc, RoomId} */
export const roomOfMember = (rec: Rec): string | undefined => (rec.feed_id?.$ === 'muc' ? text(rec.feed_id.name) : undefined)

/** §6.8 Member/patch (self): alias, avatar, names, surnames for one room, to room/<id> (the doc's Member/:member) */
export const member: Handler = async (r, s) => {
  const { rec, from } = r
  if (rec.status !== 'patch') return invalid(s, from)
  const roomId = roomOfMember(rec)
  if (!roomId) return invalid(s, from)
  const me = await s.stores.rooms.member(roomId, from.rosterId!)
  if (!me) return (await s.stores.rooms.get(roomId)) ? denied(s, from, roomId) : fail(s, from, 'RCHIE2', rec)
  // a member patches itself only: a phone_id naming someone else is refused
  if (rec.phone_id !== null && text(rec.phone_id) !== from.rosterId) return denied(s, from, roomId)
  const set: Partial<MemberRow> = {}
  for (const k of ['alias', 'avatar', 'names', 'surnames'] as const) if (rec[k] !== null) set[k] = text(rec[k]) ?? ''
  await s.stores.rooms.setMember(roomId, from.rosterId!, set)
  const now = await s.stores.rooms.member(roomId, from.rosterId!)
  await s.publish(roomTopic(roomId), await memberRecord(s, now!, { status: 'patch' }))
}

/**
 * §6.5: Member{presence} to the rooms of a device's roster when its phone comes online (first device) and goes
 * offline (last device).
 */
export const presenceHooks = (s: Synrc): DeviceHooks => {
  const announce = async (d: Sender, presence: 'online' | 'offline') => {
    for (const roomId of await s.stores.rooms.roomsOf(d.rosterId!)) {
      const m = await s.stores.rooms.member(roomId, d.rosterId!)
      if (m) await s.publish(roomTopic(roomId), await memberRecord(s, m, { presence }))
    }
  }
  return {
    connected: async (d) => { if (s.connectedDevices(d.phone!).length === 1) await announce(d, 'online') },
    disconnected: async (d) => { if (s.connectedDevices(d.phone!).length === 0) await announce(d, 'offline') },
  }
}
