// SYNRC friendships (§6.4): one row per direction (roster → friend) with its status; the only file with
// synrc_friends SQL. A p2p feed between two rosters exists while both rows say `friend`.
import type { Db } from '../../../core/store/db.ts'

/** request (asked by this roster), authorization (asked of it), friend, ban (this roster banned the other), banned
 * (the other banned this one), ignore (this roster declined), internal (added by Roster/add, no friendship) */
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

  /** both rows of a pair in one transaction (§6.4: a request, a confirm, a ban changes both sides at once) */
  async setPair(a: string, statusA: string, b: string, statusB: string, now: number): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      for (const [r, f, status] of [[a, b, statusA], [b, a, statusB]]) {
        await trx.insertInto('synrc_friends').values({ roster_id: r, friend_id: f, status, muted: 0, update_at: now })
          .onConflict((oc) => oc.columns(['roster_id', 'friend_id']).doUpdateSet({ status, update_at: now })).execute()
      }
    })
  }

  /** both rows of a pair */
  async removePair(a: string, b: string): Promise<void> {
    await this.db.deleteFrom('synrc_friends').where((eb) => eb.or([
      eb.and([eb('roster_id', '=', a), eb('friend_id', '=', b)]),
      eb.and([eb('roster_id', '=', b), eb('friend_id', '=', a)]),
    ])).execute()
  }

  /** every row naming a roster, either side (a removed roster leaves no trace in others' rosters) */
  async removeAll(rosterId: string): Promise<void> {
    await this.db.deleteFrom('synrc_friends').where((eb) => eb.or([eb('roster_id', '=', rosterId), eb('friend_id', '=', rosterId)])).execute()
  }

  /** the rosters that list this one (their row's friend_id is it), with their row */
  async listedBy(rosterId: string): Promise<FriendRow[]> {
    return this.db.selectFrom('synrc_friends').selectAll().where('friend_id', '=', rosterId).orderBy('roster_id').execute() as Promise<FriendRow[]>
  }

  /** the roster's mutual friends: both rows say friend (their devices share private/<a>/<b> and contacts/…) */
  async mutual(rosterId: string): Promise<string[]> {
    const rows = await this.db.selectFrom('synrc_friends as f1')
      .innerJoin('synrc_friends as f2', (j) => j.onRef('f2.roster_id', '=', 'f1.friend_id').onRef('f2.friend_id', '=', 'f1.roster_id'))
      .select('f1.friend_id as id').where('f1.roster_id', '=', rosterId).where('f1.status', '=', 'friend').where('f2.status', '=', 'friend')
      .orderBy('f1.friend_id').execute()
    return rows.map((r) => r.id as string)
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
