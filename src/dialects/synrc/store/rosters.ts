// SYNRC rosters (§6.3, §7 'Roster'): one per phone, id `<phone>_1`; the only file with synrc_rosters SQL.
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

  /** the phone's first roster, made if it has none (a verified registration) */
  async ensure(phone: string, now: number): Promise<RosterRow> {
    const id = rosterIdOf(phone)
    await this.db.insertInto('synrc_rosters').values({ id, phone, names: '', surnames: '', email: '', nick: null, avatar: '', created: now, update_at: now })
      .onConflict((oc) => oc.column('id').doNothing()).execute()
    return (await this.get(id))!
  }
}
