// Issue 11 item 3: aedes-persistence's abstract suite, unchanged, on the durable persistence over PostgreSQL.
import { pgAvailable, PG_URL, requireService } from '../helpers.ts'
import { runAbstractSuite } from './persistence-abstract.ts'

runAbstractSuite('postgres', requireService(await pgAvailable(), `PostgreSQL at ${PG_URL}`))
