// SYNRC rooms and their members (§6.8, §7 'Room', 'Member'): the only file with synrc_rooms / synrc_members SQL.
import type { Db } from '../../../core/store/db.ts'

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

/** owner | admin | member */
export interface MemberRow { room_id: string; roster_id: string; role: string; muted: number; joined: number }

export class RoomStore {
  constructor(private readonly db: Db) {}

  async get(id: string): Promise<RoomRow | undefined> {
    return this.db.selectFrom('synrc_rooms').selectAll().where('id', '=', id).executeTakeFirst() as Promise<RoomRow | undefined>
  }

  /** the room and its first members in one transaction; false when the id is taken */
  async create(room: RoomRow, members: Omit<MemberRow, 'room_id'>[]): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      const taken = await trx.selectFrom('synrc_rooms').select('id').where('id', '=', room.id).executeTakeFirst()
      if (taken) return false
      await trx.insertInto('synrc_rooms').values(room).execute()
      if (members.length) await trx.insertInto('synrc_members').values(members.map((m) => ({ ...m, room_id: room.id }))).execute()
      return true
    })
  }

  async update(id: string, set: Partial<Omit<RoomRow, 'id'>>): Promise<void> {
    await this.db.updateTable('synrc_rooms').set(set).where('id', '=', id).execute()
  }

  async remove(id: string): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('synrc_members').where('room_id', '=', id).execute()
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

  async setMember(roomId: string, rosterId: string, set: Partial<Pick<MemberRow, 'role' | 'muted'>>): Promise<void> {
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
}
