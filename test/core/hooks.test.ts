// Issue 2 §4: the external-broker hook endpoints answer from the same access layer as the embedded broker.
// mosquitto-go-auth HTTP backend (heartsms §6), RabbitMQ rabbitmq_auth_backend_http (chat21 §15), the latter
// proven end to end with the machine's RabbitMQ (scripts/rabbitmq-setup.sh) deciding through Herald.
import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import type { ErrorWithReasonCode, MqttClient } from 'mqtt'
import { collect, connect, requireService, silence, startTestHerald, type TestHerald } from '../helpers.ts'
import { pointRabbitAuthAt, RABBIT_GUEST, RABBIT_MQTT_URL, RABBIT_WS_URL, rabbitAuthAvailable, resetRabbitAuth } from '../rabbitmq.ts'

let h: TestHerald
// checked before Herald starts (its development certificate is generated synchronously)
const available = await rabbitAuthAvailable()
const alice = { username: 'alice', password: 'alice-pw' }

before(async () => {
  h = await startTestHerald({ overrides: { 'auth.aclFile': aclFile() } })
  await h.users.add(alice.username, alice.password)
  await h.users.add('root', 'root-pw', true)
})
after(async () => { await h.close() })

function aclFile(): string {
  const f = join(process.env.TMPDIR ?? '/tmp', `herald-hooks-acl-${process.pid}.conf`)
  writeFileSync(f, 'user alice\ntopic readwrite alice/#\ntopic read news/#\ntopic deny alice/private/#\n')
  return f
}

type Body = Record<string, string | number>
async function post(path: string, body: Body, mode: 'json' | 'form' = 'json') {
  const res = await fetch(h.httpUrl + path, {
    method: 'POST',
    headers: { 'content-type': mode === 'json' ? 'application/json' : 'application/x-www-form-urlencoded' },
    body: mode === 'json' ? JSON.stringify(body) : new URLSearchParams(Object.entries(body).map(([k, v]) => [k, String(v)])).toString(),
  })
  return { status: res.status, text: await res.text() }
}

/** go-auth's two response modes: `status` (any 2xx allows) and `json` (`ok` key, matched case-insensitively). */
function goAuthGrants(r: { status: number; text: string }): { status: boolean; json: boolean } {
  let ok = false
  try {
    const body = JSON.parse(r.text) as Record<string, unknown>
    const key = Object.keys(body).find((k) => k.toLowerCase() === 'ok')
    ok = key !== undefined && body[key] === true
  } catch { /* invalid JSON is an error in json mode: not granted */ }
  return { status: r.status >= 200 && r.status < 300, json: r.status >= 200 && r.status < 300 && ok }
}

for (const mode of ['json', 'form'] as const) {
  describe(`mosquitto-go-auth HTTP backend, ${mode} params`, () => {
    test('login: right password allowed, wrong password and unknown user refused with 401', async () => {
      const ok = await post('/api/v1/mqtt/login', { ...alice, clientid: 'c1' }, mode)
      assert.deepEqual({ status: ok.status, body: JSON.parse(ok.text) }, { status: 200, body: { Ok: true } })
      assert.deepEqual(goAuthGrants(ok), { status: true, json: true })
      for (const bad of [{ ...alice, password: 'nope' }, { username: 'ghost', password: 'x' }]) {
        const r = await post('/api/v1/mqtt/login', { ...bad, clientid: 'c1' }, mode)
        assert.deepEqual({ status: r.status, body: JSON.parse(r.text) }, { status: 401, body: { Ok: false, Error: 'username or password incorrect' } })
        assert.deepEqual(goAuthGrants(r), { status: false, json: false })
      }
    })

    test('login: a missing field is a 400 naming it (a rejection, not an error)', async () => {
      const r = await post('/api/v1/mqtt/login', { username: 'alice' }, mode)
      assert.deepEqual({ status: r.status, body: JSON.parse(r.text) }, { status: 400, body: { error: 'missing required parameter password' } })
    })

    test('login: the service account from the configuration', async () => {
      const r = await post('/api/v1/mqtt/login', { username: 'herald', password: h.servicePassword, clientid: 'svc' }, mode)
      assert.equal(r.status, 200)
    })

    test('acl: acc 1 read, 2 write, 3 both, 4 subscribe with the filter; deny lines and other users', async () => {
      const acl = (topic: string, acc: number, username = 'alice') => post('/api/v1/mqtt/acl', { username, clientid: 'c1', topic, acc }, mode)
      const cases: [string, number, boolean][] = [
        ['alice/x', 1, true], ['alice/x', 2, true], ['alice/x', 3, true], ['alice/#', 4, true],
        ['news/today', 1, true], ['news/today', 2, false], ['news/today', 3, false], ['news/#', 4, true],
        ['alice/private/x', 1, false], ['alice/private/x', 2, false], ['alice/private/+', 4, false],
        // a filter that only overlaps a deny is granted; what it would match there is refused at delivery (acc 1)
        ['alice/+/x', 4, true],
        ['bob/x', 2, false], ['#', 4, false],
      ]
      for (const [topic, acc, allowed] of cases) {
        const r = await acl(topic, acc)
        assert.equal(r.status, allowed ? 200 : 401, `acc ${acc} on ${topic}`)
        assert.deepEqual(goAuthGrants(r), { status: allowed, json: allowed })
      }
      assert.equal((await acl('alice/x', 2, 'ghost')).status, 401)
      assert.equal((await acl('#', 4, 'herald')).status, 200, 'the service account may do anything')
      assert.equal((await acl('#', 4, 'root')).status, 200, 'a superuser may do anything')
    })

    test('superuser: only superusers and the service account', async () => {
      assert.equal((await post('/api/v1/mqtt/superuser', { username: 'herald' }, mode)).status, 200)
      assert.equal((await post('/api/v1/mqtt/superuser', { username: 'root' }, mode)).status, 200)
      assert.equal((await post('/api/v1/mqtt/superuser', { username: 'alice' }, mode)).status, 401)
      assert.equal((await post('/api/v1/mqtt/superuser', { username: 'ghost' }, mode)).status, 401)
      assert.equal((await post('/api/v1/mqtt/superuser', {}, mode)).status, 400)
    })
  })
}

