// PROFILE (§6.2): the phone's profile with its rosters filled in; get, init, update, set, patch, delete, remove, and
// the answers Herald gives for what it has no backend for (link, email, aws: no mail or cloud service; migrate,
// phone: no phone-number migration). Settings and balance are kept in synrc_profiles.
import type { Handler, Request, Synrc } from '../context.ts'
import type { RosterRow } from '../store/rosters.ts'
import { devicesTopic } from '../topics.ts'
import { error, type Rec } from '../wire.ts'
import { dropRoster } from './friend.ts'
import { bareContact, presenceOf, toFriends } from './presence.ts'

const bin = (s: string): Buffer => Buffer.from(s, 'utf8')
const opt = (s: string | null): Buffer | null => (s ? bin(s) : null)
const text = (v: unknown): string | undefined => (v instanceof Uint8Array ? Buffer.from(v).toString('utf8') : undefined)

/** a roster row as the Roster record (contacts, rooms, stars and tags are filled by their sub-protocols) */
export function rosterRecord(r: RosterRow, extra: Partial<Rec> = {}): Rec {
  return {
    $: 'Roster', id: bin(r.id), names: opt(r.names), surnames: opt(r.surnames), email: opt(r.email), nick: opt(r.nick),
    userlist: [], roomlist: [], favorite: [], tags: [], phone: bin(r.phone), avatar: opt(r.avatar), update: r.update_at, status: null,
    ...extra,
  }
}

type Stored = [id: string | null, key: string | null, value: string | true | null, group: string | null]
const b64 = (v: unknown): string | null => (v instanceof Uint8Array ? Buffer.from(v).toString('base64') : null)
const unb64 = (v: string | null): Buffer | null => (v === null ? null : Buffer.from(v, 'base64'))

/** Profile.settings (Features) as stored JSON, and back */
const MAX_SETTINGS = 200
function storeSettings(list: Rec[]): string {
  return JSON.stringify(list.filter((f) => f?.$ === 'Feature').slice(0, MAX_SETTINGS)
    .map((f): Stored => [b64(f.id), b64(f.key), f.value === 'true' ? true : b64(f.value), b64(f.group)]))
}
function loadSettings(json: string): Rec[] {
  return (JSON.parse(json) as Stored[]).map(([id, key, value, group]) => ({
    $: 'Feature', id: unb64(id), key: unb64(key), value: value === true ? 'true' : unb64(value), group: unb64(group),
  }))
}

export async function profileOf(s: Synrc, phone: string, status: string | null = null): Promise<Rec> {
  const rosters = await s.stores.rosters.byPhone(phone)
  const doc = await s.stores.rosters.profile(phone)
  return {
    $: 'Profile', phone: bin(phone), services: [], rosters: rosters.map((r) => rosterRecord(r)), update: null,
    settings: doc ? loadSettings(doc.settings) : [], date: Math.max(0, doc?.update_at ?? 0, ...rosters.map((r) => r.update_at)),
    balance: doc?.balance ?? 0, presence: presenceOf(s, phone), status,
  }
}

const fail = (r: Request, s: Synrc, code: string) => s.reply(r.from.clientId, s.wire.io(error(code), bin('')))
/** `#io{}`: the record's defaults, [] and the layout's default data ([] in A, <<>> in B) */
const emptyIo = (s: Synrc): Rec => s.wire.io(null, s.wire.layout === 'legacy' ? bin('') : null)

type Op = (r: Request, s: Synrc, phone: string) => Promise<void>

const answer = (status: string): Op => async (r, s, phone) => s.reply(r.from.clientId, await profileOf(s, phone, status))

/** §6.2 delete: the listed rosters of the profile (Roster records, ids, or roster numbers) */
function listedRosters(rec: Rec, phone: string): string[] | undefined {
  const ids: string[] = []
  for (const v of (rec.rosters ?? []) as unknown[]) {
    const id = typeof v === 'number' || typeof v === 'bigint' ? `${phone}_${v}` : text(v) ?? (v && typeof v === 'object' ? text((v as Rec).id) : undefined)
    if (!id) return undefined
    ids.push(id)
  }
  return ids
}

