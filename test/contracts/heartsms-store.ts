// The HeartSMS store contract (issue 9 §6), driven through the REST API as the clients drive it: heartsms §2 and §4,
// the REST conventions (precedence, casts, CORS, limits, errors, 404s), response key order and JSON types, list
// ordering and paging, conversation indexes, and the original schema's cascades. Run on every database.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { api, newAccount, sha256, startHeart, type Account, type DbKind } from '../heartsms/helpers.ts'
import type { TestHerald } from '../helpers.ts'

const CONVERSATION_KEYS = ['id', 'account_id', 'device_id', 'folder_id', 'color', 'color_dark', 'color_light', 'color_accent', 'led_color',
  'pinned', 'read', 'timestamp', 'title', 'phone_numbers', 'snippet', 'ringtone', 'image_uri', 'id_matcher', 'mute', 'archive', 'private_notifications']

const conv = (device_id: number, o: Record<string, unknown> = {}) => ({
  device_id, folder_id: -1, color: 1, color_dark: 2, color_light: 3, color_accent: 4, led_color: 5, pinned: false, read: true,
  timestamp: device_id * 10, title: `T${device_id}`, phone_numbers: 'P', snippet: 'S', id_matcher: 'M', mute: false, archive: false,
  private_notifications: false, ...o,
})
const msg = (device_id: number, device_conversation_id: number, timestamp: number) => ({
  device_id, device_conversation_id, message_type: 0, data: 'D', timestamp, mime_type: 'text/plain', read: false, seen: false, sent_device: 1,
})

