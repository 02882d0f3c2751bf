// SYNRC rosters (§6.3, §7 'Roster', 'Index') and the profile's own settings (§6.2): one roster per phone, id
// `<phone>_1`; the only file with synrc_rosters / synrc_profiles SQL. The nick index of §7 is the unique `nick` column.
import type { Db } from '../../../core/store/db.ts'

export interface RosterRow {
  id: string
  phone: string
  names: string
  surnames: string
  email: string
  nick: string | null
  avatar: string
  created: number
  update_at: number
}

/** Profile.settings and balance (§6.2 patch/set); settings as JSON of Features */
export interface ProfileRow { phone: string; settings: string; balance: number; update_at: number }

export type RosterPatch = Partial<Pick<RosterRow, 'names' | 'surnames' | 'email' | 'avatar'>>

/** §6.3: roster ids on the wire are `<Phone>_<RosterId>` */
export const rosterIdOf = (phone: string): string => `${phone}_1`
/** the phone part of a roster id */
export const phoneOfRoster = (rosterId: string): string => rosterId.replace(/_[^_]*$/, '')

export class RosterStore {
  constructor(private readonly db: Db) {}

  async get(id: string): Promise<RosterRow | undefined> {
    return this.db.selectFrom('synrc_rosters').selectAll().where('id', '=', id).executeTakeFirst() as Promise<RosterRow | undefined>
  }

  async byPhone(phone: string): Promise<RosterRow[]> {
    return this.db.selectFrom('synrc_rosters').selectAll().where('phone', '=', phone).orderBy('id').execute() as Promise<RosterRow[]>
  }

  /** these rosters (a roster's contacts, §6.3 get), by id */
  async byIds(ids: string[]): Promise<Map<string, RosterRow>> {
    if (ids.length === 0) return new Map()
    const rows = await this.db.selectFrom('synrc_rosters').selectAll().where('id', 'in', ids).execute() as RosterRow[]
    return new Map(rows.map((r) => [r.id, r]))
  }

  /** the rosters of these phones (§6.10 phone search) */
  async byPhones(phones: string[]): Promise<RosterRow[]> {
    if (phones.length === 0) return []
    return this.db.selectFrom('synrc_rosters').selectAll().where('phone', 'in', phones).orderBy('id').execute() as Promise<RosterRow[]>
  }

  /** the roster holding a nick, compared case-insensitively (so `Alice` and `alice` are one nick) */
  async byNick(nick: string): Promise<RosterRow | undefined> {
    return this.db.selectFrom('synrc_rosters').selectAll().where((eb) => eb(eb.fn('lower', ['nick']), '=', nick.toLowerCase()))
      .executeTakeFirst() as Promise<RosterRow | undefined>
  }

  /** the phone's first roster, made if it has none (a verified registration, Roster/create) */
  async ensure(phone: string, now: number, fields: RosterPatch = {}): Promise<RosterRow> {
    const id = rosterIdOf(phone)
    await this.db.insertInto('synrc_rosters').values({
      id, phone, names: '', surnames: '', email: '', nick: null, avatar: '', ...fields, created: now, update_at: now,
    }).onConflict((oc) => oc.column('id').doNothing()).execute()
    return (await this.get(id))!
  }

  async patch(id: string, set: RosterPatch, now: number): Promise<void> {
    await this.db.updateTable('synrc_rosters').set({ ...set, update_at: now }).where('id', '=', id).execute()
  }

  /** §7 Index{id={nick,Nick}}: false when another roster holds the nick (the unique column settles races) */
  async setNick(id: string, nick: string, now: number): Promise<boolean> {
    const holder = await this.byNick(nick)
    if (holder && holder.id !== id) return false
    try {
      await this.db.updateTable('synrc_rosters').set({ nick, update_at: now }).where('id', '=', id).execute()
      return true
    } catch (err) {
      if (/unique|duplicate/i.test(String((err as Error).message))) return false
      throw err
    }
  }

  async remove(id: string): Promise<void> {
    await this.db.deleteFrom('synrc_rosters').where('id', '=', id).execute()
  }

  async profile(phone: string): Promise<ProfileRow | undefined> {
    return this.db.selectFrom('synrc_profiles').selectAll().where('phone', '=', phone).executeTakeFirst() as Promise<ProfileRow | undefined>
  }

  async setProfile(phone: string, set: Partial<Pick<ProfileRow, 'settings' | 'balance'>>, now: number): Promise<void> {
    await this.db.insertInto('synrc_profiles').values({ phone, settings: '[]', balance: 0, ...set, update_at: now })
      .onConflict((oc) => oc.column('phone').doUpdateSet({ ...set, update_at: now })).execute()
  }

  async removeProfile(phone: string): Promise<void> {
    await this.db.deleteFrom('synrc_profiles').where('phone', '=', phone).execute()
  }
}
