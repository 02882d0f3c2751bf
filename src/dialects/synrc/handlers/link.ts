// LINK (§6.9): a room's invite links, unique over all rooms (§7 Index{id={link,L}, roster=[RoomId]}): check, add,
// gen (legacy B), get, join, update, delete. Changes go to room/<id>; only the room's admins make them.
import { randomBytes } from 'node:crypto'
import type { Handler, Sender, Synrc } from '../context.ts'
import type { LinkRow, RoomRow } from '../store/rooms.ts'
import { roomTopic } from '../topics.ts'
import type { Rec } from '../wire.ts'
import { denied, fail, invalid, isAdmin, text } from './member.ts'
import { joinRoom, LINK_RE, linkRecord, roomRecord } from './room.ts'

/** a room that exists (else RCHIE2) and whose admin the requester is (else permissions_denied) */
async function adminRoom(s: Synrc, from: Sender, roomId: string | undefined, rec: Rec): Promise<RoomRow | undefined> {
  const room = roomId ? await s.stores.rooms.get(roomId) : undefined
  if (!room) {
    await fail(s, from, 'RCHIE2', rec)
    return undefined
  }
  if (!isAdmin(await s.stores.rooms.member(room.id, from.rosterId!))) {
    await denied(s, from, room.id)
    return undefined
  }
  return room
}

/** the stored link a request names (else LNKIE4) */
async function existing(s: Synrc, from: Sender, rec: Rec): Promise<LinkRow | undefined> {
  const id = text(rec.id)
  const l = id ? await s.stores.rooms.link(id) : undefined
  if (!l) await fail(s, from, 'LNKIE4', rec)
  return l
}

// §6.9 check: is the text a valid link nobody uses? The Link back (status check) when it is, else LNKIE1 / LNKIE2
const check: Handler = async ({ rec, from }, s) => {
  const id = text(rec.id)
  if (!id || !LINK_RE.test(id)) return fail(s, from, 'LNKIE1', rec)
  if (await s.stores.rooms.link(id)) return fail(s, from, 'LNKIE2', rec)
  await s.reply(from.clientId, { ...rec, status: 'check' })
}

const add: Handler = async ({ rec, from }, s) => {
  // legacy `gen`: Herald picks the link text
  const id = rec.status === 'gen' ? randomBytes(12).toString('base64url').replace(/-/g, '_') : text(rec.id)
  if (!id || !LINK_RE.test(id)) return fail(s, from, 'LNKIE1', rec)
  const room = await adminRoom(s, from, text(rec.room_id), rec)
  if (!room) return
  const l: LinkRow = { id, room_id: room.id, name: text(rec.name) ?? '', type: rec.type ?? null, created: s.clock.now() }
  const r = await s.stores.rooms.addLink(l)
  if (r === 'taken') return fail(s, from, 'LNKIE2', rec)
  if (r === 'max') return fail(s, from, 'LNKIE3', rec)
  await s.publish(roomTopic(room.id), linkRecord(l, rec.status))
}

// §6.9 get resolves a link: the stored Link (with its room_id) to the requester, whoever it is (it is an invitation)
const get: Handler = async ({ rec, from }, s) => {
  const l = await existing(s, from, rec)
  if (l) await s.reply(from.clientId, linkRecord(l, 'get'))
}

// §6.9 join (type=group in the stub): any device joins the room a link names, whatever Link.type says; the full Room back
const join: Handler = async ({ rec, from }, s) => {
  const l = await existing(s, from, rec)
  if (!l) return
  const room = await s.stores.rooms.get(l.room_id)
  if (!room) return fail(s, from, 'RCHIE2', rec)
  if (await s.stores.rooms.isMember(room.id, from.rosterId!)) return s.reply(from.clientId, await roomRecord(s, room, 'joined'))
  await joinRoom(s, from, room)
}

// §6.9 update (with room_id and id): the link's name and type
const update: Handler = async ({ rec, from }, s) => {
  const l = await existing(s, from, rec)
  if (!l) return
  if (text(rec.room_id) !== l.room_id) return fail(s, from, 'LNKIE4', rec)
  const room = await adminRoom(s, from, l.room_id, rec)
  if (!room) return
  const set = { name: rec.name !== null ? text(rec.name) ?? '' : l.name, type: rec.type ?? l.type }
  await s.stores.rooms.updateLink(l.id, set)
  await s.publish(roomTopic(room.id), linkRecord({ ...l, ...set }, 'update'))
}

const del: Handler = async ({ rec, from }, s) => {
  const l = await existing(s, from, rec)
  if (!l) return
  const room = await adminRoom(s, from, l.room_id, rec)
  if (!room) return
  await s.stores.rooms.removeLink(l.id)
  await s.publish(roomTopic(room.id), linkRecord(l, 'delete'))
}

const BY_STATUS: Record<string, Handler> = { check, add, gen: add, get, join, update, delete: del }

export const link: Handler = async (r, s) => {
  const h = BY_STATUS[r.rec.status]
  if (!h) return invalid(s, r.from)
  await h(r, s)
}
