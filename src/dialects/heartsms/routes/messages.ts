// heartsms §4.2 messages and §5.2 operations 33–38.
import { insertAccount, ok, omitAbsent, paging, shape, withAccount, type RouteDef } from './common.ts'

const MESSAGE = [
  'id', 'account_id', 'device_id', 'device_conversation_id', 'message_type', 'data', 'timestamp', 'mime_type',
  'read', 'seen', 'message_from', 'color', 'sent_device', 'sim_stamp',
]

export const messageRoutes: RouteDef[] = [
  {
    method: 'GET', url: '/messages', params: { opt: ['conversation_id:n', ...paging] }, handler: async (p, _i, h) => {
      const acc = await h.store.accountId(p.account_id)
      if (acc === undefined) return { body: [] }
      const where = p.conversation_id ? { device_conversation_id: p.conversation_id } : {}
      const rows = await h.store.list('messages', acc, { where, order: 'T', limit: p.limit, offset: p.offset })
      return { body: rows.map((r) => shape(MESSAGE, r, p.account_id)) }
    },
  },
  {
    method: 'POST', url: '/messages/add',
    params: {
      list: {
        name: 'messages',
        item: {
          req: ['device_id:n', 'device_conversation_id:n', 'message_type:n', 'data', 'timestamp:n', 'mime_type', 'read:b', 'seen:b', 'sent_device:n'],
          opt: ['message_from', 'color:n', 'sim_stamp'],
        },
      },
    },
    handler: async (p, items, h) => {
      await h.store.insert('messages', await insertAccount(h, p), items)
      return ok(items.map((m) => ['added_message', omitAbsent({
        id: m.device_id, conversation_id: m.device_conversation_id, type: m.message_type, data: m.data,
        timestamp: m.timestamp, mime_type: m.mime_type, read: m.read, seen: m.seen, sent_device: m.sent_device,
        from: m.message_from, color: m.color, sim_stamp: m.sim_stamp,
      })]))
    },
  },
  {
    method: 'POST', url: '/messages/remove/:device_id', params: { req: ['device_id:n'] }, handler: (p, _i, h) => withAccount(h, p, async (acc) => {
      await h.store.remove('messages', acc, { device_id: p.device_id })
      return ok([['removed_message', { id: p.device_id }]])
    }),
  },
  {
    method: 'POST', url: '/messages/update/:device_id',
    params: { req: ['device_id:n'], opt: ['message_type:n', 'timestamp:n', 'read:b', 'seen:b'], one: true },
    handler: (p, _i, h) => withAccount(h, p, async (acc) => {
      const { message_type, timestamp, read, seen } = p
      await h.store.update('messages', acc, { device_id: p.device_id }, { message_type, timestamp, read, seen })
      return ok([['updated_message', {
        id: p.device_id, type: message_type ?? null, timestamp: timestamp ?? null, read: read ?? null, seen: seen ?? null,
      }]])
    }),
  },
  {
    // heartsms §5.2 #35: both fields are published as strings
    method: 'POST', url: '/messages/update_type/:device_id', params: { req: ['device_id', 'message_type'] },
    handler: (p, _i, h) => withAccount(h, p, async (acc) => {
      await h.store.update('messages', acc, { device_id: Number(p.device_id) }, { message_type: Number(p.message_type) })
      return ok([['update_message_type', { id: p.device_id, message_type: p.message_type }]])
    }),
  },
  {
    method: 'POST', url: '/messages/cleanup', params: { req: ['timestamp:n'] }, handler: (p, _i, h) => withAccount(h, p, async (acc) => {
      await h.store.remove('messages', acc, { timestamp: ['<', p.timestamp] })
      return ok([['cleanup_messages', { timestamp: p.timestamp }]])
    }),
  },
  {
    method: 'POST', url: '/messages/forward_to_phone', params: { req: ['to', 'message', 'sent_device:n'], opt: ['mime_type', 'message_id:n'] },
    handler: (p, _i, h) => withAccount(h, p, async () => ok([['forward_to_phone', omitAbsent({
      to: p.to, message: p.message, sent_device: p.sent_device, mime_type: p.mime_type, message_id: p.message_id,
    })]], true)),
  },
]
