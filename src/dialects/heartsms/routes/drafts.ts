// heartsms §4.2 drafts and §5.2 operations 27–29.
import { insertAccount, listRoute, ok, shape, withAccount, type RouteDef } from './common.ts'

const DRAFT = ['id', 'account_id', 'device_id', 'device_conversation_id', 'data', 'mime_type']
const ITEM = { req: ['device_id:n', 'device_conversation_id:n', 'mime_type', 'data'] }

const draftEvent = (d: Record<string, any>) => ({ id: d.device_id, conversation_id: d.device_conversation_id, data: d.data, mime_type: d.mime_type })

export const draftRoutes: RouteDef[] = [
  listRoute('/drafts', 'drafts', DRAFT, 'U'),
  {
    method: 'GET', url: '/drafts/:device_conversation_id', params: { req: ['device_conversation_id:n'] }, handler: async (p, _i, h) => {
      const acc = await h.store.accountId(p.account_id)
      if (acc === undefined) return { body: [] }
      const rows = await h.store.list('drafts', acc, { where: { device_conversation_id: p.device_conversation_id }, order: 'N' })
      return { body: rows.map((r) => shape(DRAFT, r, p.account_id)) }
    },
  },
  {
    method: 'POST', url: '/drafts/add', params: { list: { name: 'drafts', item: ITEM } }, handler: async (p, items, h) => {
      await h.store.insert('drafts', await insertAccount(h, p), items)
      return ok(items.map((d) => ['added_draft', draftEvent(d)]))
    },
  },
  {
    method: 'POST', url: '/drafts/remove/:device_conversation_id', params: { req: ['device_conversation_id:n', 'android_device'] },
    handler: (p, _i, h) => withAccount(h, p, async (acc) => {
      await h.store.remove('drafts', acc, { device_conversation_id: p.device_conversation_id })
      return ok([['removed_drafts', { id: p.device_conversation_id, android_device: p.android_device }]])
    }),
  },
  {
    method: 'POST', url: '/drafts/update/:device_id', params: { req: ['device_id:n', 'data'], opt: ['mime_type'] },
    handler: (p, _i, h) => withAccount(h, p, async (acc) => {
      const rows = await h.store.update('drafts', acc, { device_id: p.device_id }, { data: p.data, mime_type: p.mime_type }, true)
      return ok(rows.slice(0, 1).map((r) => ['replaced_drafts', draftEvent(r)]))
    }),
  },
  {
    // heartsms §13.4: the path parameter is ignored, only drafts[0] is applied, one message per body item
    method: 'POST', url: '/drafts/replace/:device_conversation_id', params: { list: { name: 'drafts', item: ITEM } },
    handler: (p, items, h) => withAccount(h, p, async (acc) => {
      const first = items[0]
      await h.store.update('drafts', acc, { device_conversation_id: first.device_conversation_id }, {
        device_id: first.device_id, device_conversation_id: first.device_conversation_id, mime_type: first.mime_type, data: first.data,
      })
      return ok(items.map((d) => ['replaced_drafts', draftEvent(d)]))
    }),
  },
]
