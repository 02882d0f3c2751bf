// synrc issue 12 §5: the SYNRC store contract (test/contracts/synrc-store.ts) on SQLite and PostgreSQL.
import { synrcStoreContract } from '../contracts/synrc-store.ts'
import { PG_URL, pgAvailable, requireService } from '../helpers.ts'

synrcStoreContract('sqlite', { skip: false })
synrcStoreContract('postgres', requireService(await pgAvailable(), `PostgreSQL at ${PG_URL}`))
