// SYNRC rooms, their members and links (§6.8, §6.9, §7 'Room', 'Member', 'Link', Index{link}): the only file with
// synrc_rooms / synrc_members / synrc_links SQL.
import type { Db } from '../../../core/store/db.ts'
import { FavStore } from './favs.ts'

export interface RoomRow {
  id: string
  name: string
  description: string
  /** group | channel | call */
  type: string
  /** ETF (base64) of what the server keeps opaque: settings, data (avatar), links, tos */
  doc: string
  created: number
  update_at: number
}

/** owner | admin | member; alias, avatar, names, surnames: what Member/patch set for this room (null: the roster's) */
export interface MemberRow {
  room_id: string
  roster_id: string
  role: string
  muted: number
  joined: number
  alias?: string | null
  avatar?: string | null
  names?: string | null
  surnames?: string | null
}

/** a room's link (§6.9): its text is unique over all rooms */
export interface LinkRow { id: string; room_id: string; name: string; type: string | null; created: number }

/** §6.8: at most this many links per room (LNKIE3) */
export const MAX_LINKS = 3

export type LinkAdd = 'added' | 'taken' | 'max'

export type MemberPatch = Partial<Pick<MemberRow, 'role' | 'muted' | 'alias' | 'avatar' | 'names' | 'surnames'>>

export class RoomStore {
  /** stars and tags (§6.11) ride on this store until Stores has its own entry for them */
  readonly favs: FavStore
  constructor(private readonly db: Db) {
    this.favs = new FavStore(db)
  }

  /** issue 15: rooms in all, for the admin console */
  async count(): Promise<number> {
    const row = await this.db.selectFrom('synrc_rooms').select((eb) => eb.fn.countAll().as('c')).executeTakeFirstOrThrow()
    return Number(row.c)
  }

  async get(id: string): Promise<RoomRow | undefined> {
    return this.db.selectFrom('synrc_rooms').selectAll().where('id', '=', id).executeTakeFirst() as Promise<RoomRow | undefined>
  }

  /** the room, its first members and links in one transaction: 'room' when the id is taken, 'link' when a link is */
  async create(room: RoomRow, members: Omit<MemberRow, 'room_id'>[], links: Omit<LinkRow, 'room_id'>[] = []): Promise<'created' | 'room' | 'link'> {
    try {
      return await this.created(room, members, links)
    } catch (err) {
      // a concurrent create of the id or of one of the links: the keys let one in; the other learns which was taken
      if (await this.get(room.id)) return 'room'
      for (const l of links) if (await this.link(l.id)) return 'link'
      throw err
    }
  }

  private async created(room: RoomRow, members: Omit<MemberRow, 'room_id'>[], links: Omit<LinkRow, 'room_id'>[]): Promise<'created' | 'room' | 'link'> {
    return this.db.transaction().execute(async (trx) => {
      const taken = await trx.selectFrom('synrc_rooms').select('id').where('id', '=', room.id).executeTakeFirst()
      if (taken) return 'room'
      if (links.length) {
        const used = await trx.selectFrom('synrc_links').select('id').where('id', 'in', links.map((l) => l.id)).executeTakeFirst()
        if (used) return 'link'
      }
      await trx.insertInto('synrc_rooms').values(room).execute()
      if (members.length) await trx.insertInto('synrc_members').values(members.map((m) => ({ ...m, room_id: room.id }))).execute()
      if (links.length) await trx.insertInto('synrc_links').values(links.map((l) => ({ ...l, room_id: room.id }))).execute()
      return 'created'
    })
  }

  async update(id: string, set: Partial<Omit<RoomRow, 'id'>>): Promise<void> {
    await this.db.updateTable('synrc_rooms').set(set).where('id', '=', id).execute()
  }

  async remove(id: string): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('synrc_members').where('room_id', '=', id).execute()
      await trx.deleteFrom('synrc_links').where('room_id', '=', id).execute()
      await trx.deleteFrom('synrc_rooms').where('id', '=', id).execute()
    })
  }

  async member(roomId: string, rosterId: string): Promise<MemberRow | undefined> {
    return this.db.selectFrom('synrc_members').selectAll().where('room_id', '=', roomId).where('roster_id', '=', rosterId)
      .executeTakeFirst() as Promise<MemberRow | undefined>
  }

  async isMember(roomId: string, rosterId: string): Promise<boolean> {
    return (await this.member(roomId, rosterId)) !== undefined
  }

  async members(roomId: string): Promise<MemberRow[]> {
    return this.db.selectFrom('synrc_members').selectAll().where('room_id', '=', roomId).orderBy('joined').orderBy('roster_id')
      .execute() as Promise<MemberRow[]>
  }

  async addMember(m: MemberRow): Promise<void> {
    await this.db.insertInto('synrc_members').values(m)
      .onConflict((oc) => oc.columns(['room_id', 'roster_id']).doUpdateSet({ role: m.role })).execute()
  }

  async setMember(roomId: string, rosterId: string, set: MemberPatch): Promise<void> {
    await this.db.updateTable('synrc_members').set(set).where('room_id', '=', roomId).where('roster_id', '=', rosterId).execute()
  }

  async removeMember(roomId: string, rosterId: string): Promise<void> {
    await this.db.deleteFrom('synrc_members').where('room_id', '=', roomId).where('roster_id', '=', rosterId).execute()
  }

  /** the rooms a roster is a member of */
  async roomsOf(rosterId: string): Promise<string[]> {
    const rows = await this.db.selectFrom('synrc_members').select('room_id').where('roster_id', '=', rosterId).orderBy('room_id').execute()
    return rows.map((r) => r.room_id as string)
  }

  async link(id: string): Promise<LinkRow | undefined> {
    return this.db.selectFrom('synrc_links').selectAll().where('id', '=', id).executeTakeFirst() as Promise<LinkRow | undefined>
  }

  async linksOf(roomId: string): Promise<LinkRow[]> {
    return this.db.selectFrom('synrc_links').selectAll().where('room_id', '=', roomId).orderBy('created').orderBy('id')
      .execute() as Promise<LinkRow[]>
  }

  /** a new link of a room, unless the text is taken (by any room) or the room has MAX_LINKS */
  async addLink(l: LinkRow): Promise<LinkAdd> {
    try {
      return await this.db.transaction().execute(async (trx) => {
        // the room's row locked for this transaction (an UPDATE locks on PostgreSQL; SQLite runs one at a time): two
        // links added at once both see the other's, and the room keeps at most MAX_LINKS
        await trx.updateTable('synrc_rooms').set((eb) => ({ update_at: eb.ref('update_at') })).where('id', '=', l.room_id).execute()
        if (await trx.selectFrom('synrc_links').select('id').where('id', '=', l.id).executeTakeFirst()) return 'taken'
        const n = await trx.selectFrom('synrc_links').select((eb) => eb.fn.countAll<number>().as('n')).where('room_id', '=', l.room_id)
          .executeTakeFirstOrThrow()
        if (Number(n.n) >= MAX_LINKS) return 'max'
        await trx.insertInto('synrc_links').values(l).execute()
        return 'added'
      })
    } catch (err) {
      // two claims of one text at once: the primary key lets one in; the other finds it taken
      if (await this.link(l.id)) return 'taken'
      throw err
    }
  }

  async updateLink(id: string, set: Partial<Pick<LinkRow, 'name' | 'type'>>): Promise<void> {
    await this.db.updateTable('synrc_links').set(set).where('id', '=', id).execute()
  }

  async removeLink(id: string): Promise<void> {
    await this.db.deleteFrom('synrc_links').where('id', '=', id).execute()
  }
}
