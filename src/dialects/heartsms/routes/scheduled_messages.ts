// heartsms §4.2 scheduled messages and §5.2 operations 39–41.
import { insertAccount, listRoute, ok, removeRoute, withAccount, type RouteDef } from './common.ts'

const SCHEDULED = ['id', 'account_id', 'device_id', 'to', 'data', 'mime_type', 'timestamp', 'title', 'repeat']
const FIELDS = ['to', 'data', 'mime_type', 'timestamp:n', 'title', 'repeat:n']

const scheduledEvent = (s: Record<string, any>) => ({
  id: s.device_id, to: s.to, data: s.data, mime_type: s.mime_type, timestamp: s.timestamp, title: s.title, repeat: s.repeat,
})

export const scheduledRoutes: RouteDef[] = [
  listRoute('/scheduled_messages', 'scheduled_messages', SCHEDULED, 'U'),
  {
    method: 'POST', url: '/scheduled_messages/add',
    params: { list: { name: 'scheduled_messages', item: { req: ['device_id:n', ...FIELDS] } } },
    handler: async (p, items, h) => {
      await h.store.insert('scheduled_messages', await insertAccount(h, p), items)
      return ok(items.map((s) => ['added_scheduled_message', scheduledEvent(s)]))
    },
  },
  removeRoute('/scheduled_messages/remove/:device_id', 'scheduled_messages', 'removed_scheduled_message'),
  {
    method: 'POST', url: '/scheduled_messages/update/:device_id', params: { req: ['device_id:n'], opt: FIELDS, one: true },
    handler: (p, _i, h) => withAccount(h, p, async (acc) => {
      const { to, data, mime_type, timestamp, title, repeat } = p
      const rows = await h.store.update('scheduled_messages', acc, { device_id: p.device_id }, { to, data, mime_type, timestamp, title, repeat }, true)
      return ok(rows.slice(0, 1).map((r) => ['updated_scheduled_message', scheduledEvent(r)]))
    }),
  },
]