const BY_STATUS: Record<string, Op> = {
  get: answer('get'),
  init: answer('init'),
  // §6.2 update "pushes the profile into friends' rosters": each roster's Contact to its friends
  update: async (r, s, phone) => {
    for (const row of await s.stores.rosters.byPhone(phone)) await toFriends(s, row.id)
    await answer('update')(r, s, phone)
  },
  set: async (r, s, phone) => {
    if (Array.isArray(r.rec.settings) && r.rec.settings.length) await s.stores.rosters.setProfile(phone, { settings: storeSettings(r.rec.settings) }, s.clock.now())
    await answer('set')(r, s, phone)
  },
  // stub clause "patch when balance >= 0": the settings; the balance only from a sys_ service (billing), not a device
  patch: async (r, s, phone) => {
    const balance = Number(r.rec.balance ?? 0)
    if (!Number.isSafeInteger(balance) || balance < 0) return fail(r, s, 'invalid_data')
    const set: { settings?: string; balance?: number } = {}
    if (Array.isArray(r.rec.settings) && r.rec.settings.length) set.settings = storeSettings(r.rec.settings)
    if (r.from.kind === 'sys') set.balance = balance
    if (Object.keys(set).length) await s.stores.rosters.setProfile(phone, set, s.clock.now())
    await s.reply(r.from.clientId, emptyIo(s))
  },
  // stub clause "delete with a non-empty rosters": those rosters of the profile go
  delete: async (r, s, phone) => {
    const ids = listedRosters(r.rec, phone)
    if (!ids?.length) return fail(r, s, 'invalid_data')
    const rows = (await s.stores.rosters.byPhone(phone)).filter((row) => ids.includes(row.id))
    if (rows.length !== new Set(ids).size) return fail(r, s, 'not_authorized')
    for (const row of rows) await dropRoster(s, row)
    await s.reply(r.from.clientId, emptyIo(s))
  },
  // §6.2 remove: the Profile{remove} to every session of the phone, then Contact{deleted} to each counterparty; the
  // devices stay logged in (a Roster/create gives the phone a new, empty roster)
  remove: async (r, s, phone) => {
    const rows = await s.stores.rosters.byPhone(phone)
    if (!rows.length) return fail(r, s, 'not_found')
    const gone: [string, string[]][] = []
    for (const row of rows) gone.push([row.id, await dropRoster(s, row)])
    await s.stores.rosters.removeProfile(phone)
    await s.publish(devicesTopic(phone), { $: 'Profile', phone: bin(phone), rosters: rows.map((row) => bin(row.id)), status: 'remove' })
    for (const [id, others] of gone) {
      for (const other of others) {
        const o = await s.stores.rosters.get(other)
        if (o) await s.publish(devicesTopic(o.phone), bareContact(id, 'deleted'))
      }
    }
    if (r.from.kind === 'sys') await s.reply(r.from.clientId, s.wire.io(null, bin('')))
  },
  // the phone's roster, made again if it was removed (one roster per phone)
  create: async (r, s, phone) => {
    await s.stores.rosters.ensure(phone, s.clock.now())
    await answer('create')(r, s, phone)
  },
  // no mail backend: link (which would send an email) is refused as the spec's Profile refusals are
  link: async (r, s) => fail(r, s, 'not_authorized'),
  // no mail backend, so no code was sent: §6.2's error form
  email: async (r, s) => fail(r, s, 'wrong_code'),
  // no AWS credentials service: §6.2's {io,{error,aws},<<>>}
  aws: async (r, s) => fail(r, s, 'aws'),
  // no phone-number migration (roster ids carry the phone): {error,migration}, and phone is not_authorized
  migrate: async (r, s) => fail(r, s, 'migration'),
  phone: async (r, s) => fail(r, s, 'not_authorized'),
}

export const profile: Handler = async (r, s) => {
  const asked = text(r.rec.phone)
  // a device asks about its own profile only; a sys_ service account names the phone it acts for
  const phone = r.from.kind === 'sys' ? asked : r.from.phone
  const status = String(r.rec.status)
  // migrate and phone name the new phone (§6.2), the others the profile's own
  const renames = status === 'migrate' || status === 'phone'
  if (!phone || (!renames && asked !== undefined && asked !== phone)) return fail(r, s, 'not_authorized')
  const op = BY_STATUS[status]
  if (!op) return fail(r, s, 'invalid_data')
  await op(r, s, phone)
}
