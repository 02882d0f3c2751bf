// heartsms §2 and §4 on SQLite and PostgreSQL: the HeartSMS store contract (test/contracts/heartsms-store.ts).
import { heartsmsStoreContract } from '../contracts/heartsms-store.ts'
import { DBS } from './helpers.ts'

for (const db of DBS) heartsmsStoreContract(db)
