// SYNRC devices and registrations (§6.1, §7 'Auth': one row per device session, key token): the only file with
// synrc_auth SQL. A `reg_…` row is a registration waiting for its SMS code; verifying it makes the `emqttd_…` row.
import type { Db } from '../../../core/store/db.ts'

export interface AuthRow {
  client_id: string
  /** a device's login secret (its MQTT password); null while registering */
  token: string | null
  phone: string
  dev_key: string
  sms_code: string | null
  attempts: number
  code_expires: number
  os: string | null
  push: string | null
  /** ETF of Auth.settings and services, base64 (opaque to the server) */
  settings: string | null
  created: number
  last_online: number
}

export class AuthStore {
  constructor(private readonly db: Db) {}

  async byClient(clientId: string): Promise<AuthRow | undefined> {
    return this.db.selectFrom('synrc_auth').selectAll().where('client_id', '=', clientId).executeTakeFirst() as Promise<AuthRow | undefined>
  }

  async byToken(token: string): Promise<AuthRow | undefined> {
    return this.db.selectFrom('synrc_auth').selectAll().where('token', '=', token).executeTakeFirst() as Promise<AuthRow | undefined>
  }

  /** issue 15: the admin console's section: users (phones with a logged-in device) and logged-in devices */
  async summaryCounts(): Promise<{ users: number; devices: number }> {
    const row = await this.db.selectFrom('synrc_auth').where('token', 'is not', null)
      .select((eb) => [eb.fn.count('phone').distinct().as('users'), eb.fn.countAll().as('devices')]).executeTakeFirstOrThrow()
    return { users: Number(row.users), devices: Number(row.devices) }
  }

  /** the phone's logged-in devices */
  async devices(phone: string): Promise<AuthRow[]> {
    return this.db.selectFrom('synrc_auth').selectAll().where('phone', '=', phone).where('token', 'is not', null)
      .orderBy('created').execute() as Promise<AuthRow[]>
  }

  /** a registration (re)started: new code, attempts reset */
  async register(r: Pick<AuthRow, 'client_id' | 'phone' | 'dev_key' | 'sms_code' | 'code_expires' | 'created'>): Promise<void> {
    const row = { ...r, token: null, attempts: 0, os: null, push: null, settings: null, last_online: r.created }
    await this.db.insertInto('synrc_auth').values(row)
      .onConflict((oc) => oc.column('client_id').doUpdateSet({ phone: r.phone, dev_key: r.dev_key, sms_code: r.sms_code, code_expires: r.code_expires, attempts: 0 }))
      .execute()
  }

  async setCode(clientId: string, code: string, expires: number): Promise<void> {
    await this.db.updateTable('synrc_auth').set({ sms_code: code, code_expires: expires, attempts: 0 }).where('client_id', '=', clientId).execute()
  }

  async failedAttempt(clientId: string): Promise<void> {
    await this.db.updateTable('synrc_auth').set((eb) => ({ attempts: eb('attempts', '+', 1) })).where('client_id', '=', clientId).execute()
  }

  /** the code was right: the registration row goes, the device row (new token) comes, in one transaction */
  async verified(regClientId: string, device: Pick<AuthRow, 'client_id' | 'token' | 'phone' | 'dev_key' | 'created'>): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('synrc_auth').where('client_id', '=', regClientId).execute()
      await trx.deleteFrom('synrc_auth').where('client_id', '=', device.client_id).execute()
      await trx.insertInto('synrc_auth').values({
        ...device, sms_code: null, attempts: 0, code_expires: 0, os: null, push: null, settings: null, last_online: device.created,
      }).execute()
    })
  }

  /** forget a push token the provider says is gone (APNs 410, FCM UNREGISTERED, Web Push 404/410); how many devices had it */
  async dropPush(push: string): Promise<number> {
    const r = await this.db.updateTable('synrc_auth').set({ push: null }).where('push', '=', push).executeTakeFirst()
    return Number(r.numUpdatedRows)
  }

  /** the os=web devices whose saved subscription (PushSubscription JSON) has this endpoint: the token forgotten */
  async dropWebPush(endpoint: string): Promise<number> {
    const rows = await this.db.selectFrom('synrc_auth').select(['client_id', 'push']).where('os', '=', 'web').where('push', 'is not', null).execute()
    const gone = rows.filter((r) => { try { return (JSON.parse(String(r.push)) as { endpoint?: unknown }).endpoint === endpoint } catch { return false } }).map((r) => r.client_id as string)
    if (gone.length === 0) return 0
    await this.db.updateTable('synrc_auth').set({ push: null }).where('client_id', 'in', gone).execute()
    return gone.length
  }

  async setPush(clientId: string, push: string, os: string | null): Promise<void> {
    await this.db.updateTable('synrc_auth').set({ push, os }).where('client_id', '=', clientId).execute()
  }

  async seen(clientId: string, at: number): Promise<void> {
    await this.db.updateTable('synrc_auth').set({ last_online: at }).where('client_id', '=', clientId).execute()
  }

  async remove(clientId: string): Promise<void> {
    await this.db.deleteFrom('synrc_auth').where('client_id', '=', clientId).execute()
  }
}
