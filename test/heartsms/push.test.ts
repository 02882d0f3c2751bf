// Issue 14 item 5 for HeartSMS: an account's browsers register Web Push / UnifiedPush subscriptions under /api/v1;
// a write to an account with no stream client connected reaches each subscription as one coalesced push (operation
// and count, never the account_id, no content unless turned on), decrypted here with the subscription's key by a
// local Web Push service that checks the VAPID JWT; a stream client connected means no push; 410 prunes.
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { heartPayload } from '../../src/dialects/heartsms/push.ts'
import type { TestHerald } from '../helpers.ts'
import { caFile, FakeWebPush } from '../push/fake-endpoints.ts'
import { api, newAccount, startHeart, subscriber, type Account } from './helpers.ts'

let dir: string
let h: TestHerald
let fake: FakeWebPush

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'herald-heart-push-'))
  fake = await new FakeWebPush().start()
  h = await startHeart('sqlite', {
    overrides: {
      'push.caFile': caFile(dir), 'push.webpush.connectTo': fake.connectTo, 'push.pollMs': 50, 'push.retryBaseMs': 50, 'push.retryMaxMs': 200,
      'heartsms.push.coalesceMs': 150,
    },
  })
})
after(async () => {
  await h?.close()
  await fake?.close()
  rmSync(dir, { recursive: true, force: true })
})

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
async function until<T>(fn: () => T | undefined, what: string, ms = 8000): Promise<T> {
  const end = Date.now() + ms
  for (;;) {
    const v = fn()
    if (v !== undefined) return v
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await sleep(25)
  }
}

const folder = (a: Account, id: number) => api(h, 'folders/add', { body: { account_id: a.account_id, folders: [{ device_id: id, name: 'f', color: 1, color_dark: 1, color_light: 1, color_accent: 1 }] } })

async function subscribed(a: Account, name: string) {
  const sub = fake.subscribe(name)
  const r = await api(h, 'push_subscriptions/add', { body: { account_id: a.account_id, endpoint: sub.endpoint, keys: { p256dh: sub.p256dh, auth: sub.auth } } })
  assert.equal(r.status, 200, r.text)
  return sub
}

describe('HeartSMS push subscriptions', () => {
  test('the VAPID public key browsers subscribe with is the one the pushes are signed with', async () => {
    const r = await api(h, 'push_subscriptions/vapid_public_key')
    assert.equal(r.status, 200)
    assert.match(r.body.public_key, /^[A-Za-z0-9_-]{87}$/)
    fake.vapidKey = r.body.public_key
  })

  test('add, list and remove; an unknown account lists none', async () => {
    const a = await newAccount(h)
    const sub = await subscribed(a, 'list')
    const listed = await api(h, 'push_subscriptions', { query: { account_id: a.account_id } })
    assert.deepEqual(listed.body.map((s: any) => [s.endpoint, s.type]), [[sub.endpoint, 'webpush']])
    assert.equal((await api(h, 'push_subscriptions/remove', { body: { account_id: a.account_id, endpoint: sub.endpoint } })).status, 200)
    assert.deepEqual((await api(h, 'push_subscriptions', { query: { account_id: a.account_id } })).body, [])
    assert.deepEqual((await api(h, 'push_subscriptions', { query: { account_id: 'nope' } })).body, [])
  })

  test('bad subscriptions are refused with a message naming the problem', async () => {
    const a = await newAccount(h)
    const sub = fake.subscribe('bad')
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ endpoint: 'http://push.example.test/x', keys: { p256dh: sub.p256dh, auth: sub.auth } }, /https/],
      [{ endpoint: sub.endpoint, keys: { p256dh: 'AAAA', auth: sub.auth } }, /p256dh/],
      [{ endpoint: sub.endpoint, keys: { p256dh: sub.p256dh, auth: 'AAAA' } }, /auth/],
      [{ endpoint: sub.endpoint }, /p256dh|keys/],
      [{ endpoint: sub.endpoint, type: 'carrier-pigeon' }, /type/],
    ]
    for (const [body, why] of cases) {
      const r = await api(h, 'push_subscriptions/add', { body: { account_id: a.account_id, ...body } })
      assert.equal(r.status, 400, JSON.stringify(body))
      assert.match(r.body.error, why)
    }
    assert.equal((await api(h, 'push_subscriptions/add', { body: { account_id: a.account_id } })).status, 400)
  })
})

