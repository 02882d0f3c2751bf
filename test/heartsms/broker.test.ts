// heartsms §6 and §13: broker authentication for the go-auth endpoints and the embedded broker, the service account,
// the security fixes (reserved names, no publishing to one's own stream, unknown account_id), and complete batches
// on the embedded broker and on an external Mosquitto with default settings.
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { collect, connect, freePort, requireService, silence, type TestHerald } from '../helpers.ts'
import { api, DBS, newAccount, sha256, startHeart, subscriber, type Account } from './helpers.ts'

const OK = { Ok: true }
const DENY = { Ok: false, Error: 'username or password incorrect' }

const batch = (acc: string, n: number) => ({
  account_id: acc,
  messages: Array.from({ length: n }, (_, i) => ({
    device_id: i + 1, device_conversation_id: 1, message_type: 0, data: `m${i}`, timestamp: i, mime_type: 'text/plain', read: false, seen: false, sent_device: 1,
  })),
})

for (const db of DBS) {
  describe(`heartsms §6 broker auth and §13 fixes (${db})`, () => {
    let h: TestHerald
    let a: Account
    let b: Account
    before(async () => { h = await startHeart(db); a = await newAccount(h); b = await newAccount(h) })
    after(() => h?.close())

    test('§6.2 /mqtt/login: username + account_id, the service account, exact bodies and statuses', async () => {
      const login = (body: object) => api(h, 'mqtt/login', { body })
      let r = await login({ username: a.username, password: a.account_id, clientid: 'web-1' })
      assert.equal(r.status, 200); assert.deepEqual(r.body, OK)
      r = await login({ username: a.username, password: b.account_id })
      assert.equal(r.status, 401); assert.deepEqual(r.body, DENY)
      r = await login({ username: 'nobody@example.com', password: a.account_id })
      assert.equal(r.status, 401); assert.deepEqual(r.body, DENY)
      r = await login({ username: 'heart-sms-backend', password: 'testpassword' })
      assert.equal(r.status, 200); assert.deepEqual(r.body, OK)
      r = await login({ password: 'x' })
      assert.equal(r.status, 400); assert.deepEqual(r.body, { error: 'missing required parameter username' })
      r = await login({ username: 'x' })
      assert.equal(r.status, 400); assert.deepEqual(r.body, { error: 'missing required parameter password' })
      // §2 conventions hold here too: malformed JSON 400 and an oversized body 413, both "unexpected error"
      r = await api(h, 'mqtt/login', { raw: '{"username": ' })
      assert.equal(r.status, 400); assert.deepEqual(r.body, { error: 'unexpected error' })
      r = await api(h, 'mqtt/acl', { raw: JSON.stringify({ username: 'x', topic: 'y'.repeat(110_000) }) })
      assert.equal(r.status, 413); assert.deepEqual(r.body, { error: 'unexpected error' })
    })

    test('§6.3 /mqtt/acl: own topic only, no wildcards, no publishing (acc 2), absent acc is a subscribe check', async () => {
      const acl = (body: object) => api(h, 'mqtt/acl', { body })
      const own = `heartsms/${a.account_id}`
      for (const acc of [undefined, 1, 4]) assert.deepEqual((await acl({ username: a.username, clientid: 'web-1', topic: own, acc })).body, OK, `acc ${acc}`)
      for (const [topic, acc] of [[own, 2], [own, 3], [`heartsms/${b.account_id}`, 4], [`heartsms/${b.account_id}`, 1], ['heartsms/#', 4], ['#', 4]] as const) {
        const r = await acl({ username: a.username, clientid: 'web-1', topic, acc })
        assert.equal(r.status, 401, `${topic} acc ${acc}`); assert.deepEqual(r.body, DENY)
      }
      assert.deepEqual((await acl({ username: 'nobody', topic: own, acc: 1 })).body, DENY)
      for (const acc of [1, 2, 4]) assert.deepEqual((await acl({ username: 'heart-sms-backend', clientid: 'heart-sms-backend', topic: '#', acc })).body, OK)
      const r = await acl({ username: a.username })
      assert.equal(r.status, 400); assert.deepEqual(r.body, { error: 'missing required parameter topic' })
    })

    test('§6 embedded broker: a user subscribes to its own stream only and cannot publish to it', async () => {
      const other = await subscriber(h, b)
      const c = await subscriber(h, a, 0)
      // SUBACK 0x80: mqtt.js rejects the subscription
      await assert.rejects(c.subscribeAsync(`heartsms/${b.account_id}`, { qos: 0 }), /Subscribe error/)
      await assert.rejects(c.subscribeAsync('heartsms/#', { qos: 0 }), /Subscribe error/)
      c.publish(`heartsms/${a.account_id}`, '{"operation":"removed_account","content":{}}', { qos: 0 })
      assert.equal(await silence(c, 300), true, 'a forged message is not delivered')
      await assert.rejects(connect(`${h.wsUrl}/api/v1/stream`, { username: a.username, password: b.account_id }))
      c.end(true); other.end(true)
    })

    test('§13.6 service account names are reserved at signup; §3 allow-list and duplicates', async () => {
      const signup = (name: string) => api(h, 'accounts/signup', { body: { name, password: sha256('x'), phone_number: '1', real_name: 'R' } })
      for (const name of ['heart-sms-backend', 'herald']) {
        const r = await signup(name)
        assert.equal(r.status, 401); assert.deepEqual(r.body, { error: 'username is not allowed' })
      }
      const dup = await signup(a.username)
      assert.equal(dup.status, 400); assert.deepEqual(dup.body, { error: 'user already exists' })
    })

    test('§13.2 fix: writes for an unknown account_id change nothing and publish nothing', async () => {
      const watch = await connect(h.mqttUrl, { username: 'heart-sms-backend', password: 'testpassword' })
      await watch.subscribeAsync('#', { qos: 2 })
      const bogus = 'BOGUS'
      for (const p of ['conversations/remove/1', 'messages/update_type/1', 'accounts/remove_account', 'accounts/clean_account', 'messages/cleanup', 'conversations/seen']) {
        const r = await api(h, p, { body: { account_id: bogus, message_type: 1, timestamp: 5 } })
        assert.equal(r.status, 200, p); assert.deepEqual(r.body, {})
      }
      const d = await api(h, 'accounts/dismissed_notification', { body: { account_id: bogus, id: 1 } })
      assert.deepEqual(d.body, {})
      const ins = await api(h, 'templates/add', { body: { account_id: bogus, templates: [{ device_id: 1, text: 't' }] } })
      assert.equal(ins.status, 500); assert.deepEqual(ins.body, { error: 'could not query database' })
      assert.deepEqual((await api(h, 'accounts/count', { query: { account_id: bogus } })).body, {})
      assert.deepEqual((await api(h, 'templates', { query: { account_id: bogus } })).body, [])
      assert.deepEqual((await api(h, 'media/1', { query: { account_id: bogus } })).body, { data: null })
      assert.equal(await silence(watch, 300), true)
      watch.end(true)
    })

    test('§5 a 100-item batch add delivers 100 messages, in order, to every subscriber', async () => {
      const s1 = await subscriber(h, a)
      const s2 = await subscriber(h, a, 0)
      const got = [collect(s1, 100, 10_000), collect(s2, 100, 10_000)]
      assert.equal((await api(h, 'messages/add', { body: batch(a.account_id, 100) })).status, 200)
      for (const g of await Promise.all(got)) assert.deepEqual(g.map((m) => JSON.parse(m.payload.toString()).content.id), Array.from({ length: 100 }, (_, i) => i + 1))
      s1.end(true); s2.end(true)
    })
  })
}

