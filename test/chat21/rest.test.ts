// chat21 §12 REST API on SQLite and PostgreSQL: the chat21 store contract (test/contracts/chat21-store.ts).
import { chat21StoreContract } from '../contracts/chat21-store.ts'

for (const db of ['sqlite', 'postgres'] as const) chat21StoreContract(db)
