// The access layer's shared state in the database (issue 9 §3), for several Herald nodes on one PostgreSQL: failed-
// login windows, client-id holders and hook logins. Same contract as MemoryAccessState (test/contracts/access-state).
import type { Migration } from 'kysely'
import { systemClock, type Clock } from '../clock.ts'
import type { AccessState, AccessStateOptions } from '../access/state.ts'
import type { Principal } from '../access/types.ts'
import type { Db } from './db.ts'

export const accessStateMigration: Migration = {
  async up(db) {
    await db.schema.createTable('herald_auth_failures')
      .addColumn('key', 'varchar(1024)', (c) => c.primaryKey())
      .addColumn('count', 'integer', (c) => c.notNull())
      .addColumn('since', 'bigint', (c) => c.notNull())
      .execute()
    await db.schema.createTable('herald_client_ids')
      .addColumn('client_id', 'varchar(1024)', (c) => c.primaryKey())
      .addColumn('owner', 'varchar(1024)', (c) => c.notNull())
      .addColumn('live', 'integer', (c) => c.notNull())
      .addColumn('at', 'bigint', (c) => c.notNull())
      .execute()
    await db.schema.createTable('herald_remembered')
      .addColumn('key', 'varchar(1024)', (c) => c.primaryKey())
      .addColumn('principal', 'text', (c) => c.notNull())
      .addColumn('at', 'bigint', (c) => c.notNull())
      .execute()
  },
}

/** a connection count left by a node that died is not trusted for longer than this */
const LIVE_MAX_MS = 7 * 24 * 3600_000

/** PostgreSQL text cannot hold NUL (MQTT strings cannot either, but hook calls are HTTP): keys are stored as JSON */
const k = (s: string) => JSON.stringify(s)

interface IdRow { client_id: string; owner: string; live: number; at: number }

export class StoreAccessState implements AccessState {
  private clock: Clock
  constructor(private db: Db, private o: AccessStateOptions) {
    this.clock = o.clock ?? systemClock
  }

  async blocked(key: string): Promise<boolean> {
    const row = await this.db.selectFrom('herald_auth_failures').select(['count', 'since']).where('key', '=', k(key)).executeTakeFirst()
    return row !== undefined && this.clock.now() - Number(row.since) <= this.o.failWindowMs && Number(row.count) >= this.o.failLimit
  }

  async fail(key: string): Promise<void> {
    const now = this.clock.now()
    // one statement: a window that is over starts again at 1, otherwise it counts on (atomic across nodes)
    await this.db.insertInto('herald_auth_failures').values({ key: k(key), count: 1, since: now })
      .onConflict((oc) => oc.column('key').doUpdateSet((eb) => ({
        count: eb.case().when('herald_auth_failures.since', '<', now - this.o.failWindowMs).then(1)
          .else(eb('herald_auth_failures.count', '+', 1)).end(),
        since: eb.case().when('herald_auth_failures.since', '<', now - this.o.failWindowMs).then(now)
          .else(eb.ref('herald_auth_failures.since')).end(),
      })))
      .execute()
  }

  private held(row: IdRow, now: number): boolean {
    const age = now - Number(row.at)
    return age <= this.o.clientIdHoldMs || (Number(row.live) > 0 && age <= LIVE_MAX_MS)
  }

  /** `clientId` already encoded */
  private row(clientId: string): Promise<IdRow | undefined> {
    return this.db.selectFrom('herald_client_ids').selectAll().where('client_id', '=', clientId).executeTakeFirst() as Promise<IdRow | undefined>
  }

