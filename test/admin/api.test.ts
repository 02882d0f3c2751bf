// Admin API (issue 15 item 1) over real HTTP, with real mqtt.js clients on the embedded broker.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { AdminTokenStore } from '../../src/core/admin/tokens.ts'
import { collect, connect, eventually, requireService, silence, startTestHerald, type TestHerald } from '../helpers.ts'

const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`
const ROOT = basic('root', 'root-pw')

async function get(h: TestHerald, path: string, auth: string | null = ROOT, init: RequestInit = {}) {
  const res = await fetch(`${h.httpUrl}/api/v1/admin${path}`, { ...init, headers: { ...(auth ? { authorization: auth } : {}), ...(init.headers ?? {}) } })
  const text = await res.text()
  return { res, text, body: text ? JSON.parse(text) : undefined }
}

describe('admin API', () => {
  let h: TestHerald
  before(async () => {
    h = await startTestHerald({
      overrides: { 'hooks.secret': 'hooks-secret-value-1', 'metrics.token': 'metrics-token-value-2', 'service.password': 'service-password-value-3' },
    })
    await h.users.add('root', 'root-pw', true)
    await h.users.add('bob', 'bob-pw', false)
  })
  after(async () => { await h.close() })

  test('401 without or with bad credentials, 403 for a non-superuser, 200 for a superuser', async () => {
    const none = await get(h, '/server', null)
    assert.equal(none.res.status, 401)
    assert.match(none.res.headers.get('www-authenticate') ?? '', /^Bearer/)
    assert.equal((await get(h, '/server', basic('root', 'wrong'))).res.status, 401)
    assert.equal((await get(h, '/server', 'Bearer nope')).res.status, 401)
    const bob = await get(h, '/server', basic('bob', 'bob-pw'))
    assert.equal(bob.res.status, 403)
    assert.match(bob.body.error, /not a superuser/)
    assert.equal((await get(h, '/server')).res.status, 200)
  })

  test('a token from `herald token create` (its store) and a console session token are bearer credentials', async () => {
    const token = await new AdminTokenStore(h.store.db).create('ci')
    const r = await get(h, '/server', `Bearer ${token}`)
    assert.equal(r.res.status, 200)
    const s = await get(h, '/session', ROOT, { method: 'POST' })
    assert.equal(s.res.status, 200)
    assert.equal(s.body.user, 'root')
    assert.equal((await get(h, '/clients', `Bearer ${s.body.token}`)).res.status, 200)
    assert.equal((await get(h, '/session', `Bearer ${s.body.token}`, { method: 'DELETE' })).body.closed, true)
    assert.equal((await get(h, '/clients', `Bearer ${s.body.token}`)).res.status, 401)
  })

  test('GET /clients: fields, pagination with total, search by id and by user; DELETE kicks (the client sees it)', async () => {
    const a = await connect(h.mqttUrl, { clientId: 'adm-a', username: 'root', password: 'root-pw' })
    const b = await connect(h.mqttUrl, { clientId: 'adm-b', username: 'bob', password: 'bob-pw' })
    const c = await connect(h.mqttUrl, { clientId: 'adm-c', username: 'root', password: 'root-pw', protocolVersion: 5 })
    try {
      await a.subscribeAsync('watch/#', { qos: 1 })
      await eventually(async () => (await get(h, '/clients')).body.total === 3, 'three clients listed')
      const p1 = await get(h, '/clients?limit=2&offset=0&sort=id')
      assert.equal(p1.body.total, 3)
      assert.deepEqual(p1.body.items.map((x: { id: string }) => x.id), ['adm-a', 'adm-b'])
      const p2 = await get(h, '/clients?limit=2&offset=2&sort=id')
      assert.deepEqual(p2.body.items.map((x: { id: string }) => x.id), ['adm-c'])
      const first = p1.body.items[0]
      assert.equal(first.user, 'root')
      assert.equal(first.dialect, 'user')
      assert.equal(first.transport, 'tcp')
      assert.equal(first.listener, 'mqtt')
      assert.ok(Date.parse(first.connectedSince) > 0)
      assert.deepEqual(first.subscriptions, [{ filter: 'watch/#', qos: 1 }])
      assert.deepEqual([first.protocolVersion, p2.body.items[0].protocolVersion], [4, 5])
      assert.match(first.address, /127\.0\.0\.1/)
      // live counts from the broker: nothing waits for clients that read and acknowledge
      assert.deepEqual([first.queued, first.inflight, p2.body.items[0].inflight], [0, 0, 0])
      const byUser = await get(h, '/clients?q=BOB')
      assert.deepEqual(byUser.body.items.map((x: { id: string }) => x.id), ['adm-b'])
      const byId = await get(h, '/clients?q=adm-c')
      assert.equal(byId.body.total, 1)
      assert.equal((await get(h, '/clients?limit=abc')).res.status, 400)

      const closed = new Promise<void>((r) => b.once('close', () => r()))
      const kick = await get(h, '/clients/adm-b', ROOT, { method: 'DELETE' })
      assert.equal(kick.res.status, 200)
      assert.deepEqual(kick.body, { id: 'adm-b', disconnected: true })
      await closed
      await eventually(async () => (await get(h, '/clients')).body.total === 2, 'the kicked client gone from the list')
      assert.equal((await get(h, '/clients/adm-b', ROOT, { method: 'DELETE' })).res.status, 404)
    } finally {
      a.end(true); b.end(true); c.end(true)
    }
  })

  for (const protocolVersion of [4, 5] as const) test(`GET /clients: a subscriber that stops reading shows Herald's unacknowledged deliveries (MQTT ${protocolVersion === 5 ? 5 : '3.1.1'})`, async () => {
    const slow = await connect(h.mqttUrl, { clientId: 'adm-slow', username: 'root', password: 'root-pw', protocolVersion })
    const pub = await connect(h.mqttUrl, { clientId: 'adm-pub', username: 'root', password: 'root-pw' })
    try {
      await slow.subscribeAsync('slow/#', { qos: 1 })
      // the client reads nothing more: its PUBACKs never go out
      ;(slow.stream as unknown as { pause(): void }).pause()
      for (let i = 0; i < 20; i++) await pub.publishAsync('slow/x', Buffer.alloc(512, i), { qos: 1 })
      const row = await eventually(async () => {
        const r = (await get(h, '/clients?q=adm-slow')).body.items[0]
        return r && r.inflight > 0 ? r : undefined
      }, 'in-flight deliveries counted')
      assert.ok(row.inflight <= 20)
      assert.equal(typeof row.queued, 'number')
    } finally {
      slow.end(true)
      await pub.endAsync()
    }
  })

  test('GET /topics counts subscribers and shows retained messages; DELETE /retained/:topic clears one for new subscribers', async () => {
    const pub = await connect(h.mqttUrl, { clientId: 'adm-pub', username: 'root', password: 'root-pw' })
    const s1 = await connect(h.mqttUrl, { clientId: 'adm-s1', username: 'root', password: 'root-pw' })
    try {
      await s1.subscribeAsync('keep/#')
      await pub.publishAsync('keep/one', 'hello', { qos: 1, retain: true })
      const t = await eventually(async () => {
        const r = await get(h, '/topics?q=keep')
        return r.body.items.find((x: { topic: string }) => x.topic === 'keep/one')?.retained ? r.body : undefined
      }, 'the retained message listed')
      assert.deepEqual(t.items.find((x: { topic: string }) => x.topic === 'keep/#'), { topic: 'keep/#', subscribers: 1, retained: null })
      assert.equal(t.items.find((x: { topic: string }) => x.topic === 'keep/one').retained.bytes, 5)
      // before: a new subscriber gets the retained message (so the check after the delete can fail)
      const s2 = await connect(h.mqttUrl, { clientId: 'adm-s2', username: 'root', password: 'root-pw' })
      const got = collect(s2, 1)
      await s2.subscribeAsync('keep/#')
      assert.equal((await got)[0].payload.toString(), 'hello')
      s2.end(true)

      assert.equal((await get(h, '/retained/keep%2F%2B', ROOT, { method: 'DELETE' })).res.status, 400)
      const del = await get(h, `/retained/${encodeURIComponent('keep/one')}`, ROOT, { method: 'DELETE' })
      assert.equal(del.res.status, 200)
      assert.deepEqual(del.body, { topic: 'keep/one', cleared: true, wasKnown: true })
      const s3 = await connect(h.mqttUrl, { clientId: 'adm-s3', username: 'root', password: 'root-pw' })
      await s3.subscribeAsync('keep/#')
      assert.equal(await silence(s3, 300), true)
      s3.end(true)
      const after = await get(h, '/topics?q=keep/one')
      assert.equal(after.body.total, 0)
    } finally {
      pub.end(true); s1.end(true)
    }
  })

  test('GET /server: version, listeners, store and broker mode, configuration with every secret masked', async () => {
    const r = await get(h, '/server')
    assert.equal(r.res.status, 200)
    assert.equal(r.body.version, '0.1.0')
    assert.equal(r.body.store, 'sqlite')
    assert.deepEqual(r.body.broker, { mode: 'embedded', name: 'embedded' })
    assert.ok(r.body.listeners.some((l: { name: string; port: number }) => l.name === 'mqtt' && l.port === h.ports.mqtt))
    assert.ok(r.body.listeners.some((l: { name: string }) => l.name === 'http'))
    assert.equal(r.body.config['hooks.secret'], '****')
    assert.equal(r.body.config['mqtt.port'], 0)
    for (const secret of ['hooks-secret-value-1', 'metrics-token-value-2', 'service-password-value-3', 'root-pw']) assert.ok(!r.text.includes(secret), secret)
  })

  test('GET /dialects lists the enabled ones; an unknown name is 404', async () => {
    assert.deepEqual((await get(h, '/dialects')).body, { items: [] })
    assert.equal((await get(h, '/dialects/nosuch')).res.status, 404)
  })

  test('GET /events: history first, then a sample each second with the message rate, and connect events', async () => {
    const ac = new AbortController()
    const res = await fetch(`${h.httpUrl}/api/v1/admin/events`, { headers: { authorization: ROOT }, signal: ac.signal })
    assert.equal(res.status, 200)
    assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/)
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader()
    let buf = ''
    const next = async (): Promise<{ event: string; data: any }> => {
      for (;;) {
        const i = buf.indexOf('\n\n')
        if (i >= 0) {
          const frame = buf.slice(0, i)
          buf = buf.slice(i + 2)
          const event = /^event: (.*)$/m.exec(frame)?.[1]
          const data = /^data: (.*)$/m.exec(frame)?.[1]
          if (event && data) return { event, data: JSON.parse(data) }
          continue
        }
        const { value, done } = await reader.read()
        if (done) throw new Error('stream ended')
        buf += value
      }
    }
    const c = await connect(h.mqttUrl, { clientId: 'adm-sse', username: 'root', password: 'root-pw' })
    try {
      const first = await next()
      assert.equal(first.event, 'history')
      assert.ok(Array.isArray(first.data.samples))
      assert.equal((await next()).event, 'recent')
      let sawConnect = false
      let sawRate = false
      const publisher = setInterval(() => { c.publish('sse/t', 'x') }, 20)
      try {
        while (!(sawConnect && sawRate)) {
          const e = await next()
          if (e.event === 'connect' && e.data.clientId === 'adm-sse') sawConnect = true
          if (e.event === 'sample') {
            for (const k of ['connections', 'messagesIn', 'messagesOut', 'deliveries', 'authFailures', 'eventLoopP99', 'rss']) assert.equal(typeof e.data[k], 'number', k)
            assert.ok(e.data.rss > 0)
            if (e.data.messagesIn > 0) sawRate = true
          }
          // the connect happened before the stream or after: a reconnect shows it live
          if (!sawConnect && e.event === 'sample') { c.end(true); await connect(h.mqttUrl, { clientId: 'adm-sse2', username: 'root', password: 'root-pw' }).then((x) => x.end(true)); sawConnect = true }
        }
      } finally { clearInterval(publisher) }
      const hist = await get(h, '/history')
      assert.ok(hist.body.samples.length > 0)
    } finally {
      ac.abort()
      c.end(true)
    }
  })
})

