// SEARCH (§6.10): `Search{ref, field, '==', value, status}` → `{io,{ok,Ref},Roster{userlist=[Contact…]}}`: by nick
// and by a list of phones (status contact). Link search (status room) belongs with the room links' index: the rooms
// module registers it with addSearch('link', …); until one is registered a link search is an unsupported clause.
import type { Handler, Request, Synrc } from '../context.ts'
import type { RosterRow } from '../store/rosters.ts'
import { error, ok, type Rec } from '../wire.ts'
import { bin, contactOf, text } from './presence.ts'
import { rosterRecord } from './profile.ts'

/** what a search field finds: the Roster envelope's fields (userlist of Contacts, roomlist of Rooms) */
export type SearchField = (r: Request, s: Synrc, values: unknown[]) => Promise<{ userlist?: Rec[]; roomlist?: Rec[] } | undefined>

/** the most values one search may name (a phone book) */
export const MAX_VALUES = 1000

/** the rosters found, as Contacts: the searcher's relation as status; those that banned the searcher are not found */
async function contacts(s: Synrc, me: string, rows: RosterRow[]): Promise<Rec[]> {
  const banners = new Set((await s.stores.friends.listedBy(me)).filter((f) => f.status === 'ban').map((f) => f.roster_id))
  const mine = new Map((await s.stores.friends.of(me)).map((f) => [f.friend_id, f.status]))
  return rows.filter((row) => !banners.has(row.id)).map((row) => {
    const status = mine.get(row.id) ?? null
    return contactOf(s, row, status, { presence: status === 'friend' })
  })
}

const nick: SearchField = async (r, s, values) => {
  const rows: RosterRow[] = []
  for (const v of values) {
    const n = text(v)
    const row = n ? await s.stores.rosters.byNick(n) : undefined
    if (row && !rows.some((x) => x.id === row.id)) rows.push(row)
  }
  return { userlist: await contacts(s, r.from.rosterId!, rows) }
}

const phone: SearchField = async (r, s, values) => {
  const phones = values.map((v) => (typeof v === 'number' || typeof v === 'bigint' ? String(v) : text(v)?.replace(/^\+/, '')))
    .filter((p): p is string => !!p && /^[0-9]{5,20}$/.test(p))
  return { userlist: await contacts(s, r.from.rosterId!, await s.stores.rosters.byPhones([...new Set(phones)])) }
}

/** field → (the Search.status it answers, its finder) */
const FIELDS = new Map<string, { status: string; find: SearchField }>([
  ['nick', { status: 'contact', find: nick }],
  ['phone', { status: 'contact', find: phone }],
])

/** a further search field, e.g. the rooms module's `link` (status room) */
export function addSearch(field: string, status: string, find: SearchField): void {
  FIELDS.set(field, { status, find })
}

export const search: Handler = async (r, s) => {
  const fail = () => s.reply(r.from.clientId, s.wire.io(error('invalid_data'), bin('')))
  const ref = r.rec.ref
  const f = FIELDS.get(text(r.rec.field) ?? '')
  const values: unknown[] = Array.isArray(r.rec.value) ? r.rec.value : []
  // §6.10: only `==`, a ref to answer with, one of the supported field/status clauses, a bounded list of values
  if (!f || f.status !== r.rec.status || r.rec.type !== '==' || !(ref instanceof Uint8Array) || ref.length === 0 ||
    values.length === 0 || values.length > MAX_VALUES) return fail()
  const found = await f.find(r, s, values)
  if (!found) return fail()
  const row = await s.stores.rosters.get(r.from.rosterId!)
  const envelope = row ? rosterRecord(row, { ...found, status: 'search' }) : { $: 'Roster', id: bin(r.from.rosterId!), ...found, status: 'search' }
  await s.reply(r.from.clientId, s.wire.io(ok(Buffer.from(ref) as unknown as string), envelope))
}
