// Which CA store a server and `herald ca …` use, from the same configuration (HERALD_CA_STORE): the database on
// PostgreSQL (cluster mode: every node has its own data directory), files in <dataDir>/ca on SQLite (one node).
import { ConfigError, str, type Config } from '../../config.ts'
import { migrate, openStore, type Store } from '../store/db.ts'
import { coreMigrations } from '../store/users.ts'
import { SqlCaStore } from './sql-store.ts'
import { FileCaStore, type CaStore } from './store.ts'

export type CaStoreKind = 'files' | 'database'

export function caStoreKindOf(cfg: Config): CaStoreKind {
  const v = str(cfg, 'ca.store') || 'auto'
  if (v === 'files' || v === 'database') return v
  if (v !== 'auto') throw new ConfigError(`ca.store (HERALD_CA_STORE): expected auto, files or database, got ${JSON.stringify(v)}`)
  return /^postgres(ql)?:\/\//.test(str(cfg, 'databaseUrl') ?? '') ? 'database' : 'files'
}

/** The CA store of this configuration; on the database, `shared` (the server's store) or a connection of its own, closed with it. */
export async function openCaStore(cfg: Config, shared?: Store): Promise<CaStore> {
  if (caStoreKindOf(cfg) === 'files') return new FileCaStore(str(cfg, 'dataDir'))
  if (shared) return new SqlCaStore(shared.db, `the database ${shared.where}`)
  const own = openStore({ databaseUrl: str(cfg, 'databaseUrl'), dataDir: str(cfg, 'dataDir') })
  try {
    await migrate(own.db, 'core', coreMigrations)
  } catch (e) {
    await own.close()
    throw e
  }
  return new SqlCaStore(own.db, `the database ${own.where}`, () => own.close())
}
