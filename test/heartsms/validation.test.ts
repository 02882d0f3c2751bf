// heartsms §2 and §4: every route's required fields, at-least-one rules and item lists, with the exact error strings
// and the order in which missing fields are reported; then the complete request succeeds.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { TestHerald } from '../helpers.ts'
import { api, DBS, newAccount, startHeart, type Account } from './helpers.ts'

const BOOLS = new Set(['pinned', 'read', 'seen', 'mute', 'archive', 'private_notifications', 'primary'])
const STRINGS = new Set([
  'data', 'mime_type', 'title', 'phone_numbers', 'snippet', 'id_matcher', 'name', 'phone_number', 'text', 'reply_type',
  'pattern', 'response', 'to', 'message', 'info', 'fcm_token', 'android_device', 'activation_code', 'real_name', 'username', 'password',
])
const SPECIAL: Record<string, unknown> = { pref: 'color', type: 'int', value: 5, url: 'https://example.com/a', new_primary_device_id: '1', conversation_id: '2' }

function value(name: string): unknown {
  if (name in SPECIAL) return SPECIAL[name]
  if (BOOLS.has(name)) return true
  return STRINGS.has(name) ? 'x' : 1
}

interface Case {
  path: string
  get?: boolean
  /** required fields in the order they are reported */
  req?: string[]
  /** an at-least-one rule follows the required fields: this optional field satisfies it */
  one?: string
  /** an item list: its property, the item's required fields, the item's at-least-one field */
  list?: { name: string; req: string[]; one?: string; single?: boolean }
  status?: number
}

const A = ['account_id']
const CONVERSATION_ITEM = ['device_id', 'folder_id', 'color', 'color_dark', 'color_light', 'color_accent', 'led_color', 'pinned', 'read',
  'timestamp', 'title', 'phone_numbers', 'snippet', 'id_matcher', 'mute', 'archive', 'private_notifications']
const DRAFT_ITEM = ['device_id', 'device_conversation_id', 'mime_type', 'data']

