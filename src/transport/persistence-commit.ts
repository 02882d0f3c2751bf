// Group commit for the durable Aedes persistence's writes (transport/persistence-store.ts): the writes asked for while
// one commit runs (or within the same tick) share the next transaction, so a burst of QoS 1 traffic pays one SQLite
// commit or one PostgreSQL BEGIN/COMMIT (and fsync) per batch, not per packet. Each caller's promise settles only
// after its batch has committed: what Aedes acknowledges (the PUBACK hold in broker.ts) is on disk.
import type { Db } from '../core/store/db.ts'

/** One write: runs on the batch's transaction (or on the database, alone); `atomic`: needs a transaction even alone. */
interface Write {
  run: (db: Db) => Promise<unknown>
  atomic: boolean
  resolve: (v: unknown) => void
  reject: (err: unknown) => void
}

/** Writes per transaction: a bounded batch keeps each commit (and the connection's hold) short. */
const MAX_BATCH = 256

export interface CommitStats {
  /** writes asked for */
  writes: number
  /** commits that carried them (a write alone, without a transaction, counts as one) */
  commits: number
}

export class GroupCommit {
  #pending: Write[] = []
  #running = false
  #scheduled = false
  readonly stats: CommitStats = { writes: 0, commits: 0 }

  constructor(private db: Db) {}

  /** Run `fn` in the next batch, in the order asked; answers its result once the batch has committed. */
  write<T>(fn: (db: Db) => Promise<T>, atomic = false): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#pending.push({ run: fn, atomic, resolve: resolve as (v: unknown) => void, reject })
      this.stats.writes++
      if (!this.#running && !this.#scheduled) {
        this.#scheduled = true
        // the writes of this tick (a PUBLISH's, the PUBACKs of one socket read) join the same batch
        setImmediate(() => { this.#scheduled = false; void this.#drain() })
      }
    })
  }

  async #drain(): Promise<void> {
    if (this.#running) return
    this.#running = true
    try {
      while (this.#pending.length > 0) await this.#commit(this.#pending.splice(0, MAX_BATCH))
    } finally {
      this.#running = false
    }
  }

  async #commit(batch: Write[]): Promise<void> {
    this.stats.commits++
    if (batch.length === 1 && !batch[0].atomic) {
      const w = batch[0]
      await w.run(this.db).then(w.resolve, w.reject)
      return
    }
    let results: unknown[]
    try {
      results = await this.db.transaction().execute(async (trx) => {
        const out: unknown[] = []
        for (const w of batch) out.push(await w.run(trx))
        return out
      })
    } catch {
      // one write failed and took the batch with it (rolled back, nothing of it stored): each again in its own
      // transaction, so only the failing one fails (PostgreSQL aborts a whole transaction on its first error)
      for (const w of batch) {
        this.stats.commits++
        await this.db.transaction().execute((trx) => w.run(trx)).then(w.resolve, w.reject)
      }
      return
    }
    for (let i = 0; i < batch.length; i++) batch[i].resolve(results[i])
  }
}
