// heartsms §4.2 blacklists and §5.2 operations 8–9.
import { insertAccount, listRoute, ok, removeRoute, type RouteDef } from './common.ts'

const BLACKLIST = ['id', 'account_id', 'device_id', 'phone_number', 'phrase']

export const blacklistRoutes: RouteDef[] = [
  listRoute('/blacklists', 'blacklists', BLACKLIST, 'U'),
  {
    method: 'POST', url: '/blacklists/add',
    params: { list: { name: 'blacklists', item: { req: ['device_id:n'], opt: ['phone_number', 'phrase'], one: true } } },
    handler: async (p, items, h) => {
      await h.store.insert('blacklists', await insertAccount(h, p), items)
      return ok(items.map((b) => ['added_blacklist', { id: b.device_id, phone_number: b.phone_number ?? '', phrase: b.phrase ?? '' }]))
    },
  },
  removeRoute('/blacklists/remove/:device_id', 'blacklists', 'removed_blacklist'),
]
