// chat21 storage (§6) in Herald's store; the only file with chat21 SQL. Same code on SQLite and PostgreSQL.
import type { Kysely, Transaction } from 'kysely'
import type { Outbox } from '../../core/queue/outbox.ts'
import type { Db } from '../../core/store/db.ts'

export type Doc = Record<string, any>

/** One inbox copy of a message: stored in `inbox`'s timeline, conversation with `cw`. */
export interface Copy { inbox: string; cw: string; msg: Doc }

export interface WebhookJob { endpoint: string; body: Doc }

/** the outbox queue of webhook deliveries (§8); the name is also written by migration 004 */
export const WEBHOOK_QUEUE = 'chat21.webhooks'

type Tx = Kysely<any> | Transaction<any>

/** copies per group-commit transaction (keeps statements under the databases' parameter limits) */
const BATCH_COPIES = 500

const parse = (s: string): Doc => JSON.parse(s)

export class Chat21Store {
  constructor(readonly db: Db, private outbox: Outbox) {}

  private lastSeq = 0

  /** Increasing within a process, and across restarts (microseconds of the clock): the arrival order of rows. */
  private nextSeq(): number {
    this.lastSeq = Math.max(this.lastSeq + 1, Date.now() * 1000)
    return this.lastSeq
  }

  private pending: { app: string; copies: Copy[]; hooks: WebhookJob[]; done: (err?: unknown) => void }[] = []
  private flushing = false

  /**
   * §5.3: every copy of a routed message, its conversations and its webhooks, committed before it resolves.
   * Messages routed at the same moment share one transaction (group commit).
   */
  saveCopies(app: string, copies: Copy[], hooks: WebhookJob[]): Promise<void> {
    if (copies.length === 0 && hooks.length === 0) return Promise.resolve()
    return new Promise((resolve, reject) => {
      this.pending.push({ app, copies, hooks, done: (err) => (err ? reject(err) : resolve()) })
      if (!this.flushing) void this.flush()
    })
  }

  private async flush(): Promise<void> {
    this.flushing = true
    while (this.pending.length > 0) {
      let size = 0
      const batch = []
      while (this.pending.length > 0 && (batch.length === 0 || size + this.pending[0].copies.length <= BATCH_COPIES)) {
        const e = this.pending.shift()!
        size += e.copies.length
        batch.push(e)
      }
      try {
        await this.commit(batch.flatMap((e) => e.copies.map((c) => ({ ...c, app: e.app }))), batch.flatMap((e) => e.hooks))
        for (const e of batch) e.done()
      } catch (err) {
        for (const e of batch) e.done(err)
      }
    }
    this.flushing = false
  }