describe('admin API limits and GET /', () => {
  let h: TestHerald
  before(async () => {
    h = await startTestHerald({ overrides: { 'admin.failLimit': 2, 'admin.rateLimit': 5 } })
    await h.users.add('root', 'root-pw', true)
  })
  after(async () => { await h.close() })

  test('GET / redirects to /console (302)', async () => {
    const r = await fetch(`${h.httpUrl}/`, { redirect: 'manual' })
    assert.equal(r.status, 302)
    assert.equal(r.headers.get('location'), '/console')
  })

  test('requests per principal beyond the limit get 429 with Retry-After', async () => {
    const codes: number[] = []
    for (let i = 0; i < 6; i++) codes.push((await get(h, '/server')).res.status)
    assert.deepEqual(codes, [200, 200, 200, 200, 200, 429])
    const r = await get(h, '/server')
    assert.ok(Number(r.res.headers.get('retry-after')) >= 1)
  })

  test('failed logins from one address: after the limit even good credentials get 429 with Retry-After', async () => {
    assert.equal((await get(h, '/server', basic('root', 'x'))).res.status, 401)
    assert.equal((await get(h, '/server', basic('root', 'y'))).res.status, 401)
    const r = await get(h, '/server', basic('root', 'root-pw'))
    assert.equal(r.res.status, 429)
    assert.ok(Number(r.res.headers.get('retry-after')) >= 1)
  })
})

