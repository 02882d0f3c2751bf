// heartsms §4.2 conversations and §5.2 operations 14–25.
import type { ConversationIndex, Row } from '../store.ts'
import { insertAccount, ok, omitAbsent, paging, shape, withAccount, type Event, type RouteDef } from './common.ts'

const CONVERSATION = [
  'id', 'account_id', 'device_id', 'folder_id', 'color', 'color_dark', 'color_light', 'color_accent', 'led_color',
  'pinned', 'read', 'timestamp', 'title', 'phone_numbers', 'snippet', 'ringtone', 'image_uri', 'id_matcher', 'mute',
  'archive', 'private_notifications',
]
const COLORS = ['color:n', 'color_dark:n', 'color_light:n', 'color_accent:n', 'led_color:n']
const FLAGS = ['mute:b', 'archive:b', 'private_notifications:b']

const indexRoute = (name: ConversationIndex): RouteDef => ({
  method: 'GET', url: `/conversations/index_${name}`, params: { opt: paging }, handler: async (p, _i, h) => {
    const acc = await h.store.accountId(p.account_id)
    if (acc === undefined) return { body: [] }
    const rows = await h.store.list('conversations', acc, { filter: name, order: 'T', limit: p.limit, offset: p.offset })
    return { body: rows.map((r) => shape(CONVERSATION, r, p.account_id)) }
  },
})

/** An update that publishes the row as it is afterwards; nothing when no row matched (heartsms §13.3). */
const fromRow = (rows: Row[], event: (r: Row) => Event) => ok(rows.length ? [event(rows[0])] : [])

/** A single-row change keyed by the path's device_id that publishes `{id, …}` whether or not a row matched. */
const simple = (url: string, set: (p: Row) => Row, event: (p: Row) => Event, extra: { req?: string[]; opt?: string[] } = {}): RouteDef => ({
  method: 'POST', url, params: { req: ['device_id:n', ...(extra.req ?? [])], opt: extra.opt },
  handler: (p, _i, h) => withAccount(h, p, async (acc) => {
    await h.store.update('conversations', acc, { device_id: p.device_id }, set(p))
    return ok([event(p)])
  }),
})

