// Kysely, loaded from its CommonJS build: the one place Herald takes Kysely's values from (ESLint refuses a value
// import of 'kysely' elsewhere; `import type` from 'kysely' is fine). Its ES-module build is ~265 modules, and Node 20
// holds ~6 MB more RSS for them than for the same code loaded as CommonJS (issue 11 item 7: 17.5 MB against 11.5 MB,
// measured with bench/lib/import-cost.mjs's method). One build also keeps `instanceof PostgresAdapter` true.
import { createRequire } from 'node:module'
import type * as K from 'kysely'

const kysely = createRequire(import.meta.url)('kysely') as typeof K

export const { CompiledQuery, Kysely, Migrator, PostgresAdapter, PostgresDialect, SqliteDialect, sql } = kysely
// the classes are types too
export type CompiledQuery<R = unknown> = K.CompiledQuery<R>
export type Kysely<DB> = K.Kysely<DB>
export type PostgresAdapter = K.PostgresAdapter