describe('mosquitto-go-auth: malformed bodies are rejections (4xx), never errors', () => {
  test('invalid JSON gets 400 with the JSON error model', async () => {
    const res = await fetch(h.httpUrl + '/api/v1/mqtt/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"username":' })
    assert.equal(res.status, 400)
    assert.ok(typeof ((await res.json()) as { error: unknown }).error === 'string')
  })
})

describe('RabbitMQ HTTP backend endpoints', () => {
  const rabbit = async (path: string, body: Body, method: 'POST' | 'GET' = 'POST') => {
    const qs = new URLSearchParams(Object.entries(body).map(([k, v]) => [k, String(v)])).toString()
    const res = method === 'GET'
      ? await fetch(`${h.httpUrl}/api/v1/rabbitmq/${path}?${qs}`)
      : await fetch(`${h.httpUrl}/api/v1/rabbitmq/${path}`, { method, headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: qs })
    assert.equal(res.status, 200, 'RabbitMQ reads any other status as an error')
    return (await res.text()).trim().toLowerCase()
  }
  const ctx = { vhost: '/', tags: '', client_id: 'r1' }

  for (const method of ['POST', 'GET'] as const) {
    test(`user, vhost, resource and topic answer allow/deny (${method})`, async () => {
      assert.equal(await rabbit('user', { ...alice, vhost: '/', client_id: 'r1' }, method), 'allow')
      assert.equal(await rabbit('user', { ...alice, password: 'no', client_id: 'r1' }, method), 'deny')
      assert.equal(await rabbit('user', { username: 'root', password: 'root-pw' }, method), 'allow administrator')
      assert.equal(await rabbit('vhost', { username: 'alice', ip: '127.0.0.1', ...ctx }, method), 'allow')
      assert.equal(await rabbit('vhost', { username: 'ghost', ip: '127.0.0.1', ...ctx }, method), 'deny')
      for (const permission of ['configure', 'read', 'write']) {
        assert.equal(await rabbit('resource', { username: 'alice', resource: 'queue', name: 'mqtt-subscription-r1qos1', permission, ...ctx }, method), 'allow')
      }
      assert.equal(await rabbit('resource', { username: 'alice', resource: 'queue', name: 'someone-elses', permission: 'read', ...ctx }, method), 'deny')
      assert.equal(await rabbit('resource', { username: 'alice', resource: 'queue', name: 'mqtt-subscription-bobqos1', permission: 'read', ...ctx }, method), 'deny',
        "another MQTT client's subscription queue")
      assert.equal(await rabbit('resource', { username: 'alice', resource: 'queue', name: 'mqtt-subscription-r1qos1', permission: 'read', vhost: '/', tags: '' }, method), 'deny',
        'without a client id (an AMQP connection) no MQTT queue is anyone\'s own')
      assert.equal(await rabbit('resource', { username: 'alice', resource: 'exchange', name: 'amq.topic', permission: 'write', ...ctx }, method), 'allow')
      assert.equal(await rabbit('resource', { username: 'alice', resource: 'exchange', name: 'amq.topic', permission: 'configure', ...ctx }, method), 'deny')
      const topic = (routing_key: string, permission: string) => rabbit('topic', {
        username: 'alice', vhost: '/', resource: 'topic', name: 'amq.topic', permission, tags: '', routing_key,
        'variable_map.client_id': 'r1', 'variable_map.username': 'alice', 'variable_map.vhost': '/',
      }, method)
      assert.equal(await topic('alice.x', 'write'), 'allow')
      assert.equal(await topic('alice.#', 'read'), 'allow')
      assert.equal(await topic('alice.*.y', 'read'), 'allow', '* is MQTT +')
      assert.equal(await topic('news.today', 'write'), 'deny')
      assert.equal(await topic('news.#', 'read'), 'allow')
      assert.equal(await topic('alice.private.x', 'write'), 'deny')
      assert.equal(await topic('bob.x', 'read'), 'deny')
      assert.equal(await topic('alice/with/slash', 'write'), 'deny', 'a / in a routing key is a . in the MQTT topic')
    })
  }
})

