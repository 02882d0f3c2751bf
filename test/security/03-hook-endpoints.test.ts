// Security hole 3: the broker-hook endpoints (/api/v1/mqtt/login, /api/v1/rabbitmq/user) answered anyone on the
// public port without the failed-login limit: a superuser's password fell in 61 tries while MQTT locks out after 10.
// Now the hooks answer only the broker: HERALD_HOOKS_ALLOW (default loopback) and HERALD_HOOKS_SECRET (Basic
// password, X-Herald-Hooks-Secret header or ?secret=), and failed logins through them count per username.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { ErrorWithReasonCode } from 'mqtt'
import http from 'node:http'
import { hookCallers } from '../../src/core/http/broker-hooks.ts'
import { connect, requireService, startTestHerald, type TestHerald } from '../helpers.ts'
import { pointRabbitAuthAt, RABBIT_MQTT_URL, rabbitAuthAvailable, resetRabbitAuth } from '../rabbitmq.ts'

const available = await rabbitAuthAvailable()
const root = { username: 'root', password: 'correct-horse' }

/** A go-auth login call; `from` picks the caller's source address on loopback (another host, for the server). */
function goAuthLogin(h: TestHerald, body: Record<string, string>, o: { headers?: Record<string, string>; query?: string; from?: string } = {}) {
  return new Promise<{ status: number; body: Record<string, unknown> }>((resolve, reject) => {
    const req = http.request(`${h.httpUrl}/api/v1/mqtt/login${o.query ?? ''}`, {
      method: 'POST', localAddress: o.from, headers: { 'content-type': 'application/json', ...o.headers },
    }, (res) => {
      let text = ''
      res.on('data', (d: Buffer) => { text += d.toString() })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as Record<string, unknown> }))
    })
    req.on('error', reject)
    req.end(JSON.stringify(body))
  })
}


describe('security 3: who may call the hooks', () => {
  test('default: loopback callers only; an address outside HERALD_HOOKS_ALLOW gets 403 before any password check', async () => {
    const def = hookCallers([], '')!
    assert.equal(def.check('127.0.0.1', 'ipv4'), true)
    assert.equal(def.check('::1', 'ipv6'), true)
    assert.equal(def.check('192.0.2.10', 'ipv4'), false, 'a public address is not a broker')
    assert.equal(hookCallers([], 'a-secret'), null, 'with a secret, any address that carries it')

    const h = await startTestHerald({ overrides: { 'hooks.allow': ['127.0.0.1/32'] } })
    try {
      await h.users.add(root.username, root.password, true)
      assert.equal((await goAuthLogin(h, { ...root, clientid: 'b1' })).status, 200, 'the broker, at 127.0.0.1')
      // a caller from another address (127.0.0.2 stands in for anyone on the network) is not asked for passwords
      const other = await goAuthLogin(h, { ...root, clientid: 'b2' }, { from: '127.0.0.2' })
      assert.deepEqual(other, { status: 403, body: { error: 'hook caller not allowed' } })
    } finally {
      await h.close()
    }
  })

  test('HERALD_HOOKS_SECRET: refused without it or with a wrong one; accepted as Basic password, header or ?secret=', async () => {
    const h = await startTestHerald({ overrides: { 'hooks.secret': 's3cr3t-hooks' } })
    try {
      await h.users.add(root.username, root.password, true)
      const body = { ...root, clientid: 'b1' }
      assert.equal((await goAuthLogin(h, body)).status, 401)
      assert.equal((await goAuthLogin(h, body, { headers: { 'x-herald-hooks-secret': 'wrong' } })).status, 401)
      assert.deepEqual(await goAuthLogin(h, body, { headers: { 'x-herald-hooks-secret': 's3cr3t-hooks' } }), { status: 200, body: { Ok: true } })
      const basic = 'Basic ' + Buffer.from('broker:s3cr3t-hooks').toString('base64')
      assert.equal((await goAuthLogin(h, body, { headers: { authorization: basic } })).status, 200)
      assert.equal((await goAuthLogin(h, body, { query: '?secret=s3cr3t-hooks' })).status, 200)
      const rabbit = await fetch(`${h.httpUrl}/api/v1/rabbitmq/user?username=root&password=correct-horse`)
      assert.equal(rabbit.status, 401, 'the RabbitMQ endpoints too')
    } finally {
      await h.close()
    }
  })

  test('failed logins through the hooks count per username: the 11th try is refused even with the right password', async () => {
    const h = await startTestHerald()
    try {
      await h.users.add(root.username, root.password, true)
      await h.users.add('alice', 'alice-pw')
      for (let i = 0; i < 10; i++) {
        assert.equal((await goAuthLogin(h, { username: 'root', password: `guess-${i}`, clientid: 'g' })).status, 401)
      }
      assert.equal((await goAuthLogin(h, { ...root, clientid: 'g' })).status, 401, 'locked out: guessing stops here')
      const rabbit = await (await fetch(`${h.httpUrl}/api/v1/rabbitmq/user?username=root&password=correct-horse`)).text()
      assert.equal(rabbit, 'deny', 'the same count for the RabbitMQ hook')
      // other users behind the same broker address still log in
      assert.equal((await goAuthLogin(h, { username: 'alice', password: 'alice-pw', clientid: 'a' })).status, 200)
    } finally {
      await h.close()
    }
  })
})

describe('security 3: the real RabbitMQ sends the hook secret in its backend paths', { concurrency: false }, () => {
  const opts = requireService(available, 'RabbitMQ with rabbitmq_mqtt and rabbitmq_auth_backend_http (scripts/rabbitmq-setup.sh)')
  let h: TestHerald
  before(async () => {
    if (!available) return
    h = await startTestHerald({ overrides: { 'hooks.secret': 'rabbit-hook-secret' } })
    await h.users.add('alice', 'alice-pw')
  })
  after(async () => {
    if (!available) return
    await resetRabbitAuth()
    await h.close()
  })

  test('without the secret RabbitMQ is refused by Herald; with ?secret= in its paths, logins go through', opts, async () => {
    await pointRabbitAuthAt(h.httpUrl)
    await assert.rejects(connect(RABBIT_MQTT_URL, { username: 'alice', password: 'alice-pw', clientId: 'sec-rq-1' }))
    await pointRabbitAuthAt(h.httpUrl, { secret: 'rabbit-hook-secret' })
    const c = await connect(RABBIT_MQTT_URL, { username: 'alice', password: 'alice-pw', clientId: 'sec-rq-2' })
    assert.ok(c.connected)
    c.end(true)
    await assert.rejects(connect(RABBIT_MQTT_URL, { username: 'alice', password: 'wrong', clientId: 'sec-rq-3' }), (e: ErrorWithReasonCode) => e.code === 4)
  })
})
