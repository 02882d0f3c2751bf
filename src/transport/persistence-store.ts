// The MQTT session tables (core migration 005, frozen: add columns in new migrations) and the only SQL of the durable
// Aedes persistence (transport/persistence.ts): subscriptions per client, retained messages, each client's outgoing
// queue (queued and in-flight QoS 1/2 packets, PUBRELs), incoming QoS 2 packets awaiting PUBREL, and will messages.
import type { Migration } from 'kysely'
import { CompiledQuery, PostgresAdapter, sql } from '../core/store/kysely.ts'
import type { Db, DbKind } from '../core/store/db.ts'
import { GroupCommit, type CommitStats } from './persistence-commit.ts'

export const mqttSessionsMigration: Migration = {
  async up(db) {
    const postgres = db.getExecutor().adapter instanceof PostgresAdapter
    const bytes = postgres ? 'bytea' : 'blob'
    // topics compare byte by byte (UTF-8 order) so that a prefix is a range of the primary key on both databases
    const topic = postgres ? sql`text collate "C"` : sql`text`
    await db.schema.createTable('herald_mqtt_subscriptions')
      .addColumn('client_id', 'varchar(1024)', (c) => c.notNull())
      .addColumn('topic', topic, (c) => c.notNull())
      .addColumn('qos', 'integer', (c) => c.notNull())
      // the other subscription fields (rh, rap, nl, subscriptionIdentifier) as JSON
      .addColumn('options', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('herald_mqtt_subscriptions_pk', ['client_id', 'topic'])
      .execute()
    await db.schema.createTable('herald_mqtt_retained')
      .addColumn('topic', topic, (c) => c.primaryKey())
      .addColumn('packet', 'text', (c) => c.notNull())
      .addColumn('payload', bytes)
      .execute()
    await db.schema.createTable('herald_mqtt_outgoing')
      // the queue order: an increasing id
      .addColumn('id', postgres ? 'bigserial' : 'integer', (c) => (postgres ? c.primaryKey() : c.primaryKey().autoIncrement()))
      .addColumn('client_id', 'varchar(1024)', (c) => c.notNull())
      .addColumn('cmd', 'varchar(16)', (c) => c.notNull())
      .addColumn('broker_id', 'varchar(255)')
      .addColumn('broker_counter', 'bigint')
      // set once the packet is sent (in flight); null while only queued
      .addColumn('message_id', 'integer')
      .addColumn('packet', 'text', (c) => c.notNull())
      .addColumn('payload', bytes)
      // ms epoch after which a packet not yet sent is dropped; null: never
      .addColumn('expires_at', 'bigint')
      .execute()
    await db.schema.createIndex('herald_mqtt_outgoing_client').on('herald_mqtt_outgoing').columns(['client_id', 'id']).execute()
    await db.schema.createIndex('herald_mqtt_outgoing_message').on('herald_mqtt_outgoing').columns(['client_id', 'message_id']).execute()
    await db.schema.createIndex('herald_mqtt_outgoing_counter').on('herald_mqtt_outgoing').columns(['client_id', 'broker_id', 'broker_counter']).execute()
    await db.schema.createTable('herald_mqtt_incoming')
      .addColumn('client_id', 'varchar(1024)', (c) => c.notNull())
      .addColumn('message_id', 'integer', (c) => c.notNull())
      .addColumn('packet', 'text', (c) => c.notNull())
      .addColumn('payload', bytes)
      .addPrimaryKeyConstraint('herald_mqtt_incoming_pk', ['client_id', 'message_id'])
      .execute()
    await db.schema.createTable('herald_mqtt_wills')
      .addColumn('client_id', 'varchar(1024)', (c) => c.primaryKey())
      .addColumn('broker_id', 'varchar(255)', (c) => c.notNull())
      .addColumn('packet', 'text', (c) => c.notNull())
      .addColumn('payload', bytes)
      .execute()
  },
}

/**
 * Core migration 009: the packet id index holds only packets in flight (a queued packet has no id yet), so queuing a
 * packet for N offline sessions updates two indexes per row, not three; the first unsent packet is found by the queue
 * order index instead.
 */
export const mqttOutgoingInFlightIndexMigration: Migration = {
  async up(db) {
    await db.schema.dropIndex('herald_mqtt_outgoing_message').execute()
    await db.schema.createIndex('herald_mqtt_outgoing_message').on('herald_mqtt_outgoing').columns(['client_id', 'message_id'])
      .where(sql.ref('message_id'), 'is not', null).execute()
  },
}

/** retained `$SYS/…` are kept in memory (persistence.ts) since this migration: the rows earlier versions wrote go */
export const mqttSysRetainedMigration: Migration = {
  async up(db) {
    await db.deleteFrom('herald_mqtt_retained').where('topic', 'like', '$SYS/%').execute()
  },
}

/**
 * Core migration 011: the MQTT 5 Session Expiry of persistent sessions, so that it runs on across a restart (Aedes
 * keeps its expiry timers in memory); session-expiry.ts
 */
export const mqttSessionExpiryMigration: Migration = {
  async up(db) {
    await db.schema.createTable('herald_mqtt_session_expiry')
      .addColumn('client_id', 'varchar(1024)', (c) => c.primaryKey())
      .addColumn('expiry_s', 'bigint', (c) => c.notNull())
      // ms epoch the session ends at; null while its client is connected (the interval starts when the connection ends)
      .addColumn('expires_at', 'bigint')
      .execute()
  },
}

export interface SessionExpiryRow { clientId: string; expiryS: number; expiresAt: number | null }

/** A packet as stored: its fields as JSON, its payload as bytes (null: it had none). */
export interface StoredPacket { packet: string; payload: Buffer | null }

export interface SubscriptionRow { client_id: string; topic: string; qos: number; options: string }

export interface OutgoingRow extends StoredPacket {
  id: number
  client_id: string
  cmd: string
  broker_id: string | null
  broker_counter: number | null
  message_id: number | null
  expires_at: number | null
}

/** a row to insert: its id comes from the database */
export type NewOutgoing = Omit<OutgoingRow, 'id'>

const bytesOf = (v: unknown): Buffer | null => (v == null ? null : Buffer.isBuffer(v) ? v : Buffer.from(v as Uint8Array))
const num = (v: unknown): number | null => (v == null ? null : Number(v))

function outgoingRow(r: Record<string, unknown>): OutgoingRow {
  return {
    id: Number(r.id), client_id: r.client_id as string, cmd: r.cmd as string, broker_id: (r.broker_id as string | null) ?? null,
    broker_counter: num(r.broker_counter), message_id: num(r.message_id), packet: r.packet as string,
    payload: bytesOf(r.payload), expires_at: num(r.expires_at),
  }
}

/** The next string after every string starting with `prefix`, in code point (UTF-8 byte) order; undefined: none. */
function prefixEnd(prefix: string): string | undefined {
  const cps = [...prefix]
  while (cps.length > 0) {
    const last = cps.pop()!.codePointAt(0)!
    let next = last + 1
    if (next >= 0xd800 && next <= 0xdfff) next = 0xe000
    if (next <= 0x10ffff) return cps.join('') + String.fromCodePoint(next)
  }
  return undefined
}

/** Rows per statement: well under SQLite's bound variables limit. */
const CHUNK = 500

const OUTGOING_COLUMNS = ['client_id', 'cmd', 'broker_id', 'broker_counter', 'message_id', 'expires_at', 'packet', 'payload'] as const

/**
 * The statements run for every QoS 1/2 packet, written out once: Kysely's query builder cost more CPU than SQLite's
 * own work on them (the SQLite driver's prepared statement cache in core/store/db.ts then reuses them by their text).
 */
class HotSql {
  readonly #insert = new Map<number, string>()
  readonly setMessageId: string
  readonly clearById: string
  readonly clearUnsent: string

  constructor(private kind: DbKind) {
    const $ = (i: number) => this.#p(i)
    this.setMessageId = `update herald_mqtt_outgoing set message_id = ${$(1)} where client_id = ${$(2)} and broker_id = ${$(3)} and broker_counter = ${$(4)}`
    const clear = (cond: string) => `delete from herald_mqtt_outgoing where id = (select id from herald_mqtt_outgoing where client_id = ${$(1)} and ${cond} order by id limit 1) returning *`
    this.clearById = clear(`message_id = ${$(2)}`)
    this.clearUnsent = clear('message_id is null')
  }

  #p(i: number): string { return this.kind === 'postgres' ? `$${i}` : '?' }

  /** a multi-row insert of `n` outgoing rows, answering their ids */
  insertOutgoing(n: number): string {
    let text = this.#insert.get(n)
    if (!text) {
      const w = OUTGOING_COLUMNS.length
      const values = Array.from({ length: n }, (_, r) => `(${OUTGOING_COLUMNS.map((_c, c) => this.#p(r * w + c + 1)).join(', ')})`)
      text = `insert into herald_mqtt_outgoing (${OUTGOING_COLUMNS.join(', ')}) values ${values.join(', ')} returning id`
      // bounded: a chunk size the fan-out of one PUBLISH gives (at most CHUNK distinct texts)
      this.#insert.set(n, text)
    }
    return text
  }
}

/** PostgreSQL: ordered batches committing side by side on the pool, one lane per client id (or topic) hash */
const PG_LANES = 4

/**
 * Reads go to the database directly. On SQLite every write goes through the group commit (persistence-commit.ts):
 * the writes of one tick, or of the time one commit takes, share a transaction, and each resolves once that has
 * committed. On PostgreSQL a batch costs a round trip per statement in one sequence (node-postgres does not pipeline),
 * slower than the pool's connections side by side (bench:persistence --pg: drain to a reconnected session 766 -> 313
 * msg/s batched); so only the writes whose order is the queue's or the retained message's (enqueue, retained) are
 * batched there, in lanes by client id or topic hash; the rest commit alone on the pool.
 */
export class MqttSessionStore {
  readonly #lanes: GroupCommit[]
  readonly #alone: CommitStats = { writes: 0, commits: 0 }
  readonly #sql: HotSql

  constructor(private db: Db, readonly kind: DbKind) {
    this.#lanes = Array.from({ length: kind === 'postgres' ? PG_LANES : 1 }, () => new GroupCommit(db))
    this.#sql = new HotSql(kind)
  }

  /** writes asked for and the commits that carried them */
  get commitStats(): Readonly<CommitStats> {
    return this.#lanes.reduce((a, l) => ({ writes: a.writes + l.stats.writes, commits: a.commits + l.stats.commits }), { ...this.#alone })
  }

  /** `key`: the client id (or retained topic) whose `ordered` writes commit in the order asked */
  #write<T>(key: string, fn: (db: Db) => Promise<T>, atomic = false, ordered = false): Promise<T> {
    if (this.kind === 'sqlite') return this.#lanes[0].write(fn, atomic)
    if (ordered) {
      let h = 0
      for (let i = 0; i < key.length; i++) h = (h * 31 + key.charCodeAt(i)) | 0
      return this.#lanes[(h >>> 0) % PG_LANES].write(fn, atomic)
    }
    this.#alone.writes++
    this.#alone.commits++
    return atomic ? this.db.transaction().execute(fn) : fn(this.db)
  }

  // subscriptions

  allSubscriptions(): Promise<SubscriptionRow[]> {
    return this.db.selectFrom('herald_mqtt_subscriptions').selectAll().orderBy('client_id').orderBy('topic').execute() as Promise<SubscriptionRow[]>
  }

  subscriptionsOf(clientId: string): Promise<SubscriptionRow[]> {
    return this.db.selectFrom('herald_mqtt_subscriptions').selectAll().where('client_id', '=', clientId).orderBy('topic').execute() as Promise<SubscriptionRow[]>
  }

  async subscribedClients(): Promise<number> {
    const r = await this.db.selectFrom('herald_mqtt_subscriptions').select((eb) => eb.fn.count('client_id').distinct().as('n')).executeTakeFirst()
    return Number(r?.n ?? 0)
  }

  async clientsSubscribedTo(topic: string): Promise<string[]> {
    const rows = await this.db.selectFrom('herald_mqtt_subscriptions').select('client_id').where('topic', '=', topic).orderBy('client_id').execute()
    return rows.map((r) => r.client_id as string)
  }

  async putSubscriptions(rows: SubscriptionRow[]): Promise<void> {
    if (rows.length === 0) return
    await this.#write(rows[0].client_id, async (db) => {
      for (let i = 0; i < rows.length; i += CHUNK) {
        await db.insertInto('herald_mqtt_subscriptions').values(rows.slice(i, i + CHUNK))
          .onConflict((oc) => oc.columns(['client_id', 'topic']).doUpdateSet((eb) => ({ qos: eb.ref('excluded.qos'), options: eb.ref('excluded.options') })))
          .execute()
      }
    }, rows.length > CHUNK)
  }

  async removeSubscriptions(clientId: string, topics: string[]): Promise<void> {
    await this.#write(clientId, async (db) => {
      for (let i = 0; i < topics.length; i += CHUNK) {
        await db.deleteFrom('herald_mqtt_subscriptions').where('client_id', '=', clientId).where('topic', 'in', topics.slice(i, i + CHUNK)).execute()
      }
    }, topics.length > CHUNK)
  }

  async cleanSubscriptions(clientId: string): Promise<void> {
    await this.#write(clientId, (db) => db.deleteFrom('herald_mqtt_subscriptions').where('client_id', '=', clientId).execute())
  }

  // retained messages

  async putRetained(topic: string, p: StoredPacket): Promise<void> {
    await this.#write(topic, (db) => db.insertInto('herald_mqtt_retained').values({ topic, ...p })
      .onConflict((oc) => oc.column('topic').doUpdateSet(p))
      .execute(), false, true)
  }

  async deleteRetained(topic: string): Promise<void> {
    await this.#write(topic, (db) => db.deleteFrom('herald_mqtt_retained').where('topic', '=', topic).execute(), false, true)
  }

  /** One page of the retained messages whose topic starts with `prefix`, in topic order, after topic `after`. */
  async retainedPage(prefix: string, after: string | undefined, limit: number): Promise<(StoredPacket & { topic: string })[]> {
    let q = this.db.selectFrom('herald_mqtt_retained').selectAll()
    if (after !== undefined) q = q.where('topic', '>', after)
    else if (prefix) q = q.where('topic', '>=', prefix)
    const end = prefixEnd(prefix)
    if (prefix && end !== undefined) q = q.where('topic', '<', end)
    const rows = await q.orderBy('topic').limit(limit).execute()
    return rows.map((r) => ({ topic: r.topic as string, packet: r.packet as string, payload: bytesOf(r.payload) }))
  }

  // outgoing queues

  /** Queue packets; answers their ids, in order. */
  async enqueue(rows: NewOutgoing[]): Promise<number[]> {
    if (rows.length === 0) return []
    const insert = async (db: Db) => {
      const ids: number[] = []
      for (let i = 0; i < rows.length; i += CHUNK) {
        const chunk = rows.slice(i, i + CHUNK)
        const params = chunk.flatMap((row) => OUTGOING_COLUMNS.map((c) => row[c]))
        const r = await db.executeQuery<{ id: number }>(CompiledQuery.raw(this.#sql.insertOutgoing(chunk.length), params))
        for (const x of r.rows) ids.push(Number(x.id))
      }
      return ids
    }
    // one PUBLISH's copies go in order with the next one's for the same sessions (the same first session)
    return this.#write(rows[0].client_id, insert, rows.length > CHUNK, true)
  }

  /** Delete a client's oldest PUBLISHes beyond its `max` newest (PUBRELs are neither counted nor dropped); answers how many went. */
  async trim(clientId: string, max: number): Promise<number> {
    return this.#write(clientId, async (db) => {
      const keep = await db.selectFrom('herald_mqtt_outgoing').select('id').where('client_id', '=', clientId)
        .where('cmd', '=', 'publish').orderBy('id', 'desc').offset(max).limit(1).executeTakeFirst()
      if (!keep) return 0
      const r = await db.deleteFrom('herald_mqtt_outgoing').where('client_id', '=', clientId).where('cmd', '=', 'publish')
        .where('id', '<=', Number(keep.id)).executeTakeFirst()
      return Number(r.numDeletedRows)
    })
  }

  async queuedCounts(): Promise<Map<string, number>> {
    const rows = await this.db.selectFrom('herald_mqtt_outgoing').select(['client_id', (eb) => eb.fn.countAll().as('n')]).groupBy('client_id').execute()
    return new Map(rows.map((r) => [r.client_id as string, Number(r.n)]))
  }

  async maxOutgoingId(): Promise<number> {
    const r = await this.db.selectFrom('herald_mqtt_outgoing').select((eb) => eb.fn.max('id').as('m')).executeTakeFirst()
    return Number(r?.m ?? 0)
  }

  /** A page of a client's queue in order: ids after `after`, up to `upTo` (inclusive). */
  async outgoingPage(clientId: string, after: number, upTo: number, limit: number): Promise<OutgoingRow[]> {
    const rows = await this.db.selectFrom('herald_mqtt_outgoing').selectAll().where('client_id', '=', clientId)
      .where('id', '>', after).where('id', '<=', upTo).orderBy('id').limit(limit).execute()
    return rows.map(outgoingRow)
  }

  /** Drop a client's packets not sent yet whose time ran out; answers how many went. */
  async dropExpired(clientId: string, now: number): Promise<number> {
    const r = await this.#write(clientId, (db) => db.deleteFrom('herald_mqtt_outgoing').where('client_id', '=', clientId).where('message_id', 'is', null)
      .where('expires_at', 'is not', null).where('expires_at', '<=', now).executeTakeFirst())
    return Number(r.numDeletedRows)
  }

  /** Drop every client's packets not sent yet whose time ran out; answers the client id of each one dropped. */
  async dropAllExpired(now: number, limit: number): Promise<string[]> {
    const rows = await this.#write('', (db) => {
      const due = db.selectFrom('herald_mqtt_outgoing').select('id').where('message_id', 'is', null)
        .where('expires_at', 'is not', null).where('expires_at', '<=', now).limit(limit)
      return db.deleteFrom('herald_mqtt_outgoing').where('id', 'in', due).returning('client_id').execute()
    })
    return rows.map((r) => r.client_id as string)
  }

  /** Set the packet id of a queued PUBLISH (found by broker id and counter); false when there is none. */
  async setMessageId(clientId: string, brokerId: string, brokerCounter: number, messageId: number): Promise<boolean> {
    const r = await this.#write(clientId, (db) => db.executeQuery(CompiledQuery.raw(this.#sql.setMessageId, [messageId, clientId, brokerId, brokerCounter])))
    return Number(r.numAffectedRows ?? 0) > 0
  }

  /** Replace the first packet of a client with this packet id (and, given, another broker id); false when there is none. */
  async replaceByMessageId(clientId: string, messageId: number, notBrokerId: string | undefined, row: Omit<NewOutgoing, 'client_id'>): Promise<boolean> {
    return this.#write(clientId, async (db) => {
      let q = db.selectFrom('herald_mqtt_outgoing').select('id').where('client_id', '=', clientId).where('message_id', '=', messageId)
      if (notBrokerId !== undefined) q = q.where((eb) => eb.or([eb('broker_id', 'is', null), eb('broker_id', '!=', notBrokerId)]))
      const first = await q.orderBy('id').limit(1).executeTakeFirst()
      if (!first) return false
      await db.updateTable('herald_mqtt_outgoing').set(row).where('id', '=', Number(first.id)).execute()
      return true
    })
  }

  /** Delete and answer the first packet of a client with this packet id (null: the first not sent yet). */
  async clearMessageId(clientId: string, messageId: number | null): Promise<OutgoingRow | undefined> {
    const q = messageId === null ? CompiledQuery.raw(this.#sql.clearUnsent, [clientId]) : CompiledQuery.raw(this.#sql.clearById, [clientId, messageId])
    const r = await this.#write(clientId, (db) => db.executeQuery<Record<string, unknown>>(q))
    return r.rows.length > 0 ? outgoingRow(r.rows[0]) : undefined
  }

  // incoming QoS 2 packets

  async putIncoming(clientId: string, messageId: number, p: StoredPacket): Promise<void> {
    await this.#write(clientId, (db) => db.insertInto('herald_mqtt_incoming').values({ client_id: clientId, message_id: messageId, ...p })
      .onConflict((oc) => oc.columns(['client_id', 'message_id']).doUpdateSet(p))
      .execute())
  }

  async getIncoming(clientId: string, messageId: number): Promise<StoredPacket | undefined> {
    const r = await this.db.selectFrom('herald_mqtt_incoming').select(['packet', 'payload']).where('client_id', '=', clientId)
      .where('message_id', '=', messageId).executeTakeFirst()
    return r ? { packet: r.packet as string, payload: bytesOf(r.payload) } : undefined
  }

  async deleteIncoming(clientId: string, messageId: number): Promise<boolean> {
    const r = await this.#write(clientId, (db) => db.deleteFrom('herald_mqtt_incoming').where('client_id', '=', clientId).where('message_id', '=', messageId).executeTakeFirst())
    return Number(r.numDeletedRows) > 0
  }

  async cleanIncoming(clientId: string): Promise<void> {
    await this.#write(clientId, (db) => db.deleteFrom('herald_mqtt_incoming').where('client_id', '=', clientId).execute())
  }

  /** every queued and in-flight packet of a session (its end) */
  async clearOutgoing(clientId: string): Promise<void> {
    await this.#write(clientId, (db) => db.deleteFrom('herald_mqtt_outgoing').where('client_id', '=', clientId).execute(), false, true)
  }

  // MQTT 5 session expiry (session-expiry.ts)

  async sessionExpiries(): Promise<SessionExpiryRow[]> {
    const rows = await this.db.selectFrom('herald_mqtt_session_expiry').selectAll().orderBy('client_id').execute()
    return rows.map((r) => ({ clientId: r.client_id as string, expiryS: Number(r.expiry_s), expiresAt: r.expires_at === null ? null : Number(r.expires_at) }))
  }

  async sessionExpiryOf(clientId: string): Promise<SessionExpiryRow | undefined> {
    const r = await this.db.selectFrom('herald_mqtt_session_expiry').selectAll().where('client_id', '=', clientId).executeTakeFirst()
    return r ? { clientId, expiryS: Number(r.expiry_s), expiresAt: r.expires_at === null ? null : Number(r.expires_at) } : undefined
  }

  /** the session's client is connected (expires_at null) or left (the ms epoch its session ends at) */
  async putSessionExpiry(clientId: string, expiryS: number, expiresAt: number | null): Promise<void> {
    const row = { expiry_s: expiryS, expires_at: expiresAt }
    await this.#write(clientId, (db) => db.insertInto('herald_mqtt_session_expiry').values({ client_id: clientId, ...row })
      .onConflict((oc) => oc.column('client_id').doUpdateSet(row)).execute(), false, true)
  }

  async deleteSessionExpiry(clientId: string): Promise<void> {
    await this.#write(clientId, (db) => db.deleteFrom('herald_mqtt_session_expiry').where('client_id', '=', clientId).execute(), false, true)
  }

  // wills

  async putWill(clientId: string, brokerId: string, p: StoredPacket): Promise<void> {
    await this.#write(clientId, (db) => db.insertInto('herald_mqtt_wills').values({ client_id: clientId, broker_id: brokerId, ...p })
      .onConflict((oc) => oc.column('client_id').doUpdateSet({ broker_id: brokerId, ...p }))
      .execute())
  }

  async getWill(clientId: string): Promise<StoredPacket | undefined> {
    const r = await this.db.selectFrom('herald_mqtt_wills').select(['packet', 'payload']).where('client_id', '=', clientId).executeTakeFirst()
    return r ? { packet: r.packet as string, payload: bytesOf(r.payload) } : undefined
  }

  async deleteWill(clientId: string): Promise<StoredPacket | undefined> {
    const r = await this.#write(clientId, (db) => db.deleteFrom('herald_mqtt_wills').where('client_id', '=', clientId).returning(['packet', 'payload']).executeTakeFirst())
    return r ? { packet: r.packet as string, payload: bytesOf(r.payload) } : undefined
  }

  /** The wills of clients of brokers not in `alive`. */
  async willsNotOf(alive: string[]): Promise<StoredPacket[]> {
    let q = this.db.selectFrom('herald_mqtt_wills').select(['packet', 'payload'])
    if (alive.length > 0) q = q.where('broker_id', 'not in', alive)
    const rows = await q.orderBy('client_id').execute()
    return rows.map((r) => ({ packet: r.packet as string, payload: bytesOf(r.payload) }))
  }
}
