// Admin API bearer tokens (`herald token create`): stored as SHA-256 hashes in herald_admin_tokens, shown once.
import { createHash, randomBytes } from 'node:crypto'
import type { Migration } from 'kysely'
import type { Db } from '../store/db.ts'

export const adminTokensMigration: Migration = {
  async up(db) {
    await db.schema.createTable('herald_admin_tokens')
      .addColumn('token_hash', 'varchar(64)', (c) => c.primaryKey())
      .addColumn('name', 'varchar(255)', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .execute()
  },
}

export function tokenHash(token: string): string {
  return createHash('sha256').update(token).digest('hex')
}

export interface AdminTokenRow { name: string; created_at: number }

export class AdminTokenStore {
  constructor(private db: Db) {}

  /** a new token: the caller prints it; only its hash is kept */
  async create(name: string): Promise<string> {
    const token = `hrld_${randomBytes(32).toString('base64url')}`
    await this.db.insertInto('herald_admin_tokens').values({ token_hash: tokenHash(token), name, created_at: Date.now() }).execute()
    return token
  }

  /** the token's name, or undefined for an unknown token */
  async find(token: string): Promise<string | undefined> {
    const row = await this.db.selectFrom('herald_admin_tokens').select(['name']).where('token_hash', '=', tokenHash(token)).executeTakeFirst()
    return row?.name as string | undefined
  }

  async list(): Promise<AdminTokenRow[]> {
    const rows = await this.db.selectFrom('herald_admin_tokens').select(['name', 'created_at']).orderBy('created_at').execute()
    return rows.map((r) => ({ name: String(r.name), created_at: Number(r.created_at) }))
  }
}
