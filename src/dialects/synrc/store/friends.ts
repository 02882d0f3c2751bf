// SYNRC friendships (§6.4): one row per direction (roster → friend) with its status; the only file with
// synrc_friends SQL. A p2p feed between two rosters exists while both rows say `friend`.
import type { Db } from '../../../core/store/db.ts'

/** request (asked by this roster), authorization (asked of it), friend, ban (this roster banned the other), … */
export interface FriendRow { roster_id: string; friend_id: string; status: string; muted: number; update_at: number }

export class FriendStore {
  constructor(private readonly db: Db) {}

  async get(rosterId: string, friendId: string): Promise<FriendRow | undefined> {
    return this.db.selectFrom('synrc_friends').selectAll().where('roster_id', '=', rosterId).where('friend_id', '=', friendId)
      .executeTakeFirst() as Promise<FriendRow | undefined>
  }

  async set(rosterId: string, friendId: string, status: string, now: number): Promise<void> {
    await this.db.insertInto('synrc_friends').values({ roster_id: rosterId, friend_id: friendId, status, muted: 0, update_at: now })
      .onConflict((oc) => oc.columns(['roster_id', 'friend_id']).doUpdateSet({ status, update_at: now })).execute()
  }

  async setMuted(rosterId: string, friendId: string, muted: boolean, now: number): Promise<void> {
    await this.db.updateTable('synrc_friends').set({ muted: muted ? 1 : 0, update_at: now })
      .where('roster_id', '=', rosterId).where('friend_id', '=', friendId).execute()
  }

  async remove(rosterId: string, friendId: string): Promise<void> {
    await this.db.deleteFrom('synrc_friends').where('roster_id', '=', rosterId).where('friend_id', '=', friendId).execute()
  }

  /** the rows of one roster (its contacts), optionally of one status */
  async of(rosterId: string, status?: string): Promise<FriendRow[]> {
    let q = this.db.selectFrom('synrc_friends').selectAll().where('roster_id', '=', rosterId)
    if (status) q = q.where('status', '=', status)
    return q.orderBy('friend_id').execute() as Promise<FriendRow[]>
  }

  /** both directions say friend: the two may message each other on private/<a>/<b> */
  async areFriends(a: string, b: string): Promise<boolean> {
    const rows = await this.db.selectFrom('synrc_friends').select(['roster_id']).where((eb) => eb.or([
      eb.and([eb('roster_id', '=', a), eb('friend_id', '=', b)]),
      eb.and([eb('roster_id', '=', b), eb('friend_id', '=', a)]),
    ])).where('status', '=', 'friend').execute()
    return rows.length === 2
  }
}
