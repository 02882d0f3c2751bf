// heartsms §4.2 devices: only update_primary publishes (§5.2 #26).
import { insertAccount, ok, shape, withAccount, type RouteDef } from './common.ts'

const DEVICE = ['id=device_id', 'info', 'name', 'primary', 'account_id', 'fcm_token', 'ios']

export const deviceRoutes: RouteDef[] = [
  {
    method: 'GET', url: '/devices', handler: async (p, _i, h) => {
      const acc = await h.store.accountId(p.account_id)
      if (acc === undefined) return { body: [] }
      const rows = await h.store.list('devices', acc, { order: 'N' })
      return { body: rows.map((r) => shape(DEVICE, r, p.account_id)) }
    },
  },
  {
    method: 'POST', url: '/devices/add',
    params: { list: { name: 'device', single: true, item: { req: ['id:n', 'info', 'name', 'primary:b', 'fcm_token'] } } },
    handler: async (p, [d], h) => {
      const { id, ...rest } = d
      await h.store.insert('devices', await insertAccount(h, p), [{ device_id: id, ...rest }])
      return { body: { id } }
    },
  },
  {
    method: 'POST', url: '/devices/remove/:id', params: { req: ['id:n'] }, handler: (p, _i, h) => withAccount(h, p, async (acc) => {
      await h.store.remove('devices', acc, { device_id: p.id })
      return ok()
    }),
  },
  {
    method: 'POST', url: '/devices/update/:id', params: { req: ['id:n'], opt: ['fcm_token', 'name'], one: true },
    handler: (p, _i, h) => withAccount(h, p, async (acc) => {
      await h.store.update('devices', acc, { device_id: p.id }, { fcm_token: p.fcm_token, name: p.name })
      return ok()
    }),
  },
  {
    method: 'POST', url: '/devices/update_primary', params: { req: ['new_primary_device_id'] }, handler: (p, _i, h) => withAccount(h, p, async (acc) => {
      await h.store.updatePrimaryDevice(acc, Number(p.new_primary_device_id))
      return ok([['update_primary_device', { new_primary_device_id: p.new_primary_device_id }]])
    }),
  },
]
