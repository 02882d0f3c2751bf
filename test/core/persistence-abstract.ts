// aedes-persistence's own abstract suite (node_modules/aedes-persistence/abstract.js, unchanged) run on the durable
// persistence (transport/persistence.ts) over one database: every instance starts on empty tables.
import { createRequire } from 'node:module'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { migrate, openStore, type Store } from '../../src/core/store/db.ts'
import { coreMigrations } from '../../src/core/store/users.ts'
import { StorePersistence } from '../../src/transport/persistence.ts'
import { createPgSchema, dropPgSchema, pgUrlForSchema } from '../helpers.ts'

const abstractPersistence = createRequire(import.meta.url)('aedes-persistence/abstract.js') as (o: object) => void

const TABLES = ['herald_mqtt_subscriptions', 'herald_mqtt_retained', 'herald_mqtt_outgoing', 'herald_mqtt_incoming', 'herald_mqtt_wills']

export function runAbstractSuite(kind: 'sqlite' | 'postgres', skip: { skip: string | false }): void {
  let store: Store | undefined
  let cleanup = async () => {}
  const open = async (): Promise<Store> => {
    if (store) return store
    if (kind === 'postgres') {
      const schema = await createPgSchema()
      store = openStore({ dataDir: tmpdir(), databaseUrl: pgUrlForSchema(schema) })
      cleanup = () => dropPgSchema(schema)
    } else {
      const dir = mkdtempSync(join(tmpdir(), 'herald-persistence-'))
      store = openStore({ dataDir: dir })
      cleanup = async () => rmSync(dir, { recursive: true, force: true })
    }
    await migrate(store.db, 'core', coreMigrations)
    return store
  }
  after(async () => {
    await store?.close()
    await cleanup()
  })
  abstractPersistence({
    test: (name: string, fn: (t: unknown) => Promise<void>) => test(`${kind}: ${name}`, skip, fn as never),
    testAsync: true,
    persistence: async () => {
      const s = await open()
      for (const t of TABLES) await s.db.deleteFrom(t).execute()
      return new StorePersistence({ db: s.db, kind: s.kind, maxQueued: 0, queuedExpiryMs: 0 })
    },
  })
}