describe('HERALD_CONSOLE=false', () => {
  let h: TestHerald
  before(async () => { h = await startTestHerald({ env: { HERALD_CONSOLE: 'false' } }) })
  after(async () => { await h.close() })

  test('GET / answers a JSON index of the endpoints and /console is not served', async () => {
    const r = await fetch(`${h.httpUrl}/`, { redirect: 'manual' })
    assert.equal(r.status, 200)
    const body = await r.json()
    assert.equal(body.name, 'herald')
    assert.equal(body.endpoints.admin, '/api/v1/admin')
    assert.equal(body.endpoints.docs, '/api/docs')
    assert.equal((await fetch(`${h.httpUrl}/console`)).status, 404)
  })
})

const MOSQUITTO = 'mqtt://127.0.0.1:1883'
const mosquittoUp = await connect(MOSQUITTO, { clientId: `adm-probe-${process.pid}` }).then((c) => { c.end(true); return true }, () => false)

describe('admin API on an external broker (Mosquitto at 127.0.0.1:1883)', requireService(mosquittoUp, 'Mosquitto at 127.0.0.1:1883'), () => {
  let h: TestHerald
  before(async () => {
    h = await startTestHerald({ overrides: { 'broker.url': MOSQUITTO } })
    await h.users.add('root', 'root-pw', true)
  })
  after(async () => { await h.close() })

  test('GET /server says external; a kick is 501 where the broker cannot; DELETE /retained clears a retained message on the broker', async () => {
    const s = await get(h, '/server')
    assert.equal(s.body.broker.mode, 'external')
    assert.equal((await get(h, '/clients/whoever', ROOT, { method: 'DELETE' })).res.status, 501)
    const topic = `herald-admin-test/${process.pid}/${Date.now()}`
    const pub = await connect(MOSQUITTO, { clientId: `adm-pub-${process.pid}` })
    await pub.publishAsync(topic, 'kept', { qos: 1, retain: true })
    pub.end(true)
    const before = await connect(MOSQUITTO, { clientId: `adm-before-${process.pid}` })
    const got = collect(before, 1)
    await before.subscribeAsync(topic)
    assert.equal((await got)[0].payload.toString(), 'kept')
    before.end(true)
    const del = await get(h, `/retained/${encodeURIComponent(topic)}`, ROOT, { method: 'DELETE' })
    assert.equal(del.res.status, 200)
    assert.equal(del.body.cleared, true)
    const afterSub = await connect(MOSQUITTO, { clientId: `adm-after-${process.pid}` })
    await afterSub.subscribeAsync(topic)
    assert.equal(await silence(afterSub, 300), true)
    afterSub.end(true)
  })
})
