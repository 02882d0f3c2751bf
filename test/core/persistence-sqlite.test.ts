// Issue 11 item 3: aedes-persistence's abstract suite, unchanged, on the durable persistence over SQLite.
import { runAbstractSuite } from './persistence-abstract.ts'

runAbstractSuite('sqlite', { skip: false })
