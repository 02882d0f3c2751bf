// Issue 9 §3: the access layer's shared state, one contract on memory and on the store (SQLite, PostgreSQL).
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { MemoryAccessState } from '../../src/core/access/state.ts'
import { StoreAccessState } from '../../src/core/store/access-state.ts'
import { migrate, openStore } from '../../src/core/store/db.ts'
import { coreMigrations } from '../../src/core/store/users.ts'
import { accessStateContract } from '../contracts/access-state.ts'
import { createPgSchema, dropPgSchema, pgAvailable, pgUrlForSchema, requireService } from '../helpers.ts'

accessStateContract('memory', {
  perNode: true,
  selfBounded: true,
  async make(o) {
    const a = new MemoryAccessState(o)
    return { a, b: new MemoryAccessState(o), close: async () => {} }
  },
})

accessStateContract('store on SQLite (two connections to one file)', {
  async make(o) {
    const dir = mkdtempSync(join(tmpdir(), 'herald-state-'))
    const s1 = openStore({ dataDir: dir })
    await migrate(s1.db, 'core', coreMigrations)
    const s2 = openStore({ dataDir: dir })
    return {
      a: new StoreAccessState(s1.db, o), b: new StoreAccessState(s2.db, o),
      async close() { await s1.close(); await s2.close(); rmSync(dir, { recursive: true, force: true }) },
    }
  },
})

const pg = await pgAvailable()
accessStateContract('store on PostgreSQL (two pools)', {
  async make(o) {
    const schema = await createPgSchema()
    const s1 = openStore({ databaseUrl: pgUrlForSchema(schema), dataDir: '' })
    await migrate(s1.db, 'core', coreMigrations)
    const s2 = openStore({ databaseUrl: pgUrlForSchema(schema), dataDir: '' })
    return {
      a: new StoreAccessState(s1.db, o), b: new StoreAccessState(s2.db, o),
      async close() { await s1.close(); await s2.close(); await dropPgSchema(schema) },
    }
  },
}, requireService(pg, 'PostgreSQL').skip)
