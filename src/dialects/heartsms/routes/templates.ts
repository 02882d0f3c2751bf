// heartsms §4.2 templates and §5.2 operations 42–44.
import { insertAccount, listRoute, ok, removeRoute, withAccount, type RouteDef } from './common.ts'

export const templateRoutes: RouteDef[] = [
  listRoute('/templates', 'templates', ['device_id', 'text'], 'U'),
  {
    method: 'POST', url: '/templates/add', params: { list: { name: 'templates', item: { req: ['device_id:n', 'text'] } } },
    handler: async (p, items, h) => {
      await h.store.insert('templates', await insertAccount(h, p), items)
      return ok(items.map((t) => ['added_template', { device_id: t.device_id, text: t.text }]))
    },
  },
  removeRoute('/templates/remove/:device_id', 'templates', 'removed_template'),
  {
    method: 'POST', url: '/templates/update/:device_id', params: { req: ['device_id:n', 'text'] }, handler: (p, _i, h) => withAccount(h, p, async (acc) => {
      await h.store.update('templates', acc, { device_id: p.device_id }, { text: p.text })
      return ok([['updated_template', { device_id: p.device_id, text: p.text }]])
    }),
  },
]