export function heartsmsStoreContract(db: DbKind): void {
  describe(`heartsms §2 REST conventions and §4 data behaviour (${db})`, () => {
    let h: TestHerald
    let a: Account
    const q = () => ({ account_id: a.account_id })
    before(async () => { h = await startHeart(db); a = await newAccount(h) })
    after(() => h?.close())

    test('§2 path > body > query; a query-string false is true (Boolean("false"))', async () => {
      await api(h, 'conversations/add', { body: { ...q(), conversations: [conv(20), conv(21)] } })
      await api(h, 'conversations/update_title/20', { query: { title: 'Q', device_id: 21 }, body: { ...q(), title: 'B', device_id: 21 } })
      assert.equal((await api(h, 'conversations/20', { query: q() })).body.title, 'B')
      assert.equal((await api(h, 'conversations/21', { query: q() })).body.title, 'T21')
      await api(h, 'conversations/update/21', { query: { ...q(), pinned: 'false' }, body: {} })
      assert.equal((await api(h, 'conversations/21', { query: q() })).body.pinned, true)
    })

    test('§2 headers: JSON content type, CORS with preflight', async () => {
      const r = await fetch(`${h.httpUrl}/api/v1/devices?account_id=${a.account_id}`, { headers: { origin: 'http://web.heart.lan' } })
      assert.equal(r.headers.get('content-type'), 'application/json; charset=utf-8')
      assert.equal(r.headers.get('access-control-allow-origin'), '*')
      const pre = await fetch(`${h.httpUrl}/api/v1/messages/add`, { method: 'OPTIONS', headers: { origin: 'http://x', 'access-control-request-method': 'POST' } })
      assert.equal(pre.status, 204)
      assert.equal(pre.headers.get('access-control-allow-origin'), '*')
      // the Express cors middleware's defaults: every method listed, any OPTIONS answered as a preflight
      assert.equal(pre.headers.get('access-control-allow-methods'), 'GET,HEAD,PUT,PATCH,POST,DELETE')
      const bare = await fetch(`${h.httpUrl}/api/v1/messages/add`, { method: 'OPTIONS' })
      assert.equal(bare.status, 204)
      assert.equal(bare.headers.get('access-control-allow-origin'), '*')
    })

    test('§2 errors: 413 and 400 "unexpected error", form bodies unparsed, 404 text, 501 for GET /accounts', async () => {
      const big = await api(h, 'messages/add', { raw: JSON.stringify({ data: 'x'.repeat(110_000) }) })
      assert.equal(big.status, 413); assert.deepEqual(big.body, { error: 'unexpected error' })
      const bad = await api(h, 'messages/add', { raw: '{"account_id": ' })
      assert.equal(bad.status, 400); assert.deepEqual(bad.body, { error: 'unexpected error' })
      const form = await api(h, 'messages/cleanup', { raw: `account_id=${a.account_id}&timestamp=1`, type: 'application/x-www-form-urlencoded' })
      assert.equal(form.status, 400); assert.deepEqual(form.body, { error: 'missing required parameter account_id' })
      // the JSON parser never reads another type, so its 100 kB limit does not apply to it either
      const bigForm = await api(h, 'messages/cleanup', { raw: `account_id=${a.account_id}&timestamp=1&x=${'y'.repeat(200_000)}`, type: 'application/x-www-form-urlencoded' })
      assert.equal(bigForm.status, 400); assert.deepEqual(bigForm.body, { error: 'missing required parameter account_id' })
      const bigText = await api(h, 'conversations/seen', { raw: 'y'.repeat(200_000), type: 'text/plain', query: q() })
      assert.equal(bigText.status, 200); assert.deepEqual(bigText.body, {})
      const empty = await api(h, 'conversations/seen', { raw: '', query: q() })
      assert.equal(empty.status, 200)
      for (const [path, method] of [['nope/x', 'GET'], ['messages/add', 'GET'], ['beta/anything', 'POST'], ['messages', 'POST']] as const) {
        const r = await api(h, path, { method, raw: method === 'POST' ? '{}' : undefined })
        assert.equal(r.status, 404, path); assert.deepEqual(r.body, { error: `unhandled path in request: /api/v1/${path}` })
      }
      const acc = await api(h, 'accounts')
      assert.equal(acc.status, 501); assert.deepEqual(acc.body, { error: 'not implemented' })
      assert.deepEqual((await api(h, 'purchases/record', { body: {} })).body, {})
    })

    test('§2 Express routing: a trailing slash still matches, an empty path parameter matches nothing (404)', async () => {
      const list = await api(h, 'conversations/', { query: q() })
      assert.equal(list.status, 200); assert.ok(Array.isArray(list.body))
      assert.deepEqual((await api(h, 'templates/', { query: q() })).status, 200)
      assert.deepEqual((await api(h, 'messages/remove/3/', { body: q() })).body, {})
      for (const [path, method] of [['messages/remove/', 'POST'], ['drafts//', 'GET'], ['conversations/update//', 'POST']] as const) {
        const r = await api(h, path, { method, query: q(), raw: method === 'POST' ? '{}' : undefined })
        assert.equal(r.status, 404, path); assert.deepEqual(r.body, { error: `unhandled path in request: /api/v1/${path}` })
      }
    })

    test('§2 a non-numeric value in a numeric field is a database error (500), nothing changes', async () => {
      for (const [path, body] of [['messages/remove/abc', q()], ['messages/cleanup', { ...q(), timestamp: 'soon' }], ['templates/add', { ...q(), templates: [{ device_id: 'x', text: 't' }] }]] as const) {
        const r = await api(h, path, { body })
        assert.equal(r.status, 500, path); assert.deepEqual(r.body, { error: 'could not query database' })
      }
      const g = await api(h, 'conversations/abc', { query: q() })
      assert.equal(g.status, 500); assert.deepEqual(g.body, { error: 'could not query database' })
    })

    test('§2/§8 a fractional or out-of-range number in an integer column is a database error (500), as on PostgreSQL', async () => {
      const b = await newAccount(h)
      const bq = () => ({ account_id: b.account_id })
      await api(h, 'conversations/add', { body: { ...bq(), conversations: [conv(60)] } })
      const cases: [string, object][] = [
        ['templates/add', { ...bq(), templates: [{ device_id: 1.5, text: 't' }] }],
        ['messages/add', { ...bq(), messages: [{ ...msg(61, 60, 1), timestamp: 'Infinity' }] }],
        ['conversations/update/60', { ...bq(), timestamp: 2.5 }],
        ['templates/add', { ...bq(), templates: [{ device_id: 2 ** 64, text: 't' }] }],
      ]
      for (const [path, body] of cases) {
        const r = await api(h, path, { body })
        assert.equal(r.status, 500, `${path} ${JSON.stringify(body)}`); assert.deepEqual(r.body, { error: 'could not query database' })
      }
      const g = await api(h, 'conversations/60.5', { query: bq() })
      assert.equal(g.status, 500)
      assert.equal((await api(h, 'conversations/60', { query: bq() })).body.timestamp, 600)
    })

    test('group commit: concurrent adds commit together; one bad request fails alone', async () => {
      const b = await newAccount(h)
      // 'bad' fails before SQL; a NUL in text fails inside the shared transaction on PostgreSQL, so the batch is retried one by one
      const pgFails = db === 'postgres'
      const id = (i: number) => (i === 5 ? 'bad' : i)
      const rs = await Promise.all(Array.from({ length: 12 }, (_, i) =>
        api(h, 'templates/add', { body: { account_id: b.account_id, templates: [{ device_id: id(i), text: i === 7 ? 'nul\u0000' : `t${i}` }] } })))
      assert.deepEqual(rs.map((r) => r.status), rs.map((_, i) => (i === 5 || (i === 7 && pgFails) ? 500 : 200)))
      const rows = (await api(h, 'templates', { query: { account_id: b.account_id } })).body
      assert.equal(rows.length, pgFails ? 10 : 11)
    })

    test('§3 login: hash check and all settings keys in order; wrong password 401', async () => {
      const ok = await api(h, 'accounts/login', { body: { username: a.username, password: sha256('tester') } })
      assert.deepEqual(Object.keys(ok.body), ['account_id', 'salt1', 'salt2', 'phone_number', 'name', 'subscription_type', 'subscription_expiration', 'base_theme',
        'rounder_bubbles', 'global_color_theme', 'color', 'color_dark', 'color_light', 'color_accent', 'use_global_theme', 'apply_primary_color_toolbar', 'passcode',
        'message_timestamp', 'conversation_categories'])
      assert.equal(ok.body.account_id, a.account_id)
      assert.match(ok.body.salt1, /^[0-9a-f]{128}$/)
      assert.match(a.account_id, /^[0-9a-f]{64}$/)
      const bad = await api(h, 'accounts/login', { body: { username: a.username, password: sha256('other') } })
      assert.equal(bad.status, 401); assert.deepEqual(bad.body, { error: 'username or password incorrect' })
    })

    test('§3/§8 signup: a username over VARCHAR(64) is a database error (500); 64 characters sign up', async () => {
      const signup = (name: string) => api(h, 'accounts/signup', { body: { name, password: sha256('x'), phone_number: '1', real_name: 'R' } })
      const long = await signup(`${'x'.repeat(65 - 12)}@example.com`)
      assert.equal(long.status, 500); assert.deepEqual(long.body, { error: 'could not query database' })
      assert.equal((await signup(`${db}${'y'.repeat(64 - 12 - db.length)}@example.com`)).status, 200)
    })

    test('§4.2 list order: batch ties in insertion order (U), timestamp desc (T), paging only with limit > 0', async () => {
      await api(h, 'templates/add', { body: { ...q(), templates: [{ device_id: 1, text: 'a' }, { device_id: 2, text: 'b' }, { device_id: 3, text: 'c' }] } })
      assert.deepEqual((await api(h, 'templates', { query: q() })).body, [{ device_id: 1, text: 'a' }, { device_id: 2, text: 'b' }, { device_id: 3, text: 'c' }])
      await new Promise((r) => setTimeout(r, 5))
      await api(h, 'templates/update/3', { body: { ...q(), text: 'c2' } })
      assert.deepEqual((await api(h, 'templates', { query: q() })).body.map((t: { device_id: number }) => t.device_id), [3, 1, 2])
      await api(h, 'conversations/add', { body: { ...q(), conversations: [conv(22), conv(23)] } })
      const ids = async (query: object) => (await api(h, 'conversations', { query: { ...q(), ...query } })).body.map((c: { device_id: number }) => c.device_id)
      assert.deepEqual(await ids({}), [23, 22, 21, 20])
      assert.deepEqual(await ids({ limit: 2, offset: 1 }), [22, 21])
      assert.deepEqual(await ids({ limit: 0, offset: 1 }), [23, 22, 21, 20])
      const one = (await api(h, 'conversations', { query: q() })).body[0]
      assert.deepEqual(Object.keys(one), CONVERSATION_KEYS)
      assert.equal(one.account_id, a.account_id)
      assert.equal(typeof one.id, 'number'); assert.equal(one.pinned, false); assert.equal(one.ringtone, null)
    })

    test('§4.2 U order: a later request sorts first even within the same millisecond (NOW() has microseconds)', async () => {
      const b = await newAccount(h)
      const bq = { account_id: b.account_id }
      const realNow = Date.now
      const frozen = realNow()
      Date.now = () => frozen
      try {
        await api(h, 'templates/add', { body: { ...bq, templates: [{ device_id: 1, text: 'a' }, { device_id: 2, text: 'b' }] } })
        await api(h, 'templates/add', { body: { ...bq, templates: [{ device_id: 3, text: 'c' }] } })
        await api(h, 'templates/update/1', { body: { ...bq, text: 'a2' } })
      } finally {
        Date.now = realNow
      }
      assert.deepEqual((await api(h, 'templates', { query: bq })).body.map((t: { device_id: number }) => t.device_id), [1, 3, 2])
    })

    test('§4.2 conversation indexes and folders', async () => {
      const b = await newAccount(h)
      const bq = { account_id: b.account_id }
      await api(h, 'conversations/add', { body: { ...bq, conversations: [
        conv(1), conv(2, { archive: true }), conv(3, { private_notifications: true }), conv(4, { read: false }), conv(5, { archive: true, folder_id: 9 }),
      ] } })
      const idx = async (name: string) => (await api(h, `conversations/${name}`, { query: bq })).body.map((c: { device_id: number }) => c.device_id)
      assert.deepEqual(await idx('index_archived'), [2])
      assert.deepEqual(await idx('index_private'), [3])
      assert.deepEqual(await idx('index_public_unarchived'), [4, 1])
      assert.deepEqual(await idx('index_public_unread'), [4])
      assert.deepEqual(await idx('folder/9'), [5])
      await api(h, 'folders/add', { body: { ...bq, folders: [{ device_id: 9, name: 'F', color: 1, color_dark: 1, color_light: 1, color_accent: 1 }] } })
      await api(h, 'folders/remove/9', { body: bq })
      assert.equal((await api(h, 'conversations/5', { query: bq })).body.folder_id, -1)
    })

    test('§4.2 devices, media, drafts: shapes, order and cascades', async () => {
      const b = await newAccount(h)
      const bq = { account_id: b.account_id }
      const add = await api(h, 'devices/add', { body: { ...bq, device: { id: 11, info: 'i', name: 'n', primary: true, fcm_token: 'f' } } })
      assert.equal(add.text, '{"id":11}')
      await api(h, 'devices/add', { body: { ...bq, device: { id: 12, info: 'i2', name: 'n2', primary: false, fcm_token: 'f2' } } })
      await api(h, 'devices/update_primary', { body: { ...bq, new_primary_device_id: '12' } })
      const devices = (await api(h, 'devices', { query: bq })).body
      assert.deepEqual(devices, [
        { id: 11, info: 'i', name: 'n', primary: false, account_id: b.account_id, fcm_token: 'f', ios: false },
        { id: 12, info: 'i2', name: 'n2', primary: true, account_id: b.account_id, fcm_token: 'f2', ios: false },
      ])
      await api(h, 'conversations/add', { body: { ...bq, conversations: [conv(40)] } })
      await api(h, 'messages/add', { body: { ...bq, messages: [msg(41, 40, 1), msg(42, 40, 2), msg(43, 99, 3)] } })
      await api(h, 'media/add', { body: { ...bq, message_id: 41, data: 'MYFILE' } })
      assert.deepEqual((await api(h, 'media/41', { query: bq })).body, { data: 'MYFILE' })
      await api(h, 'drafts/add', { body: { ...bq, drafts: [{ device_id: 44, device_conversation_id: 40, mime_type: 'm', data: 'd' }] } })
      assert.deepEqual((await api(h, 'drafts/40', { query: bq })).body.map((d: object) => Object.keys(d)), [['id', 'account_id', 'device_id', 'device_conversation_id', 'data', 'mime_type']])
      const filtered = (await api(h, 'messages', { query: { ...bq, conversation_id: 40, web: true } })).body
      assert.deepEqual(filtered.map((m: { device_id: number }) => m.device_id), [42, 41])
      await api(h, 'conversations/remove/40', { body: bq })
      assert.deepEqual((await api(h, 'messages', { query: bq })).body.map((m: { device_id: number }) => m.device_id), [43])
      assert.deepEqual((await api(h, 'drafts', { query: bq })).body, [])
      assert.deepEqual((await api(h, 'media/41', { query: bq })).body, { data: null })
      const counts = (await api(h, 'accounts/count', { query: bq })).body
      assert.deepEqual(counts, { device_count: 2, message_count: 1, conversation_count: 0, draft_count: 0, scheduled_count: 0, blacklist_count: 0,
        contact_count: 0, template_count: 0, folder_count: 0, auto_reply_count: 0 })
      await api(h, 'accounts/update_setting', { body: { ...bq, pref: 'base_theme', type: 'string', value: 'dark' } })
      await api(h, 'accounts/clean_account', { body: bq })
      const after = (await api(h, 'accounts/count', { query: bq })).body
      assert.equal(after.device_count, 2); assert.equal(after.message_count, 0)
      assert.equal((await api(h, 'accounts/settings', { query: bq })).body.base_theme, 'dark')
      await api(h, 'accounts/remove_account', { body: bq })
      assert.equal((await api(h, 'accounts/login', { body: { username: b.username, password: sha256('tester') } })).status, 401)
      const nulls = (await api(h, 'accounts/settings', { query: bq })).body
      assert.ok(Object.values(nulls).every((v) => v === null) && Object.keys(nulls).length === 13)
    })

    test('§4.1 clean_account: media goes only with its messages (the message-delete trigger); media without a message stays', async () => {
      const b = await newAccount(h)
      const bq = { account_id: b.account_id }
      await api(h, 'messages/add', { body: { ...bq, messages: [msg(51, 50, 1)] } })
      await api(h, 'media/add', { body: { ...bq, message_id: 51, data: 'WITH_MESSAGE' } })
      await api(h, 'media/add', { body: { ...bq, message_id: 52, data: 'NO_MESSAGE' } })
      assert.equal((await api(h, 'accounts/clean_account', { body: bq })).status, 200)
      assert.deepEqual((await api(h, 'media/51', { query: bq })).body, { data: null })
      assert.deepEqual((await api(h, 'media/52', { query: bq })).body, { data: 'NO_MESSAGE' })
    })

    test('§4.2 contacts: shapes, simple view, remove by internal ids, clear', async () => {
      const b = await newAccount(h)
      const bq = { account_id: b.account_id }
      const c = (device_id: number) => ({ device_id, phone_number: `p${device_id}`, id_matcher: 'm', name: 'n', color: 1, color_dark: 2, color_light: 3, color_accent: 4, contact_type: 0 })
      await api(h, 'contacts/add', { body: { ...bq, contacts: [c(1), c(2), c(3)] } })
      const all = (await api(h, 'contacts', { query: bq })).body
      assert.deepEqual(Object.keys(all[0]), ['phone_number', 'name', 'id', 'color', 'color_accent', 'contact_type', 'account_id', 'device_id', 'color_dark', 'color_light'])
      const simple = (await api(h, 'contacts/simple', { query: { ...bq, limit: 1 } })).body
      assert.deepEqual(Object.keys(simple[0]), ['phone_number', 'name', 'id', 'color', 'color_accent', 'contact_type', 'id_matcher'])
      assert.equal(simple.length, 1)
      // §2: a non-numeric id is NaN, a database error; nothing is deleted
      const nan = await api(h, `contacts/remove_ids/${all[0].id},abc`, { body: bq })
      assert.equal(nan.status, 500); assert.deepEqual(nan.body, { error: 'could not query database' })
      assert.equal((await api(h, 'contacts', { query: bq })).body.length, 3)
      await api(h, `contacts/remove_ids/${all[0].id},${all[1].id}`, { body: bq })
      assert.deepEqual((await api(h, 'contacts', { query: bq })).body.map((x: { device_id: number }) => x.device_id), [3])
      await api(h, 'contacts/clear', { body: bq })
      assert.deepEqual((await api(h, 'contacts', { query: bq })).body, [])
    })
  })
}