describe('through the real RabbitMQ: its MQTT listener asks Herald', { concurrency: false }, () => {
  const opts = requireService(available, 'RabbitMQ with rabbitmq_mqtt and rabbitmq_auth_backend_http (scripts/rabbitmq-setup.sh)')
  const open: MqttClient[] = []
  let watcher: MqttClient

  before(async () => {
    if (!available) return
    await pointRabbitAuthAt(h.httpUrl)
    watcher = await connect(RABBIT_MQTT_URL, { ...RABBIT_GUEST, clientId: `herald-watch-${process.pid}` })
    open.push(watcher)
    await watcher.subscribeAsync(['alice/#', 'bob/#'], { qos: 1 })
  })
  after(async () => {
    if (!available) return
    for (const c of open) c.end(true)
    await resetRabbitAuth()
  })

  const rabbitClient = async (clientId: string, creds = alice) => {
    const c = await connect(RABBIT_MQTT_URL, { ...creds, clientId })
    open.push(c)
    c.on('error', () => {})
    return c
  }
  const closed = (c: MqttClient) => new Promise<void>((r) => { if (!c.connected) r(); else c.once('close', () => r()) })

  test('login: a Herald user is accepted, a wrong password refused (CONNACK 4), no credentials refused', opts, async () => {
    const c = await rabbitClient('rq-login')
    assert.ok(c.connected)
    c.end(true)
    await assert.rejects(connect(RABBIT_MQTT_URL, { ...alice, password: 'wrong', clientId: 'rq-bad' }), (e: ErrorWithReasonCode) => e.code === 4)
    await assert.rejects(connect(RABBIT_MQTT_URL, { clientId: 'rq-anon' }))
  })

  test('subscribe to an allowed topic, and receive what an allowed publish sends', opts, async () => {
    const c = await rabbitClient('rq-sub')
    assert.equal((await c.subscribeAsync('alice/inbox', { qos: 1 }))[0].qos, 1)
    assert.equal((await c.subscribeAsync('alice/q0', { qos: 0 }))[0].qos, 0)
    const got = collect(c, 2)
    const p = await rabbitClient('rq-pub')
    await p.publishAsync('alice/inbox', 'via rabbit', { qos: 1 })
    await p.publishAsync('alice/q0', 'at qos 0', { qos: 0 })
    const msgs = (await got).map((m) => `${m.topic} ${m.payload}`).sort()
    assert.deepEqual(msgs, ['alice/inbox via rabbit', 'alice/q0 at qos 0'])
  })

  test('a denied subscription is refused (RabbitMQ 3.10 closes the connection)', opts, async () => {
    const c = await rabbitClient('rq-sub-deny')
    await assert.rejects(c.subscribeAsync('bob/#', { qos: 1 }))
    await closed(c)
  })

  test('a denied publish does not reach subscribers (RabbitMQ closes the publisher)', opts, async () => {
    const c = await rabbitClient('rq-pub-deny')
    c.publish('bob/x', 'not allowed', { qos: 1 })
    await closed(c)
    assert.ok(await silence(watcher, 500))
    // a publish Herald allows still flows to the same watcher
    const ok = await rabbitClient('rq-pub-ok')
    const got = collect(watcher, 1)
    await ok.publishAsync('alice/ok', 'allowed', { qos: 1 })
    assert.equal((await got)[0].topic, 'alice/ok')
  })

  test('RabbitMQ Web-MQTT (/ws) asks Herald too', opts, async () => {
    const c = await connect(RABBIT_WS_URL, { ...alice, clientId: 'rq-ws' })
    open.push(c)
    const got = collect(watcher, 1)
    await c.publishAsync('alice/ws', 'over web-mqtt', { qos: 1 })
    assert.equal((await got)[0].payload.toString(), 'over web-mqtt')
    // (RabbitMQ 3.10's Web-MQTT closes the socket instead of sending CONNACK 4)
    await assert.rejects(connect(RABBIT_WS_URL, { ...alice, password: 'wrong', clientId: 'rq-ws-bad' }))
  })

  test('a deny line in the ACL file is honoured through RabbitMQ too', opts, async () => {
    const c = await rabbitClient('rq-private')
    await assert.rejects(c.subscribeAsync('alice/private/#', { qos: 0 }))
    await closed(c)
  })
})
