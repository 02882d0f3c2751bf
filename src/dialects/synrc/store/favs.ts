// SYNRC stars and tags (§6.11 FAV): one roster's own; the only file with synrc_stars / synrc_tags SQL.
import type { Db } from '../../../core/store/db.ts'

/** doc: ETF (base64) of the starred Message and the star's tags, kept as the client sent them */
export interface StarRow { roster_id: string; id: number; client_id: string | null; doc: string; created: number }
export interface TagRow { roster_id: string; name: string; color: string; created: number }

export class FavStore {
  constructor(private readonly db: Db) {}

  async star(rosterId: string, id: number): Promise<StarRow | undefined> {
    return this.db.selectFrom('synrc_stars').selectAll().where('roster_id', '=', rosterId).where('id', '=', id)
      .executeTakeFirst() as Promise<StarRow | undefined>
  }

  /** a roster's stars, oldest first (what Roster.favorite can show) */
  async stars(rosterId: string): Promise<StarRow[]> {
    return this.db.selectFrom('synrc_stars').selectAll().where('roster_id', '=', rosterId).orderBy('created').orderBy('id')
      .execute() as Promise<StarRow[]>
  }

  /** the next free star id of a roster (a star without an id nor a message id) */
  async nextStarId(rosterId: string): Promise<number> {
    const r = await this.db.selectFrom('synrc_stars').select((eb) => eb.fn.max<number>('id').as('m')).where('roster_id', '=', rosterId)
      .executeTakeFirst()
    return Number(r?.m ?? 0) + 1
  }

  /** add or replace (starring the same message again updates its tags) */
  async setStar(r: StarRow): Promise<void> {
    await this.db.insertInto('synrc_stars').values(r)
      .onConflict((oc) => oc.columns(['roster_id', 'id']).doUpdateSet({ client_id: r.client_id, doc: r.doc })).execute()
  }

  /** false when there was no such star */
  async removeStar(rosterId: string, id: number): Promise<boolean> {
    const r = await this.db.deleteFrom('synrc_stars').where('roster_id', '=', rosterId).where('id', '=', id).executeTakeFirst()
    return Number(r.numDeletedRows) > 0
  }

  async tag(rosterId: string, name: string): Promise<TagRow | undefined> {
    return this.db.selectFrom('synrc_tags').selectAll().where('roster_id', '=', rosterId).where('name', '=', name)
      .executeTakeFirst() as Promise<TagRow | undefined>
  }

  async tags(rosterId: string): Promise<TagRow[]> {
    return this.db.selectFrom('synrc_tags').selectAll().where('roster_id', '=', rosterId).orderBy('name').execute() as Promise<TagRow[]>
  }

  /** false when the roster already has a tag of that name */
  async createTag(r: TagRow): Promise<boolean> {
    const res = await this.db.insertInto('synrc_tags').values(r).onConflict((oc) => oc.columns(['roster_id', 'name']).doNothing())
      .executeTakeFirst()
    return Number(res.numInsertedOrUpdatedRows ?? 0) > 0
  }

  /** false when there was no such tag */
  async editTag(rosterId: string, name: string, color: string): Promise<boolean> {
    const r = await this.db.updateTable('synrc_tags').set({ color }).where('roster_id', '=', rosterId).where('name', '=', name)
      .executeTakeFirst()
    return Number(r.numUpdatedRows) > 0
  }

  async removeTag(rosterId: string, name: string): Promise<boolean> {
    const r = await this.db.deleteFrom('synrc_tags').where('roster_id', '=', rosterId).where('name', '=', name).executeTakeFirst()
    return Number(r.numDeletedRows) > 0
  }
}