describe('heartsms §6.4 service account password and §3 allow-list outside dev/test', () => {
  test('production: testpassword is refused, a configured password works; unset allow-list admits nobody', async () => {
    const h = await startHeart('sqlite', { env: { NODE_ENV: 'production', HEART_ALLOWED_USERS: '', HERALD_HEARTSMS_SERVICE_PASSWORD: 's3cret' } })
    try {
      assert.deepEqual((await api(h, 'mqtt/login', { body: { username: 'heart-sms-backend', password: 'testpassword' } })).body, DENY)
      assert.deepEqual((await api(h, 'mqtt/login', { body: { username: 'heart-sms-backend', password: 's3cret' } })).body, OK)
      const r = await api(h, 'accounts/signup', { body: { name: 'a@b', password: 'x', phone_number: '1', real_name: 'R' } })
      assert.equal(r.status, 401); assert.deepEqual(r.body, { error: 'username is not allowed' })
    } finally { await h.close() }
  })

  test('a comma list admits exactly the listed names', async () => {
    const h = await startHeart('sqlite', { env: { HEART_ALLOWED_USERS: 'test@email.com,test2@email.com' } })
    try {
      const signup = (name: string) => api(h, 'accounts/signup', { body: { name, password: 'x', phone_number: '1', real_name: 'R' } })
      assert.equal((await signup('test2@email.com')).status, 200)
      assert.equal((await signup('other@email.com')).status, 401)
    } finally { await h.close() }
  })
})

describe('heartsms §5 on an external Mosquitto with default settings (max_inflight_messages 20)', { ...requireService(existsSync('/usr/sbin/mosquitto'), 'mosquitto binary') }, () => {
  let dir: string
  let mosq: ChildProcess
  let port: number
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'herald-mosq-'))
    port = await freePort()
    writeFileSync(join(dir, 'mosquitto.conf'), `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\n`)
    mosq = spawn('/usr/sbin/mosquitto', ['-c', join(dir, 'mosquitto.conf')], { stdio: 'ignore' })
    for (let i = 0; i < 50; i++) {
      try { (await connect(`mqtt://127.0.0.1:${port}`)).end(true); return } catch { await new Promise((r) => setTimeout(r, 100)) }
    }
    throw new Error('mosquitto did not start')
  })
  after(() => { mosq?.kill(); rmSync(dir, { recursive: true, force: true }) })

  test('a 100-item batch arrives complete and in order at every subscriber', async () => {
    const h = await startHeart('sqlite', { overrides: { 'broker.url': `mqtt://127.0.0.1:${port}` } })
    try {
      const a = await newAccount(h)
      const subs = await Promise.all([0, 1].map(async () => {
        const c = await connect(`mqtt://127.0.0.1:${port}`)
        await c.subscribeAsync(`heartsms/${a.account_id}`, { qos: 2 })
        return c
      }))
      const got = subs.map((c) => collect(c, 100, 15_000))
      assert.equal((await api(h, 'messages/add', { body: batch(a.account_id, 100) })).status, 200)
      for (const g of await Promise.all(got)) {
        assert.deepEqual(g.map((m) => JSON.parse(m.payload.toString()).content.id), Array.from({ length: 100 }, (_, i) => i + 1))
        assert.ok(g.every((m) => m.qos === 2 && !m.retain))
      }
      for (const c of subs) c.end(true)
    } finally { await h.close() }
  })
})