const cases: Case[] = [
  { path: 'accounts/login', req: ['username', 'password'], status: 401 },
  { path: 'accounts/signup', req: ['name', 'password', 'phone_number', 'real_name'] },
  { path: 'accounts/count', get: true, req: A },
  { path: 'accounts/settings', get: true, req: A },
  { path: 'accounts/update_setting', req: [...A, 'pref', 'type', 'value'] },
  { path: 'accounts/dismissed_notification', req: [...A, 'id'] },
  { path: 'accounts/update_subscription', req: A },
  { path: 'activate', get: true, req: ['activation_code'] },
  { path: 'article', get: true, req: ['url'] },
  { path: 'auto_replies', get: true, req: A },
  { path: 'auto_replies/add', list: { name: 'auto_replies', req: ['device_id', 'reply_type', 'pattern', 'response'] } },
  { path: 'auto_replies/remove/1', req: A },
  { path: 'auto_replies/update/1', req: [...A, 'reply_type', 'pattern', 'response'] },
  { path: 'blacklists', get: true, req: A },
  { path: 'blacklists/add', list: { name: 'blacklists', req: ['device_id'], one: 'phrase' } },
  { path: 'blacklists/remove/1', req: A },
  { path: 'contacts', get: true, req: A },
  { path: 'contacts/simple', get: true, req: A },
  { path: 'contacts/add', list: { name: 'contacts', req: ['device_id', 'phone_number', 'id_matcher', 'name', 'color', 'color_dark', 'color_light', 'color_accent', 'contact_type'] } },
  { path: 'contacts/clear', req: A },
  { path: 'contacts/update_device_id', req: [...A, 'device_id'], one: 'name' },
  { path: 'contacts/remove_device_id', req: [...A, 'device_id', 'phone_number'] },
  { path: 'contacts/remove_ids/1,2', req: A },
  { path: 'conversations', get: true, req: A },
  { path: 'conversations/index_archived', get: true, req: A },
  { path: 'conversations/index_private', get: true, req: A },
  { path: 'conversations/index_public_unarchived', get: true, req: A },
  { path: 'conversations/index_public_unread', get: true, req: A },
  { path: 'conversations/5', get: true, req: A },
  { path: 'conversations/folder/3', get: true, req: A },
  { path: 'conversations/add', list: { name: 'conversations', req: CONVERSATION_ITEM } },
  { path: 'conversations/update/1', req: A, one: 'title' },
  { path: 'conversations/update_snippet/1', req: A, one: 'snippet' },
  { path: 'conversations/update_title/1', req: [...A, 'title'] },
  { path: 'conversations/remove/1', req: A },
  { path: 'conversations/read/1', req: A },
  { path: 'conversations/seen/1', req: A },
  { path: 'conversations/seen', req: A },
  { path: 'conversations/archive/1', req: A },
  { path: 'conversations/unarchive/1', req: A },
  { path: 'conversations/add_to_folder/1', req: [...A, 'folder_id'] },
  { path: 'conversations/remove_from_folder/1', req: A },
  { path: 'conversations/cleanup_messages', req: [...A, 'conversation_id', 'timestamp'] },
  { path: 'devices', get: true, req: A },
  { path: 'devices/add', list: { name: 'device', single: true, req: ['id', 'info', 'name', 'primary', 'fcm_token'] } },
  { path: 'devices/remove/1', req: A },
  { path: 'devices/update/1', req: A, one: 'name' },
  { path: 'devices/update_primary', req: [...A, 'new_primary_device_id'] },
  { path: 'drafts', get: true, req: A },
  { path: 'drafts/4', get: true, req: A },
  { path: 'drafts/add', list: { name: 'drafts', req: DRAFT_ITEM } },
  { path: 'drafts/remove/4', req: [...A, 'android_device'] },
  { path: 'drafts/update/1', req: [...A, 'data'] },
  { path: 'drafts/replace/4', list: { name: 'drafts', req: DRAFT_ITEM } },
  { path: 'folders', get: true, req: A },
  { path: 'folders/add', list: { name: 'folders', req: ['device_id', 'name', 'color', 'color_dark', 'color_light', 'color_accent'] } },
  { path: 'folders/remove/1', req: A },
  { path: 'folders/update/1', req: [...A, 'name', 'color', 'color_dark', 'color_light', 'color_accent'] },
  { path: 'media/add', req: [...A, 'message_id', 'data'] },
  { path: 'media/1', get: true, req: A },
  { path: 'messages', get: true, req: A },
  { path: 'messages/add', list: { name: 'messages', req: ['device_id', 'device_conversation_id', 'message_type', 'data', 'timestamp', 'mime_type', 'read', 'seen', 'sent_device'] } },
  { path: 'messages/remove/1', req: A },
  { path: 'messages/update/1', req: A, one: 'read' },
  { path: 'messages/update_type/1', req: [...A, 'message_type'] },
  { path: 'messages/cleanup', req: [...A, 'timestamp'] },
  { path: 'messages/forward_to_phone', req: [...A, 'to', 'message', 'sent_device'] },
  { path: 'scheduled_messages', get: true, req: A },
  { path: 'scheduled_messages/add', list: { name: 'scheduled_messages', req: ['device_id', 'to', 'data', 'mime_type', 'timestamp', 'title', 'repeat'] } },
  { path: 'scheduled_messages/remove/1', req: A },
  { path: 'scheduled_messages/update/1', req: A, one: 'title' },
  { path: 'templates', get: true, req: A },
  { path: 'templates/add', list: { name: 'templates', req: ['device_id', 'text'] } },
  { path: 'templates/remove/1', req: A },
  { path: 'templates/update/1', req: [...A, 'text'] },
]

async function send(h: TestHerald, c: Case, params: Record<string, unknown>) {
  return c.get ? api(h, c.path, { query: params }) : api(h, c.path, { body: params })
}

async function expectMissing(h: TestHerald, c: Case, params: Record<string, unknown>, name: string) {
  const r = await send(h, c, params)
  assert.equal(r.status, 400, `${c.path} without ${name || 'any optional field'}: ${r.text}`)
  assert.deepEqual(r.body, { error: `missing required parameter ${name}` }, c.path)
}