export const conversationRoutes: RouteDef[] = [
  {
    method: 'GET', url: '/conversations', params: { opt: paging }, handler: async (p, _i, h) => {
      const acc = await h.store.accountId(p.account_id)
      if (acc === undefined) return { body: [] }
      const rows = await h.store.list('conversations', acc, { order: 'T', limit: p.limit, offset: p.offset })
      return { body: rows.map((r) => shape(CONVERSATION, r, p.account_id)) }
    },
  },
  indexRoute('archived'), indexRoute('private'), indexRoute('public_unarchived'), indexRoute('public_unread'),
  {
    method: 'GET', url: '/conversations/:device_id', params: { req: ['device_id:n'] }, handler: async (p, _i, h) => {
      const acc = await h.store.accountId(p.account_id)
      const rows = acc === undefined ? [] : await h.store.list('conversations', acc, { where: { device_id: p.device_id }, order: 'N' })
      return { body: shape(CONVERSATION, rows[0], p.account_id) }
    },
  },
  {
    method: 'GET', url: '/conversations/folder/:folder_id', params: { req: ['folder_id:n'] }, handler: async (p, _i, h) => {
      const acc = await h.store.accountId(p.account_id)
      if (acc === undefined) return { body: [] }
      const rows = await h.store.list('conversations', acc, { where: { folder_id: p.folder_id }, order: 'N' })
      return { body: rows.map((r) => shape(CONVERSATION, r, p.account_id)) }
    },
  },
  {
    method: 'POST', url: '/conversations/add',
    params: {
      list: {
        name: 'conversations',
        item: {
          req: ['device_id:n', 'folder_id:n', ...COLORS, 'pinned:b', 'read:b', 'timestamp:n', 'title', 'phone_numbers', 'snippet', 'id_matcher', ...FLAGS],
          opt: ['ringtone', 'image_uri'],
        },
      },
    },
    handler: async (p, items, h) => {
      await h.store.insert('conversations', await insertAccount(h, p), items)
      return ok(items.map((c) => ['added_conversation', omitAbsent({
        device_id: c.device_id, folder_id: c.folder_id, color: c.color, color_dark: c.color_dark, color_light: c.color_light,
        color_accent: c.color_accent, led_color: c.led_color, pinned: c.pinned, read: c.read, timestamp: c.timestamp,
        title: c.title, phone_numbers: c.phone_numbers, snippet: c.snippet, id_matcher: c.id_matcher, mute: c.mute,
        archive: c.archive, private_notifications: c.private_notifications, ringtone: c.ringtone, image_uri: c.image_uri,
      })]))
    },
  },
  {
    method: 'POST', url: '/conversations/update/:device_id',
    params: { req: ['device_id:n'], opt: [...COLORS, 'pinned:b', 'read:b', 'timestamp:n', 'title', 'snippet', 'ringtone', ...FLAGS], one: true },
    handler: (p, _i, h) => withAccount(h, p, async (acc) => {
      const { account_id: _a, device_id: _d, ...set } = p
      const rows = await h.store.update('conversations', acc, { device_id: p.device_id }, set, true)
      return fromRow(rows, (r) => ['updated_conversation', {
        id: r.device_id, color: r.color, color_dark: r.color_dark, color_light: r.color_light, color_accent: r.color_accent,
        led_color: r.led_color, pinned: r.pinned, read: r.read, title: r.title, snippet: r.snippet, mute: r.mute,
        archive: r.archive, private_notifications: r.private_notifications, ringtone: r.ringtone || null,
      }])
    }),
  },
  {
    method: 'POST', url: '/conversations/update_snippet/:device_id',
    params: { req: ['device_id:n'], opt: ['read:b', 'timestamp:n', 'snippet', 'archive:b'], one: true },
    handler: (p, _i, h) => withAccount(h, p, async (acc) => {
      const { read, timestamp, snippet, archive } = p
      const rows = await h.store.update('conversations', acc, { device_id: p.device_id }, { read, timestamp, snippet, archive }, true)
      return fromRow(rows, (r) => ['update_conversation_snippet', { id: r.device_id, read: r.read, timestamp: r.timestamp, snippet: r.snippet, archive: r.archive }])
    }),
  },
  simple('/conversations/update_title/:device_id', (p) => ({ title: p.title }), (p) => ['update_conversation_title', { id: p.device_id, title: p.title }], { req: ['title'] }),
  {
    method: 'POST', url: '/conversations/remove/:device_id', params: { req: ['device_id:n'] }, handler: (p, _i, h) => withAccount(h, p, async (acc) => {
      await h.store.remove('conversations', acc, { device_id: p.device_id })
      return ok([['removed_conversation', { id: p.device_id }]])
    }),
  },
  simple('/conversations/read/:device_id', () => ({ read: true }),
    (p) => ['read_conversation', omitAbsent({ id: p.device_id, android_device: p.android_device })], { opt: ['android_device'] }),
  {
    method: 'POST', url: '/conversations/seen/:device_conversation_id', params: { req: ['device_conversation_id:n'] },
    handler: (p, _i, h) => withAccount(h, p, async (acc) => {
      await h.store.update('messages', acc, { device_conversation_id: p.device_conversation_id }, { seen: true })
      return ok([['seen_conversation', { id: p.device_conversation_id }]])
    }),
  },
  {
    method: 'POST', url: '/conversations/seen', handler: (p, _i, h) => withAccount(h, p, async (acc) => {
      await h.store.update('messages', acc, {}, { seen: true })
      return ok([['seen_conversations', {}]])
    }),
  },
  simple('/conversations/archive/:device_id', () => ({ archive: true, folder_id: -1 }), (p) => ['archive_conversation', { id: p.device_id, archive: true }]),
  simple('/conversations/unarchive/:device_id', () => ({ archive: false, folder_id: -1 }), (p) => ['archive_conversation', { id: p.device_id, archive: false }]),
  simple('/conversations/add_to_folder/:device_id', (p) => ({ folder_id: p.folder_id }),
    (p) => ['add_conversation_to_folder', { id: p.device_id, folder_id: p.folder_id }], { req: ['folder_id:n'] }),
  simple('/conversations/remove_from_folder/:device_id', () => ({ folder_id: -1 }), (p) => ['remove_conversation_from_folder', { id: p.device_id }]),
  {
    // heartsms §5.2 #25: conversation_id is published as the string it came as
    method: 'POST', url: '/conversations/cleanup_messages', params: { req: ['conversation_id', 'timestamp:n'] },
    handler: (p, _i, h) => withAccount(h, p, async (acc) => {
      await h.store.remove('messages', acc, { device_conversation_id: Number(p.conversation_id), timestamp: ['<', p.timestamp] })
      return ok([['cleanup_conversation_messages', { timestamp: p.timestamp, conversation_id: p.conversation_id }]])
    }),
  },
]