describe('HeartSMS offline push', () => {
  test('writes to an account nobody streams: one push per burst, operation and count only', async () => {
    const a = await newAccount(h)
    const sub = await subscribed(a, 'burst')
    for (let i = 1; i <= 5; i++) assert.equal((await folder(a, i)).status, 200)
    const got = await until(() => (fake.of(sub.endpoint).length > 0 ? fake.of(sub.endpoint) : undefined), 'the push')
    await sleep(400)
    assert.deepEqual(fake.of(sub.endpoint).map((p) => JSON.parse(p)), [{ operation: 'added_folder', count: 5 }])
    assert.ok(!got[0].includes(a.account_id), 'the account_id is the account\'s credential: never in a push')
    const req = fake.received.find((r) => r.path.endsWith('/burst'))!
    // the collapse key as the Web Push Topic (RFC 8030 §5.4: the provider sends it base64url-encoded)
    assert.equal(Buffer.from(String(req.headers.topic), 'base64url').toString(), 'heartsms-sync')
  })

  test('a connected stream client gets the write, and no push is sent', async () => {
    const a = await newAccount(h)
    const sub = await subscribed(a, 'online')
    const web = await subscriber(h, a)
    try {
      const seen: string[] = []
      web.on('message', (_t, p) => seen.push(JSON.parse(p.toString()).operation))
      await folder(a, 1)
      await until(() => (seen.length ? seen : undefined), 'the stream message')
      await sleep(600)
      assert.deepEqual(fake.of(sub.endpoint), [])
    } finally {
      await web.endAsync()
    }
    // gone again: the next write is pushed
    await sleep(200)
    await folder(a, 2)
    await until(() => (fake.of(sub.endpoint).length ? true : undefined), 'the push after the client left')
  })

  test('a UnifiedPush endpoint without keys gets the body as is', async () => {
    const a = await newAccount(h)
    const endpoint = fake.plainEndpoint('up1')
    assert.equal((await api(h, 'push_subscriptions/add', { body: { account_id: a.account_id, endpoint, type: 'unifiedpush' } })).status, 200)
    await folder(a, 1)
    const got = await until(() => (fake.of(endpoint).length ? fake.of(endpoint) : undefined), 'the UnifiedPush push')
    assert.deepEqual(JSON.parse(got[0]), { operation: 'added_folder', count: 1 })
  })

  test('a subscription the push service answers 410 for is deleted', async () => {
    const a = await newAccount(h)
    const sub = await subscribed(a, 'gone')
    fake.script(sub.endpoint, [410])
    await folder(a, 1)
    const end = Date.now() + 8000
    let listed: unknown[] = [1]
    while (Date.now() < end && listed.length) {
      listed = (await api(h, 'push_subscriptions', { query: { account_id: a.account_id } })).body
      await sleep(50)
    }
    assert.deepEqual(listed, [])
  })
})

test('content goes in only when allowed, and only when small', () => {
  const p = { count: 2, operation: 'added_message', content: { id: 1, data: 'iv-:-ct' } }
  assert.deepEqual(JSON.parse(heartPayload(p, false)), { operation: 'added_message', count: 2 })
  assert.deepEqual(JSON.parse(heartPayload(p, true)), p.content && { operation: 'added_message', count: 2, content: p.content })
  const big = { ...p, content: { data: 'x'.repeat(5000) } }
  assert.deepEqual(JSON.parse(heartPayload(big, true)), { operation: 'added_message', count: 2 })
})
