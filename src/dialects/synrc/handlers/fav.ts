// FAV (§6.11): Star add/remove and Tag create/edit/remove, kept per roster (the sender's own). FAV.md documents no
// replies: Herald echoes the stored record (with its status) to the requester's devices, so every device of the
// user learns of it; a request that names another roster, or a missing star or tag, gets an io error.
import type { Handler, Request, Synrc } from '../context.ts'
import type { StarRow } from '../store/favs.ts'
import { devicesTopic } from '../topics.ts'
import { error, Wire, type Rec } from '../wire.ts'
import { bin, invalid, text } from './member.ts'

// a star's message and tags as a layout A Star term: the same bytes whatever the wire speaks
const storage = new Wire({ layout: 'a', maxBytes: 16 * 1024 * 1024 })

/** Star.roster_id is an integer (Appendix A): the number of `<Phone>_<RosterId>` (§6.3) */
const rosterNumber = (rosterId: string): number => Number(rosterId.slice(rosterId.lastIndexOf('_') + 1)) || 0

const intOf = (v: unknown): number | undefined =>
  (typeof v === 'number' && Number.isSafeInteger(v)) || (typeof v === 'bigint' && v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= 0n) ? Number(v) : undefined

export function starRecord(row: StarRow, status: string | null = null): Rec {
  const d = storage.decode(Buffer.from(row.doc, 'base64'))
  return {
    $: 'Star', id: row.id, client_id: row.client_id ? bin(row.client_id) : null, roster_id: rosterNumber(row.roster_id),
    message: d.message, tags: d.tags, status,
  }
}

/** a roster's stars and tags, for Roster.favorite and Roster.tags */
export async function favoritesOf(s: Synrc, rosterId: string): Promise<{ favorite: Rec[]; tags: Rec[] }> {
  const favs = s.stores.rooms.favs
  return {
    favorite: (await favs.stars(rosterId)).map((r) => starRecord(r)),
    tags: (await favs.tags(rosterId)).map((t) => ({ $: 'Tag', roster_id: bin(t.roster_id), name: bin(t.name), color: bin(t.color), status: null })),
  }
}

const toDevices = (r: Request, s: Synrc, rec: Rec) => s.publish(devicesTopic(r.from.phone!), rec)
const ioError = (r: Request, s: Synrc, code: string) => s.reply(r.from.clientId, s.wire.io(error(code), bin('')))

// the star's id: the one given, else the starred message's (one star per message), else the next free one
export const star: Handler = async (r, s) => {
  const { rec } = r
  const me = r.from.rosterId!
  const favs = s.stores.rooms.favs
  if (rec.roster_id !== null && rec.roster_id !== rosterNumber(me)) return ioError(r, s, 'not_authorized')
  const id = intOf(rec.id) ?? intOf(rec.message?.id)
  if (rec.status === 'add') {
    if (!rec.message) return invalid(s, r.from)
    const row: StarRow = {
      roster_id: me, id: id ?? await favs.nextStarId(me), client_id: text(rec.client_id) ?? null, created: s.clock.now(),
      doc: storage.encode({ $: 'Star', message: rec.message, tags: rec.tags ?? [] }).toString('base64'),
    }
    await favs.setStar(row)
    return toDevices(r, s, starRecord(row, 'add'))
  }
  if (rec.status === 'remove') {
    const row = id === undefined ? undefined : await favs.star(me, id)
    if (!row) return ioError(r, s, 'not_found')
    await favs.removeStar(me, row.id)
    return toDevices(r, s, starRecord(row, 'remove'))
  }
  await invalid(s, r.from)
}

// a tag is named by (roster, name): the header's Tag has no id (§6.11, the doc's 5-field Tag is older)
export const tag: Handler = async (r, s) => {
  const { rec } = r
  const me = r.from.rosterId!
  const favs = s.stores.rooms.favs
  if (rec.roster_id !== null && text(rec.roster_id) !== me) return ioError(r, s, 'not_authorized')
  const name = text(rec.name)
  if (!name || name.length > 255 || !rec.status) return invalid(s, r.from)
  const color = text(rec.color) ?? ''
  const echo = (c: string) => toDevices(r, s, { $: 'Tag', roster_id: bin(me), name: bin(name), color: bin(c), status: rec.status })
  if (rec.status === 'create') {
    if (!(await favs.createTag({ roster_id: me, name, color, created: s.clock.now() }))) return ioError(r, s, 'already_present')
    return echo(color)
  }
  const was = await favs.tag(me, name)
  if (!was) return ioError(r, s, 'not_found')
  if (rec.status === 'edit') {
    await favs.editTag(me, name, color)
    return echo(color)
  }
  await favs.removeTag(me, name)
  await echo(was.color)
}
