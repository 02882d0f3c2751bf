// Benchmark child (bench:memory): the floor under Herald's idle RSS. Stock Aedes on a plain TCP listener, as
// aedes-broker.mjs, plus the libraries every `herald serve` starts, each doing the least Herald does with it: a
// Fastify server with one route, a better-sqlite3 database in WAL mode queried through Kysely (its CommonJS build,
// as src/core/store/kysely.ts loads it), a pino logger, prom-client's default metrics. No Herald code: what this
// costs over stock Aedes no change to Herald's own modules can win back. Plain JavaScript on plain node; prints
// {"ready":{"port":…}} when it listens; exits on SIGTERM.
import { mkdtempSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import v8 from 'node:v8'
import vm from 'node:vm'
import { Aedes } from 'aedes'

const require = createRequire(import.meta.url)
const aedes = await Aedes.createBroker()
const server = net.createServer((socket) => aedes.handle(socket))
await new Promise((r) => server.listen(0, '127.0.0.1', () => r()))

const app = require('fastify')()
app.get('/health', async () => ({ ok: true }))
await app.listen({ port: 0, host: '127.0.0.1' })

const dir = mkdtempSync(join(tmpdir(), 'herald-floor-'))
const SQLite = require('better-sqlite3')
const { Kysely, SqliteDialect, sql } = require('kysely')
const sqlite = new SQLite(join(dir, 'floor.db'))
sqlite.pragma('journal_mode = WAL')
const db = new Kysely({ dialect: new SqliteDialect({ database: sqlite }) })
await sql`create table t (k text primary key, v text)`.execute(db)
await db.insertInto('t').values({ k: 'a', v: 'b' }).execute()
await db.selectFrom('t').selectAll().execute()

const log = require('pino')()
require('prom-client').collectDefaultMetrics()
log.debug('ready')

// Herald collects garbage once after start (src/core/util/heap.ts); so does the floor
setTimeout(() => { v8.setFlagsFromString('--expose-gc'); vm.runInNewContext('gc')() }, 2000).unref()

const stop = () => {
  server.close()
  app.close()
  aedes.close(() => {
    sqlite.close()
    rmSync(dir, { recursive: true, force: true })
    process.exit(0)
  })
  setTimeout(() => process.exit(0), 2000).unref()
}
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
process.stdout.write(JSON.stringify({ ready: { port: server.address().port } }) + '\n')
