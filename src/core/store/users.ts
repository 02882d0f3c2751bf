// Herald's own accounts (service and test accounts managed with `herald user`), table herald_users.
import type { Migration } from 'kysely'
import { hashPassword, verifyPassword } from '../access/passwords.ts'
import type { Authenticator, Principal } from '../access/types.ts'
import { accessStateMigration } from './access-state.ts'
import { outboxMigration } from '../queue/migrations.ts'
import { pushTokensMigration } from '../push/store.ts'
import { mqttOutgoingInFlightIndexMigration, mqttSessionExpiryMigration, mqttSessionsMigration, mqttSysRetainedMigration } from '../../transport/persistence-store.ts'
import { caMigration } from '../identity/sql-store.ts'
import { pushQueueMigration } from '../push/queue-store.ts'
import { adminTokensMigration } from '../admin/tokens.ts'
import type { Db } from './db.ts'

export const coreMigrations: Record<string, Migration> = {
  '001_users': {
    async up(db) {
      await db.schema.createTable('herald_users')
        .addColumn('username', 'varchar(255)', (c) => c.primaryKey())
        .addColumn('password_hash', 'varchar(255)', (c) => c.notNull())
        .addColumn('superuser', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute()
    },
  },
  '002_access_state': accessStateMigration,
  '003_outbox': outboxMigration,
  '004_push_tokens': pushTokensMigration,
  '005_mqtt_sessions': mqttSessionsMigration,
  '006_push_queue': pushQueueMigration,
  '007_ca': caMigration,
  '008_admin_tokens': adminTokensMigration,
  '009_mqtt_outgoing_in_flight_index': mqttOutgoingInFlightIndexMigration,
  '010_mqtt_sys_retained': mqttSysRetainedMigration,
  '011_mqtt_session_expiry': mqttSessionExpiryMigration,
}

export interface UserRow { username: string; superuser: boolean; created_at: number }

export class UserStore {
  constructor(private db: Db) {}

  async add(username: string, password: string, superuser = false): Promise<void> {
    const password_hash = await hashPassword(password)
    await this.db.insertInto('herald_users')
      .values({ username, password_hash, superuser: superuser ? 1 : 0, created_at: Date.now() })
      .onConflict((oc) => oc.column('username').doUpdateSet({ password_hash, superuser: superuser ? 1 : 0 }))
      .execute()
  }

  async remove(username: string): Promise<boolean> {
    const r = await this.db.deleteFrom('herald_users').where('username', '=', username).executeTakeFirst()
    return Number(r.numDeletedRows) > 0
  }

  async list(): Promise<UserRow[]> {
    const rows = await this.db.selectFrom('herald_users').select(['username', 'superuser', 'created_at']).orderBy('username').execute()
    return rows.map((r) => ({ username: r.username, superuser: Boolean(r.superuser), created_at: Number(r.created_at) }))
  }

  async verify(username: string, password: string): Promise<{ superuser: boolean } | null> {
    const row = await this.db.selectFrom('herald_users').select(['password_hash', 'superuser']).where('username', '=', username).executeTakeFirst()
    if (!row || !(await verifyPassword(password, row.password_hash))) return null
    return { superuser: Boolean(row.superuser) }
  }

  async find(username: string): Promise<{ superuser: boolean } | null> {
    const row = await this.db.selectFrom('herald_users').select(['superuser']).where('username', '=', username).executeTakeFirst()
    return row ? { superuser: Boolean(row.superuser) } : null
  }
}

/** Authenticates `herald user` accounts; their rights come from the ACL file unless they are superusers. */
export function userAuthenticator(users: UserStore): Authenticator {
  const principal = (username: string, superuser: boolean): Principal => ({ kind: 'user', username, superuser, attrs: {} })
  return {
    name: 'herald-users',
    async authenticate(c) {
      const found = await users.find(c.username!)
      if (!found) return undefined
      const ok = await users.verify(c.username!, String(c.password ?? ''))
      return ok ? principal(c.username!, ok.superuser) : null
    },
    async lookup(username) {
      const found = await users.find(username)
      return found ? principal(username, found.superuser) : undefined
    },
  }
}
