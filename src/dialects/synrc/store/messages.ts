// SYNRC messages and their feeds (§6.6, §6.7, §7 "Chains"): the only file with synrc_messages, synrc_feeds,
// synrc_readers and synrc_sticker_packs SQL. A feed is a doubly linked chain of messages (prev/next by id) whose top
// is kept in synrc_feeds; readers are each roster's read cursor and cleared mark per feed.
import { PostgresAdapter } from '../../../core/store/kysely.ts'
import type { Db } from '../../../core/store/db.ts'

export interface MessageRow {
  id: number
  /** the feed's topic: `private/<a>/<b>` (roster ids sorted) or `room/<id>` */
  feed: string
  prev: number | null
  next: number | null
  /** the sender's client-side id (§6.6 Ack key) */
  msg_id: string | null
  author: string
  recipient: string
  created: number
  /** what the feed was last told: sent | link (upload in progress) | edit */
  status: string
  /** Message.type atoms, comma-joined */
  types: string
  /** the message this one links to (reply, forward) */
  link_id: number | null
  /** the Desc mime categories, as `,image,text,` (media filters, §6.7) */
  kinds: string
  /** ETF (base64) of the fields the server keeps opaque: files, type, link, seenby, repliedby, mentioned */
  body: string
  /** when the last recipient device acknowledged it (delete after ack, §6.6) */
  delivered: number | null
  update_at: number
}

/** the feed prefix of a deleted message kept until its delete reached every device (§6.6 step 5) */
export const DELETED = 'deleted:'

export type NewMessage = Omit<MessageRow, 'id' | 'prev' | 'next' | 'delivered'>

export interface PageQuery {
  feed: string
  /** older than this id (backward) or newer (forward); 0 = from the end the direction starts at */
  from: number
  dir: 'back' | 'forward'
  limit: number
  /** ids at or below it are hidden (History/delete of this reader) */
  cleared?: number
  /** a Desc mime category (media filters) */
  kind?: string
}

export interface ReaderRow { roster_id: string; feed: string; pos: number; cleared: number; update_at: number }

export class MessageStore {
  private readonly postgres: boolean
  constructor(private readonly db: Db) {
    this.postgres = db.getExecutor().adapter instanceof PostgresAdapter
  }

  /** append to the feed's chain (top's next = new id, new prev = top); `also` runs in the same transaction */
  async add(m: NewMessage, also?: (trx: Db, row: MessageRow) => Promise<void>): Promise<MessageRow> {
    return this.db.transaction().execute(async (trx) => {
      await trx.insertInto('synrc_feeds').values({ id: m.feed, top: null, count: 0 }).onConflict((oc) => oc.column('id').doNothing()).execute()
      let q = trx.selectFrom('synrc_feeds').select(['top']).where('id', '=', m.feed)
      // concurrent appends to one feed on PostgreSQL wait for each other here
      if (this.postgres) q = q.forUpdate()
      const top = ((await q.executeTakeFirstOrThrow()).top as number | null) ?? null
      const inserted = await trx.insertInto('synrc_messages').values({ ...m, prev: top, next: null, delivered: null })
        .returning('id').executeTakeFirstOrThrow()
      const id = Number(inserted.id)
      if (top !== null) await trx.updateTable('synrc_messages').set({ next: id }).where('id', '=', top).execute()
      await trx.updateTable('synrc_feeds').set((eb) => ({ top: id, count: eb('count', '+', 1) })).where('id', '=', m.feed).execute()
      const row: MessageRow = { ...m, id, prev: top, next: null, delivered: null }
      if (also) await also(trx, row)
      return row
    })
  }

  async get(id: number): Promise<MessageRow | undefined> {
    const r = await this.db.selectFrom('synrc_messages').selectAll().where('id', '=', id).executeTakeFirst()
    return r ? norm(r) : undefined
  }

  async update(id: number, set: Partial<Pick<MessageRow, 'status' | 'types' | 'kinds' | 'body' | 'update_at'>>): Promise<void> {
    await this.db.updateTable('synrc_messages').set(set).where('id', '=', id).execute()
  }