  async claim(rawId: string, rawOwner: string, superuser: boolean, tries = 3): Promise<boolean> {
    const clientId = k(rawId), owner = k(rawOwner)
    const now = this.clock.now()
    const row = await this.row(clientId)
    if (row && row.owner === owner) {
      await this.db.updateTable('herald_client_ids').set({ at: now }).where('client_id', '=', clientId).execute()
      return true
    }
    if (row && !superuser && this.held(row, now)) return false
    // take it, on the condition that nobody changed it since it was read (another node claiming at once)
    const r = row
      ? await this.db.updateTable('herald_client_ids').set({ owner, live: 0, at: now })
        .where('client_id', '=', clientId).where('owner', '=', row.owner).where('at', '=', row.at).executeTakeFirst()
        .then((x) => Number(x.numUpdatedRows))
      : await this.db.insertInto('herald_client_ids').values({ client_id: clientId, owner, live: 0, at: now })
        .onConflict((oc) => oc.column('client_id').doNothing()).executeTakeFirst()
        .then((x) => Number(x.numInsertedOrUpdatedRows ?? 0))
    if (r > 0) return true
    return tries > 1 ? this.claim(rawId, rawOwner, superuser, tries - 1) : false
  }

  async isLive(clientId: string, owner: string): Promise<boolean> {
    const row = await this.row(k(clientId))
    return row !== undefined && row.owner === k(owner) && Number(row.live) > 0 && this.clock.now() - Number(row.at) <= LIVE_MAX_MS
  }

  async connected(rawId: string, rawOwner: string): Promise<void> {
    const clientId = k(rawId), owner = k(rawOwner)
    const now = this.clock.now()
    await this.db.insertInto('herald_client_ids').values({ client_id: clientId, owner, live: 1, at: now })
      .onConflict((oc) => oc.column('client_id').doUpdateSet((eb) => ({
        live: eb.case().when('herald_client_ids.owner', '=', owner).then(eb('herald_client_ids.live', '+', 1)).else(1).end(),
        owner, at: now,
      })))
      .execute()
  }

  async disconnected(rawId: string, rawOwner: string, clean: boolean): Promise<void> {
    const clientId = k(rawId), owner = k(rawOwner)
    const now = this.clock.now()
    await this.db.updateTable('herald_client_ids')
      .set((eb) => ({ live: eb.case().when('live', '>', 0).then(eb('live', '-', 1)).else(0).end(), at: now }))
      .where('client_id', '=', clientId).where('owner', '=', owner).execute()
    if (clean) await this.db.deleteFrom('herald_client_ids').where('client_id', '=', clientId).where('owner', '=', owner).where('live', '<=', 0).execute()
  }

  async touch(clientId: string, owner: string): Promise<void> {
    await this.db.updateTable('herald_client_ids').set({ at: this.clock.now() })
      .where('client_id', '=', k(clientId)).where('owner', '=', k(owner)).execute()
  }

  async remember(key: string, p: Principal): Promise<void> {
    const at = this.clock.now()
    const principal = JSON.stringify(p)
    await this.db.insertInto('herald_remembered').values({ key: k(key), principal, at })
      .onConflict((oc) => oc.column('key').doUpdateSet({ principal, at })).execute()
  }

  /**
   * Deletes the rows whose answers have run out: failure windows that are over, client ids nobody holds any more
   * (the hold time passed and no connection is live, or a live count older than LIVE_MAX_MS that a dead node left),
   * hook logins past rememberMs. Every answer is the same before and after; the tables stop growing with every
   * address, username and client id ever seen. Returns the number of rows deleted.
   */
  async sweep(): Promise<number> {
    const now = this.clock.now()
    const [f, c, r] = await Promise.all([
      this.db.deleteFrom('herald_auth_failures').where('since', '<', now - this.o.failWindowMs).executeTakeFirst(),
      this.db.deleteFrom('herald_client_ids').where('at', '<', now - this.o.clientIdHoldMs)
        .where((eb) => eb.or([eb('live', '<=', 0), eb('at', '<', now - LIVE_MAX_MS)])).executeTakeFirst(),
      this.db.deleteFrom('herald_remembered').where('at', '<=', now - this.o.rememberMs).executeTakeFirst(),
    ])
    return Number(f.numDeletedRows) + Number(c.numDeletedRows) + Number(r.numDeletedRows)
  }

  async recall(key: string): Promise<Principal | undefined> {
    const row = await this.db.selectFrom('herald_remembered').select(['principal', 'at']).where('key', '=', k(key)).executeTakeFirst()
    if (!row || this.clock.now() - Number(row.at) >= this.o.rememberMs) return undefined
    return JSON.parse(String(row.principal)) as Principal
  }
}
