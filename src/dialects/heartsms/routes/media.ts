// heartsms §4.2 media: stored as text, read back as `{"data": …}`; nothing is published.
import { insertAccount, ok, type RouteDef } from './common.ts'

export const mediaRoutes: RouteDef[] = [
  {
    method: 'POST', url: '/media/add', params: { req: ['message_id:n', 'data'] }, handler: async (p, _i, h) => {
      await h.store.insert('media', await insertAccount(h, p), [{ message_id: p.message_id, data: p.data }])
      return ok()
    },
  },
  {
    method: 'GET', url: '/media/:message_id', params: { req: ['message_id:n'] }, handler: async (p, _i, h) => {
      const acc = await h.store.accountId(p.account_id)
      const rows = acc === undefined ? [] : await h.store.list('media', acc, { where: { message_id: p.message_id }, order: 'N', limit: 1 })
      return { body: { data: rows[0]?.data ?? null } }
    },
  },
]
