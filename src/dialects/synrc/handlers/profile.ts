// PROFILE (§6.2): the phone's profile with its rosters filled in.
import type { Handler, Synrc } from '../context.ts'
import type { RosterRow } from '../store/rosters.ts'
import { error, type Rec } from '../wire.ts'

const bin = (s: string): Buffer => Buffer.from(s, 'utf8')
const opt = (s: string | null): Buffer | null => (s ? bin(s) : null)

/** a roster row as the Roster record (contacts, rooms, stars and tags are filled by their sub-protocols) */
export function rosterRecord(r: RosterRow, extra: Partial<Rec> = {}): Rec {
  return {
    $: 'Roster', id: bin(r.id), names: opt(r.names), surnames: opt(r.surnames), email: opt(r.email), nick: opt(r.nick),
    userlist: [], roomlist: [], favorite: [], tags: [], phone: bin(r.phone), avatar: opt(r.avatar), update: r.update_at, status: null,
    ...extra,
  }
}

export async function profileOf(s: Synrc, phone: string, status: string | null = null): Promise<Rec> {
  const rosters = await s.stores.rosters.byPhone(phone)
  return {
    $: 'Profile', phone: bin(phone), services: [], rosters: rosters.map((r) => rosterRecord(r)), update: null, settings: [],
    date: Math.max(0, ...rosters.map((r) => r.update_at)), balance: 0, presence: 'online', status,
  }
}

export const profile: Handler = async (r, s) => {
  const phone = r.from.phone
  // a device asks about its own profile only
  const asked = r.rec.phone instanceof Uint8Array ? Buffer.from(r.rec.phone).toString('utf8') : phone
  if (!phone || asked !== phone) return s.reply(r.from.clientId, s.wire.io(error('not_authorized'), bin('')))
  if (r.rec.status === 'get' || r.rec.status === 'init') return s.reply(r.from.clientId, await profileOf(s, phone, r.rec.status))
  await s.reply(r.from.clientId, s.wire.io(error('invalid_data'), bin('')))
}