  private async commit(copies: (Copy & { app: string })[], hooks: WebhookJob[]): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      if (copies.length > 0) {
        // one row per (timeline, message): a later copy of the same message replaces an earlier one
        const rows = new Map<string, Doc>()
        for (const c of copies) {
          const doc: Doc = { ...c.msg, app_id: c.app, timelineOf: c.inbox, conversWith: c.cw }
          delete doc._id
          rows.set(c.inbox + '\u0000' + String(doc.message_id), {
            timeline_of: c.inbox, message_id: String(doc.message_id), convers_with: c.cw, app_id: c.app, timestamp: Number(doc.timestamp) || 0,
            seq: this.nextSeq(), doc: JSON.stringify(doc),
          })
        }
        await trx.insertInto('chat21_messages').values([...rows.values()])
          .onConflict((oc) => oc.columns(['timeline_of', 'message_id']).doUpdateSet((eb) => ({
            convers_with: eb.ref('excluded.convers_with'), timestamp: eb.ref('excluded.timestamp'), doc: eb.ref('excluded.doc'),
          })))
          .execute()
        const convs = copies.filter((c) => c.msg.attributes?.updateconversation !== false)
        if (convs.length > 0) await this.upsertConversations(trx, convs)
      }
      await this.enqueue(trx, hooks)
    })
  }

  /** A conversation is its last message plus flags; a new message un-archives it and marks it new (§5.3). */
  private async upsertConversations(trx: Tx, copies: (Copy & { app: string })[]): Promise<void> {
    const old = await trx.selectFrom('chat21_conversations').select(['timeline_of', 'convers_with', 'doc'])
      .where((eb) => eb.or(copies.map((c) => eb.and([eb('timeline_of', '=', c.inbox), eb('convers_with', '=', c.cw)]))))
      .execute()
    const before = new Map(old.map((r) => [r.timeline_of + '\u0000' + r.convers_with, parse(r.doc)]))
    const rows = new Map<string, Doc>()
    for (const c of copies) {
      const k = c.inbox + '\u0000' + c.cw
      const doc: Doc = {
        ...(rows.get(k) ?? before.get(k) ?? {}), ...c.msg,
        app_id: c.app, timelineOf: c.inbox, conversWith: c.cw, key: c.cw, is_new: true, archived: false, last_message_text: c.msg.text,
      }
      delete doc._id
      rows.set(k, doc)
    }
    await trx.insertInto('chat21_conversations')
      .values([...rows.values()].map((d) => ({
        timeline_of: d.timelineOf, convers_with: d.conversWith, app_id: d.app_id, archived: 0, timestamp: Number(d.timestamp) || 0,
        seq: this.nextSeq(), doc: JSON.stringify(d),
      })))
      .onConflict((oc) => oc.columns(['timeline_of', 'convers_with']).doUpdateSet((eb) => ({
        app_id: eb.ref('excluded.app_id'), archived: eb.ref('excluded.archived'), timestamp: eb.ref('excluded.timestamp'),
        seq: eb.ref('excluded.seq'), doc: eb.ref('excluded.doc'),
      })))
      .execute()
  }

  /** Merge patches into stored messages; no stub documents for unknown messages (§17.9). */
  async patchMessages(patches: { timelineOf: string; messageId: string; patch: Doc }[], hooks: WebhookJob[] = []): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      for (const { timelineOf, messageId, patch } of patches) {
        const row = await trx.selectFrom('chat21_messages').select('doc')
          .where('timeline_of', '=', timelineOf).where('message_id', '=', messageId).executeTakeFirst()
        if (!row) continue
        await trx.updateTable('chat21_messages').set({ doc: JSON.stringify({ ...parse(row.doc), ...patch }) })
          .where('timeline_of', '=', timelineOf).where('message_id', '=', messageId).execute()
      }
      await this.enqueue(trx, hooks)
    })
  }

  /** `$set` a patch on an existing conversation (§5.5, §5.6); returns the new document or null. */
  async patchConversation(me: string, cw: string, patch: Doc, hooks: WebhookJob[] = []): Promise<Doc | null> {
    return this.db.transaction().execute(async (trx) => {
      const row = await trx.selectFrom('chat21_conversations').select('doc')
        .where('timeline_of', '=', me).where('convers_with', '=', cw).executeTakeFirst()
      if (!row) return null
      const doc = { ...parse(row.doc), ...patch }
      const set: Doc = { doc: JSON.stringify(doc) }
      if (typeof patch.archived === 'boolean') set.archived = patch.archived ? 1 : 0
      await trx.updateTable('chat21_conversations').set(set).where('timeline_of', '=', me).where('convers_with', '=', cw).execute()
      await this.enqueue(trx, hooks)
      return doc
    })
  }

  async conversations(me: string, app: string, archived: boolean, limit = 200): Promise<Doc[]> {
    const rows = await this.db.selectFrom('chat21_conversations').select('doc')
      .where('timeline_of', '=', me).where('app_id', '=', app).where('archived', '=', archived ? 1 : 0)
      .orderBy('timestamp', 'desc').orderBy('seq', 'desc').limit(limit).execute()
    return rows.map((r) => parse(r.doc))
  }

  async conversation(me: string, app: string, cw: string, archived: boolean): Promise<Doc[]> {
    const rows = await this.db.selectFrom('chat21_conversations').select('doc')
      .where('timeline_of', '=', me).where('app_id', '=', app).where('convers_with', '=', cw).where('archived', '=', archived ? 1 : 0)
      .limit(1).execute()
    return rows.map((r) => parse(r.doc))
  }

  /** Newest first (§6.1 REST queries); messages of the same timestamp latest stored first. */
  async messages(me: string, app: string, cw: string, limit = 200): Promise<Doc[]> {
    const rows = await this.db.selectFrom('chat21_messages').select('doc')
      .where('timeline_of', '=', me).where('app_id', '=', app).where('convers_with', '=', cw)
      .orderBy('timestamp', 'desc').orderBy('seq', 'desc').limit(limit).execute()
    return rows.map((r) => parse(r.doc))
  }

  async deleteConversationsWith(app: string, cw: string): Promise<void> {
    await this.db.deleteFrom('chat21_conversations').where('app_id', '=', app).where('convers_with', '=', cw).execute()
  }

  async deleteMessagesWith(app: string, cw: string): Promise<void> {
    await this.db.deleteFrom('chat21_messages').where('app_id', '=', app).where('convers_with', '=', cw).execute()
  }

  /** issue 15: the admin console's section: conversation rows (one per member), distinct conversations, groups, messages */
  async summaryCounts(): Promise<{ conversations: number; groups: number; messages: number; instances: number }> {
    const count = (t: string) => this.db.selectFrom(t).select((eb) => eb.fn.countAll().as('c'))
    const row = await this.db.selectNoFrom([
      count('chat21_conversations').as('conversations'), count('chat21_groups').as('groups'),
      count('chat21_messages').as('messages'), count('chat21_instances').as('instances'),
    ]).executeTakeFirstOrThrow()
    return { conversations: Number(row.conversations), groups: Number(row.groups), messages: Number(row.messages), instances: Number(row.instances) }
  }

  async group(uid: string): Promise<Doc | null> {
    const row = await this.db.selectFrom('chat21_groups').select('doc').where('uid', '=', uid).executeTakeFirst()
    return row ? parse(row.doc) : null
  }

  async saveGroup(g: Doc): Promise<void> {
    const values = { uid: g.uid, app_id: g.appId, updated_on: Number(g.updatedOn) || Date.now(), doc: JSON.stringify(g) }
    await this.db.insertInto('chat21_groups').values(values)
      .onConflict((oc) => oc.column('uid').doUpdateSet({ app_id: values.app_id, updated_on: values.updated_on, doc: values.doc }))
      .execute()
  }

  /** Push instance of a user's device (§6.1 `instances`), keyed by instance id. */
  async saveInstance(doc: { app_id: string; user_id: string; instance_id: string } & Doc): Promise<void> {
    const values = { instance_id: doc.instance_id, app_id: doc.app_id, user_id: doc.user_id, doc: JSON.stringify(doc) }
    await this.db.insertInto('chat21_instances').values(values)
      .onConflict((oc) => oc.column('instance_id').doUpdateSet({ app_id: values.app_id, user_id: values.user_id, doc: values.doc }))
      .execute()
  }

  async instances(userId: string): Promise<Doc[]> {
    const rows = await this.db.selectFrom('chat21_instances').select('doc').where('user_id', '=', userId).execute()
    return rows.map((r) => parse(r.doc))
  }

  /** an instance whose push token the provider reports gone */
  async deleteInstance(instanceId: string): Promise<void> {
    await this.db.deleteFrom('chat21_instances').where('instance_id', '=', instanceId).execute()
  }

  // webhooks (§8) go to the outbox in the transaction of the change they describe: nothing lost while an endpoint is down

  private async enqueue(trx: Tx, hooks: WebhookJob[]): Promise<void> {
    await this.outbox.enqueueMany(hooks.map((payload) => ({ queue: WEBHOOK_QUEUE, payload })), { trx })
  }

  /** webhook deliveries waiting or in flight */
  pendingWebhooks(): Promise<number> {
    return this.outbox.depth(WEBHOOK_QUEUE)
  }
}