  /**
   * Out of the chain: the neighbours are linked to each other, the feed's top moves back if it was the top. With
   * `tombstone` the row stays, outside every feed (feed `deleted:<feed>`), until the devices owed the delete have it.
   */
  async remove(id: number, also?: (trx: Db) => Promise<void>, tombstone?: Pick<MessageRow, 'body' | 'update_at'>): Promise<MessageRow | undefined> {
    return this.db.transaction().execute(async (trx) => {
      const r = await trx.selectFrom('synrc_messages').selectAll().where('id', '=', id).executeTakeFirst()
      if (!r) return undefined
      const m = norm(r)
      if (m.prev !== null) await trx.updateTable('synrc_messages').set({ next: m.next }).where('id', '=', m.prev).execute()
      if (m.next !== null) await trx.updateTable('synrc_messages').set({ prev: m.prev }).where('id', '=', m.next).execute()
      else await trx.updateTable('synrc_feeds').set({ top: m.prev }).where('id', '=', m.feed).execute()
      await trx.updateTable('synrc_feeds').set((eb) => ({ count: eb('count', '-', 1) })).where('id', '=', m.feed).execute()
      if (tombstone && !m.feed.startsWith(DELETED)) {
        await trx.updateTable('synrc_messages').set({ ...tombstone, feed: DELETED + m.feed, prev: null, next: null, status: 'delete' }).where('id', '=', id).execute()
      } else {
        await trx.deleteFrom('synrc_messages').where('id', '=', id).execute()
      }
      if (also) await also(trx)
      return m
    })
  }

  async markDelivered(id: number, at: number): Promise<void> {
    await this.db.updateTable('synrc_messages').set({ delivered: at }).where('id', '=', id).where('delivered', 'is', null).execute()
  }

  /** the feed's newest message id (0 when empty) */
  async top(feed: string): Promise<number> {
    const r = await this.db.selectFrom('synrc_feeds').select('top').where('id', '=', feed).executeTakeFirst()
    return Number(r?.top ?? 0)
  }

  /** one page in a direction: backward newest first, forward oldest first */
  async page(q: PageQuery): Promise<MessageRow[]> {
    let s = this.db.selectFrom('synrc_messages').selectAll().where('feed', '=', q.feed)
    if (q.cleared) s = s.where('id', '>', q.cleared)
    if (q.kind) s = s.where('kinds', 'like', `%,${q.kind},%`)
    if (q.dir === 'back') {
      if (q.from > 0) s = s.where('id', '<', q.from)
      s = s.orderBy('id', 'desc')
    } else {
      s = s.where('id', '>', q.from).orderBy('id', 'asc')
    }
    return (await s.limit(q.limit).execute()).map(norm)
  }

  /** the messages that link to `id` as replies, oldest first */
  async replies(id: number, cleared = 0): Promise<MessageRow[]> {
    const rows = await this.db.selectFrom('synrc_messages').selectAll().where('link_id', '=', id).where('id', '>', cleared)
      .where('types', 'like', '%reply%').orderBy('id').limit(500).execute()
    return rows.map(norm)
  }

  /** messages of the feed newer than `after` not written by `roster` (its unread count) */
  async unread(feed: string, roster: string, after: number): Promise<number> {
    const r = await this.db.selectFrom('synrc_messages').select((eb) => eb.fn.countAll().as('n')).where('feed', '=', feed)
      .where('id', '>', after).where('author', '!=', roster).executeTakeFirst()
    return Number(r?.n ?? 0)
  }

  async reader(rosterId: string, feed: string): Promise<ReaderRow | undefined> {
    const r = await this.db.selectFrom('synrc_readers').selectAll().where('roster_id', '=', rosterId).where('feed', '=', feed).executeTakeFirst()
    return r ? { ...(r as ReaderRow), pos: Number(r.pos), cleared: Number(r.cleared) } : undefined
  }

  async setReader(rosterId: string, feed: string, set: Partial<Pick<ReaderRow, 'pos' | 'cleared'>>, now: number): Promise<void> {
    await this.db.insertInto('synrc_readers').values({ roster_id: rosterId, feed, pos: set.pos ?? 0, cleared: set.cleared ?? 0, update_at: now })
      .onConflict((oc) => oc.columns(['roster_id', 'feed']).doUpdateSet({ ...set, update_at: now })).execute()
  }

  /** sticker packs (§6.7), newest first; `body` is the ETF (base64) of the StickerPack record */
  async stickerPacks(limit: number): Promise<{ id: number; body: string }[]> {
    const rows = await this.db.selectFrom('synrc_sticker_packs').select(['id', 'body']).orderBy('id', 'desc').limit(limit).execute()
    return rows.map((r) => ({ id: Number(r.id), body: r.body as string }))
  }

  async addStickerPack(body: (id: number) => string, now: number): Promise<number> {
    return this.db.transaction().execute(async (trx) => {
      const r = await trx.insertInto('synrc_sticker_packs').values({ body: '', created: now }).returning('id').executeTakeFirstOrThrow()
      const id = Number(r.id)
      await trx.updateTable('synrc_sticker_packs').set({ body: body(id) }).where('id', '=', id).execute()
      return id
    })
  }
}

function norm(r: Record<string, unknown>): MessageRow {
  const n = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v))
  return {
    ...(r as unknown as MessageRow), id: Number(r.id), prev: n(r.prev), next: n(r.next), link_id: n(r.link_id), created: Number(r.created),
    delivered: n(r.delivered), update_at: Number(r.update_at),
  }
}
