// The push dialect's store (UWPX §5, §12.3): devices with their channel URI and protocol version, and one node and
// secret per (device, account). The only module of the dialect that writes SQL. A record lives until expires_at;
// an expired one reads as absent before the sweep deletes it.
import type { Db, DbKind } from '../../core/store/db.ts'

export interface DeviceRow { device_id: string; channel_uri: string; version: string | null; updated_at: number; expires_at: number }
export interface AccountRow { node: string; device_id: string; account_id: string; secret: string; created_at: number }
/** what a publish to `node` is delivered to (§5.2 "incoming notification") */
export interface NodeTarget { node: string; account_id: string; device_id: string; secret: string; channel_uri: string; version: string | null }
export interface NewAccount { account_id: string; node: string; secret: string }

export class PushStore {
  constructor(private readonly db: Db, private readonly kind: DbKind) {}

  /** issue 15: the admin console's section: live (unexpired) devices and their accounts */
  async summaryCounts(now: number): Promise<{ devices: number; accounts: number }> {
    const row = await this.db.selectNoFrom([
      this.db.selectFrom('push_uwpx_devices').where('expires_at', '>', now).select((eb) => eb.fn.countAll().as('c')).as('devices'),
      this.db.selectFrom('push_uwpx_accounts').innerJoin('push_uwpx_devices', 'push_uwpx_devices.device_id', 'push_uwpx_accounts.device_id')
        .where('push_uwpx_devices.expires_at', '>', now).select((eb) => eb.fn.countAll().as('c')).as('accounts'),
    ]).executeTakeFirstOrThrow()
    return { devices: Number(row.devices), accounts: Number(row.accounts) }
  }

  /** the device, unless it expired */
  async device(deviceId: string, now: number): Promise<DeviceRow | undefined> {
    return await this.db.selectFrom('push_uwpx_devices').selectAll()
      .where('device_id', '=', deviceId).where('expires_at', '>', now).executeTakeFirst() as DeviceRow | undefined
  }

  async accounts(deviceId: string): Promise<AccountRow[]> {
    return await this.db.selectFrom('push_uwpx_accounts').selectAll()
      .where('device_id', '=', deviceId).orderBy('created_at').orderBy('node').execute() as AccountRow[]
  }

  /**
   * §3.3 set_channel_uri: upsert, keeping the version and accounts of a live record; an expired one starts over.
   * Refreshes the whole record's lifetime (§12.2).
   */
  async setChannelUri(deviceId: string, channelUri: string, now: number, expiresAt: number): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('push_uwpx_devices').where('device_id', '=', deviceId).where('expires_at', '<=', now).execute()
      await trx.insertInto('push_uwpx_devices')
        .values({ device_id: deviceId, channel_uri: channelUri, version: null, updated_at: now, expires_at: expiresAt })
        .onConflict((oc) => oc.column('device_id').doUpdateSet({ channel_uri: channelUri, updated_at: now, expires_at: expiresAt }))
        .execute()
    })
  }

  /**
   * §3.3 set_push_accounts: the device's complete account set becomes `accounts` (old rows deleted, then written
   * fresh: §5.3 #1), its version is stored and its lifetime refreshed. False when the device is unknown or expired.
   */
  async replaceAccounts(deviceId: string, version: string, accounts: NewAccount[], now: number, expiresAt: number): Promise<boolean> {
    return await this.db.transaction().execute(async (trx) => {
      let q = trx.selectFrom('push_uwpx_devices').select('device_id').where('device_id', '=', deviceId).where('expires_at', '>', now)
      // one writer per device at a time, also across nodes sharing the database
      if (this.kind === 'postgres') q = q.forUpdate()
      if (!(await q.executeTakeFirst())) return false
      const kept = await trx.selectFrom('push_uwpx_accounts').select(['node', 'created_at']).where('device_id', '=', deviceId).execute() as { node: string; created_at: number }[]
      const since = new Map(kept.map((r) => [r.node, Number(r.created_at)]))
      await trx.deleteFrom('push_uwpx_accounts').where('device_id', '=', deviceId).execute()
      if (accounts.length > 0) {
        await trx.insertInto('push_uwpx_accounts').values(accounts.map((a) => ({
          node: a.node, device_id: deviceId, account_id: a.account_id, secret: a.secret, created_at: since.get(a.node) ?? now,
        }))).execute()
      }
      await trx.updateTable('push_uwpx_devices').set({ version, updated_at: now, expires_at: expiresAt }).where('device_id', '=', deviceId).execute()
      return true
    })
  }

  /** §5.2 incoming notification: node → account, device, channel and version; nothing for an unknown or expired node */
  async byNode(node: string, now: number): Promise<NodeTarget | undefined> {
    return await this.db.selectFrom('push_uwpx_accounts as a').innerJoin('push_uwpx_devices as d', 'd.device_id', 'a.device_id')
      .select(['a.node', 'a.account_id', 'a.device_id', 'a.secret', 'd.channel_uri', 'd.version'])
      .where('a.node', '=', node).where('d.expires_at', '>', now).executeTakeFirst() as NodeTarget | undefined
  }

  /** §12.2: WNS says the channel is gone (404/410): delete the devices registered with it; the nodes they held. */
  async dropChannel(channelUri: string): Promise<string[]> {
    return await this.db.transaction().execute(async (trx) => {
      const rows = await trx.selectFrom('push_uwpx_accounts as a').innerJoin('push_uwpx_devices as d', 'd.device_id', 'a.device_id')
        .select('a.node').where('d.channel_uri', '=', channelUri).execute() as { node: string }[]
      await trx.deleteFrom('push_uwpx_accounts').where('device_id', 'in',
        trx.selectFrom('push_uwpx_devices').select('device_id').where('channel_uri', '=', channelUri)).execute()
      await trx.deleteFrom('push_uwpx_devices').where('channel_uri', '=', channelUri).execute()
      return rows.map((r) => r.node)
    })
  }

  /** Delete the records expired by `now`; the nodes they held (for the XMPP side to remove). */
  async sweep(now: number): Promise<string[]> {
    return await this.db.transaction().execute(async (trx) => {
      const rows = await trx.selectFrom('push_uwpx_accounts as a').innerJoin('push_uwpx_devices as d', 'd.device_id', 'a.device_id')
        .select('a.node').where('d.expires_at', '<=', now).execute() as { node: string }[]
      // explicitly, not only by ON DELETE CASCADE (SQLite enforces it only with foreign_keys on)
      await trx.deleteFrom('push_uwpx_accounts').where('device_id', 'in',
        trx.selectFrom('push_uwpx_devices').select('device_id').where('expires_at', '<=', now)).execute()
      await trx.deleteFrom('push_uwpx_devices').where('expires_at', '<=', now).execute()
      return rows.map((r) => r.node)
    })
  }
}
