// heartsms §4.2 auto replies and §5.2 operations 5–7.
import { insertAccount, listRoute, ok, removeRoute, withAccount, type RouteDef } from './common.ts'

const AUTO_REPLY = ['id', 'account_id', 'device_id', 'reply_type', 'pattern', 'response']
const FIELDS = ['reply_type', 'pattern', 'response']

const replyEvent = (r: Record<string, any>) => ({ device_id: r.device_id, type: r.reply_type, pattern: r.pattern, response: r.response })

export const autoReplyRoutes: RouteDef[] = [
  listRoute('/auto_replies', 'auto_replies', AUTO_REPLY, 'U'),
  {
    method: 'POST', url: '/auto_replies/add', params: { list: { name: 'auto_replies', item: { req: ['device_id:n', ...FIELDS] } } },
    handler: async (p, items, h) => {
      await h.store.insert('auto_replies', await insertAccount(h, p), items)
      return ok(items.map((r) => ['added_auto_reply', replyEvent(r)]))
    },
  },
  removeRoute('/auto_replies/remove/:device_id', 'auto_replies', 'removed_auto_reply'),
  {
    method: 'POST', url: '/auto_replies/update/:device_id', params: { req: ['device_id:n', ...FIELDS] }, handler: (p, _i, h) => withAccount(h, p, async (acc) => {
      await h.store.update('auto_replies', acc, { device_id: p.device_id }, { reply_type: p.reply_type, pattern: p.pattern, response: p.response })
      return ok([['updated_auto_reply', replyEvent(p)]])
    }),
  },
]
