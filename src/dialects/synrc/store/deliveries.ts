// SYNRC transient delivery queue (§6.6 "delete after ack", issue 12 §4): one row per (recipient device, message)
// until the device acknowledges it; the only file with synrc_deliveries SQL (it also reads which devices are logged
// in). `session` names the broker session that holds the delivery (null: none does, so Herald resends it at connect).
import type { Db } from '../../../core/store/db.ts'

export interface DeliveryRow { client_id: string; message_id: number; session: string | null; created: number }

export class DeliveryStore {
  constructor(private readonly db: Db) {}

  /** queue (or queue again, for an edit) the message for these devices; inside the message's transaction */
  async enqueue(rows: DeliveryRow[], trx: Db = this.db): Promise<void> {
    if (!rows.length) return
    await trx.insertInto('synrc_deliveries').values(rows)
      .onConflict((oc) => oc.columns(['client_id', 'message_id']).doUpdateSet((eb) => ({ session: eb.ref('excluded.session'), created: eb.ref('excluded.created') })))
      .execute()
  }

  /** the device acknowledged it: true when a pending row went */
  async ack(clientId: string, messageId: number): Promise<boolean> {
    const r = await this.db.deleteFrom('synrc_deliveries').where('client_id', '=', clientId).where('message_id', '=', messageId).executeTakeFirst()
    return Number(r.numDeletedRows) > 0
  }

  /** deliveries still owed to logged-in devices (a logged-out device's rows do not hold the message back) */
  async pendingFor(messageId: number): Promise<number> {
    const r = await this.db.selectFrom('synrc_deliveries').select((eb) => eb.fn.countAll().as('n')).where('message_id', '=', messageId)
      .where('client_id', 'in', this.db.selectFrom('synrc_auth').select('client_id').where('token', 'is not', null)).executeTakeFirst()
    return Number(r?.n ?? 0)
  }

  /** the device's pending deliveries that the given broker session does not hold, oldest message first */
  async missed(clientId: string, session: string, limit: number): Promise<number[]> {
    const rows = await this.db.selectFrom('synrc_deliveries').select('message_id').where('client_id', '=', clientId)
      .where((eb) => eb.or([eb('session', 'is', null), eb('session', '!=', session)])).orderBy('message_id').limit(limit).execute()
    return rows.map((r) => Number(r.message_id))
  }

  /** these deliveries are now in the device's broker session */
  async held(clientId: string, messageIds: number[], session: string): Promise<void> {
    if (!messageIds.length) return
    await this.db.updateTable('synrc_deliveries').set({ session }).where('client_id', '=', clientId).where('message_id', 'in', messageIds).execute()
  }

  async removeMessage(messageId: number, trx: Db = this.db): Promise<void> {
    await trx.deleteFrom('synrc_deliveries').where('message_id', '=', messageId).execute()
  }

  async pendingOf(clientId: string): Promise<DeliveryRow[]> {
    const rows = await this.db.selectFrom('synrc_deliveries').selectAll().where('client_id', '=', clientId).orderBy('message_id').execute()
    return rows.map((r) => ({ ...(r as DeliveryRow), message_id: Number(r.message_id), created: Number(r.created) }))
  }
}