for (const db of DBS) {
  describe(`heartsms §2/§4 validation of every route (${db})`, () => {
    let h: TestHerald
    let acc: Account
    before(async () => { h = await startHeart(db); acc = await newAccount(h) })
    after(() => h?.close())

    for (const c of cases) {
      test(`${c.get ? 'GET' : 'POST'} /${c.path}: missing fields reported in order, then success`, async () => {
        const params: Record<string, unknown> = {}
        if (c.list) {
          await expectMissing(h, c, params, c.list.name)
          if (!c.list.single) { params[c.list.name] = []; await expectMissing(h, c, params, c.list.name) }
          const item: Record<string, unknown> = {}
          params[c.list.name] = c.list.single ? item : [item]
          for (const n of c.list.req) { await expectMissing(h, c, params, n); item[n] = value(n) }
          if (c.list.one) { await expectMissing(h, c, params, ''); item[c.list.one] = value(c.list.one) }
        }
        const req = c.list ? A : c.req ?? []
        for (const n of req) {
          await expectMissing(h, c, params, n)
          params[n] = n === 'account_id' ? acc.account_id : n === 'name' && c.path === 'accounts/signup' ? `v-${db}@x` : value(n)
        }
        if (c.one) { await expectMissing(h, c, params, ''); params[c.one] = value(c.one) }
        const r = await send(h, c, params)
        assert.equal(r.status, c.status ?? 200, `${c.path}: ${r.text}`)
      })
    }

    test('§2 missing means absent, null or ""; 0 and false are present', async () => {
      const base = { account_id: acc.account_id }
      for (const bad of [null, '']) {
        const r = await api(h, 'messages/cleanup', { body: { ...base, timestamp: bad } })
        assert.deepEqual(r.body, { error: 'missing required parameter timestamp' })
      }
      assert.equal((await api(h, 'messages/cleanup', { body: { ...base, timestamp: 0 } })).status, 200)
      assert.equal((await api(h, 'messages/update/1', { body: { ...base, read: false } })).status, 200)
      const none = await api(h, 'messages/update/1', { body: { ...base, read: null, seen: '' } })
      assert.deepEqual(none.body, { error: 'missing required parameter ' })
    })

    test('§2 an item error is reported before the request-level account_id', async () => {
      const r = await api(h, 'templates/add', { body: { templates: [{ device_id: 1, text: 'a' }, { device_id: 2 }] } })
      assert.deepEqual(r.body, { error: 'missing required parameter text' })
    })

    test('§4.1 update_setting value checks: 400 wrong type, 500 for an unknown column or a bad value', async () => {
      const p = (o: Record<string, unknown>) => api(h, 'accounts/update_setting', { body: { account_id: acc.account_id, ...o } })
      assert.deepEqual((await p({ pref: 'color', type: 'int', value: 'abc' })).body, { error: 'parameter value has the wrong type' })
      assert.deepEqual((await p({ pref: 'color', type: 'int', value: [1] })).body, { error: 'parameter value has the wrong type' })
      assert.deepEqual((await p({ pref: 'rounder_bubbles', type: 'boolean', value: 'yes' })).body, { error: 'parameter value has the wrong type' })
      const bad = await p({ pref: 'color', type: 'string', value: 'shouldfail' })
      assert.equal(bad.status, 500)
      assert.deepEqual(bad.body, { error: 'could not query database' })
      const unknown = await p({ pref: 'no_such_column', type: 'string', value: 'x' })
      assert.equal(unknown.status, 500)
      assert.deepEqual(unknown.body, { error: 'could not query database' })
      // PostgreSQL's boolean input: any unique prefix of true/false/yes/no/on/off, case and spaces ignored
      assert.equal((await p({ pref: 'use_global_theme', type: 'string', value: ' TRU ' })).status, 200)
      assert.equal((await p({ pref: 'message_timestamp', type: 'string', value: 'of' })).status, 200)
      assert.equal((await p({ pref: 'message_timestamp', type: 'string', value: 'o' })).status, 500)
      assert.equal((await p({ pref: 'rounder_bubbles', type: 'boolean', value: 'true' })).status, 200)
      assert.equal((await p({ pref: 'base_theme', type: 'string', value: 'dark' })).status, 200)
      const s = await api(h, 'accounts/settings', { query: { account_id: acc.account_id } })
      assert.equal(s.body.rounder_bubbles, true)
      assert.equal(s.body.base_theme, 'dark')
      assert.equal(s.body.use_global_theme, true)
      assert.equal(s.body.message_timestamp, false)
    })
  })
}
