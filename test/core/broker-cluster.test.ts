// Two embedded Herald nodes on one PostgreSQL database (store persistence) sharing a Redis emitter
// (HERALD_MQTT_EMITTER=redis): a PUBLISH on one reaches the other's subscribers, retained messages and persistent
// sessions are shared, $SYS ids are per node, and Herald's own subscriptions take a message once, on the node it entered.
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import { Redis } from 'ioredis'
import mqtt, { type MqttClient } from 'mqtt'
import { connect, connectCollecting, createPgSchema, dropPgSchema, eventually, pgAvailable, pgUrlForSchema, requireService, startTestHerald, type TestHerald } from '../helpers.ts'

const REDIS = process.env.HERALD_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'
const user = { username: 'cluster-user', password: 'pw-cluster' }

async function redisAvailable(): Promise<boolean> {
  const r = new Redis(REDIS, { lazyConnect: true, retryStrategy: () => null, connectTimeout: 2_000, maxRetriesPerRequest: 0 })
  try { await r.connect(); await r.ping(); return true } catch { return false } finally { r.disconnect() }
}

const skip = requireService((await pgAvailable()) && (await redisAvailable()), 'PostgreSQL and Redis')

/** publish `probe` from `from` until `to` receives one on `topic`: the nodes' subscriptions have met through Redis */
async function linked(from: MqttClient, to: MqttClient, topic: string): Promise<void> {
  let seen = false
  const on = (t: string, p: Buffer) => { if (t === topic && p.toString() === 'probe') seen = true }
  to.on('message', on)
  await eventually(async () => { await from.publishAsync(topic, 'probe', { qos: 0 }); return seen }, `${topic} across nodes`)
  to.off('message', on)
}

/** the next `n` messages on `c` that are not probes */
function real(c: MqttClient, n: number): Promise<{ topic: string; payload: string; qos: number; retain: boolean }[]> {
  return new Promise((resolve, reject) => {
    const got: { topic: string; payload: string; qos: number; retain: boolean }[] = []
    const timer = setTimeout(() => { c.off('message', on); reject(new Error(`expected ${n} messages, got ${got.length}`)) }, 5_000)
    const on = (topic: string, payload: Buffer, p: { qos: number; retain: boolean }) => {
      if (payload.toString() === 'probe') return
      got.push({ topic, payload: payload.toString(), qos: p.qos, retain: p.retain })
      if (got.length === n) { clearTimeout(timer); c.off('message', on); resolve(got) }
    }
    c.on('message', on)
  })
}

/** true when nothing but probes arrives on `c` for a while */
function noMore(c: MqttClient): Promise<boolean> {
  return new Promise((resolve) => {
    const on = (_t: string, p: Buffer) => { if (p.toString() !== 'probe') { clearTimeout(t); c.off('message', on); resolve(false) } }
    const t = setTimeout(() => { c.off('message', on); resolve(true) }, 300)
    c.on('message', on)
  })
}

describe('two embedded nodes, one PostgreSQL, one Redis emitter', skip, () => {
  let a: TestHerald
  let b: TestHerald
  let schema: string
  const clients: MqttClient[] = []
  const client = async (h: TestHerald, opts: object = {}) => {
    const c = await connect(h.mqttUrl, { ...user, ...opts })
    clients.push(c)
    return c
  }
  before(async () => {
    schema = await createPgSchema()
    const overrides = { databaseUrl: pgUrlForSchema(schema), 'mqtt.emitter': 'redis', 'mqtt.redisUrl': REDIS, 'mqtt.emitterPrefix': `herald-test:${randomUUID()}:` }
    a = await startTestHerald({ overrides })
    b = await startTestHerald({ overrides })
    await a.users.add(user.username, user.password, true)
  })
  after(async () => {
    for (const c of clients) c.end(true)
    await a?.close()
    await b?.close()
    if (schema) await dropPgSchema(schema)
  })

  test('a subscriber on A gets QoS 0 and QoS 1 published on B, each once', async () => {
    const sub = await client(a, { clientId: 'sub-a' })
    await sub.subscribeAsync('room/1', { qos: 1 })
    const pub = await client(b, { clientId: 'pub-b' })
    await linked(pub, sub, 'room/1')
    const got = real(sub, 2)
    await pub.publishAsync('room/1', 'zero', { qos: 0 })
    await pub.publishAsync('room/1', 'one', { qos: 1 })
    assert.deepEqual((await got).map((m) => [m.payload, m.qos]), [['zero', 0], ['one', 1]])
    assert.ok(await noMore(sub), 'no second copy')
  })

  test('a retained message set on either node is seen from both', async () => {
    const pa = await client(a, { clientId: 'ret-pub-a' })
    await pa.publishAsync('ret/a', 'from-a', { qos: 1, retain: true })
    const pb = await client(b, { clientId: 'ret-pub-b' })
    await pb.publishAsync('ret/b', 'from-b', { qos: 1, retain: true })
    for (const h of [a, b]) {
      const { client: c, messages } = await connectCollecting(h.mqttUrl, { ...user, clientId: `ret-sub-${h.ports.mqtt}` }, 2)
      clients.push(c)
      await c.subscribeAsync('ret/+', { qos: 1 })
      const got = (await messages).map((m) => [m.topic, m.payload.toString(), m.retain]).sort()
      assert.deepEqual(got, [['ret/a', 'from-a', true], ['ret/b', 'from-b', true]])
    }
  })

  test('a persistent session that leaves A and comes back on B gets what was queued meanwhile, in order', async () => {
    const roamer = await client(a, { clientId: 'roamer', clean: false })
    await roamer.subscribeAsync('roam/r', { qos: 1 })
    const pub = await client(b, { clientId: 'roam-pub' })
    await linked(pub, roamer, 'roam/r')
    await roamer.endAsync()
    for (const n of [1, 2, 3]) await pub.publishAsync('roam/r', `m${n}`, { qos: 1 })
    const back = mqtt.connect(b.mqttUrl, { ...user, clientId: 'roamer', clean: false, reconnectPeriod: 0 })
    clients.push(back)
    assert.deepEqual((await real(back, 3)).map((m) => m.payload), ['m1', 'm2', 'm3'])
    assert.ok(await noMore(back), 'each once')
  })

  test('MQTT 5: a session that left A with a short Session Expiry and came back on B is not ended by A\'s timer; its delayed will is not sent', async () => {
    const willTopic = 'roam5/will'
    const watcher = await client(b, { clientId: 'roam5-watch' })
    await watcher.subscribeAsync(willTopic, { qos: 1 })
    const session = { ...user, clientId: 'roamer5', protocolVersion: 5 as const, clean: false }
    const first = mqtt.connect(a.mqttUrl, {
      ...session, reconnectPeriod: 0, properties: { sessionExpiryInterval: 2 },
      will: { topic: willTopic, payload: Buffer.from('gone'), qos: 1, retain: false, properties: { willDelayInterval: 2 } },
    })
    clients.push(first)
    await new Promise((r, j) => { first.once('connect', r); first.once('error', j) })
    await first.subscribeAsync('roam5/r', { qos: 1 })
    // a dropped connection (no DISCONNECT): A holds the session for 2 s and the will for 2 s
    first.stream.destroy()
    await new Promise((r) => setTimeout(r, 300))
    const onB = mqtt.connect(b.mqttUrl, { ...session, reconnectPeriod: 0, properties: { sessionExpiryInterval: 60 } })
    clients.push(onB)
    const ck = await new Promise<{ sessionPresent: boolean }>((r, j) => { onB.once('connect', r); onB.once('error', j) })
    assert.equal(ck.sessionPresent, true)
    const wills: string[] = []
    watcher.on('message', (t, p) => { if (t === willTopic) wills.push(p.toString()) })
    // past A's 2 s: the session's subscription is still stored, so a message queued while it is away reaches it
    await new Promise((r) => setTimeout(r, 3_000))
    onB.end()
    await new Promise<void>((r) => onB.once('close', () => r()))
    const pub = await client(b, { clientId: 'roam5-pub' })
    await pub.publishAsync('roam5/r', 'kept', { qos: 1 })
    const back = mqtt.connect(b.mqttUrl, { ...session, reconnectPeriod: 0, properties: { sessionExpiryInterval: 60 } })
    clients.push(back)
    assert.deepEqual((await real(back, 1)).map((m) => m.payload), ['kept'])
    assert.deepEqual(wills, [], 'no will: the session went on on B')
  })

  test('$SYS: each node announces its clients under its own broker id', async () => {
    const ids: Record<string, string> = {}
    const offs = await Promise.all([a, b].map((h) => h.bus.subscribe('$SYS/+/new/clients', (m) => { ids[m.payload.toString()] = m.topic.split('/')[1] })))
    const id = `sys-${randomUUID()}`
    ;(await client(a, { clientId: `${id}-a` })).end(true)
    ;(await client(b, { clientId: `${id}-b` })).end(true)
    await eventually(() => ids[`${id}-a`] && ids[`${id}-b`], 'new-client announcements from both nodes')
    assert.notEqual(ids[`${id}-a`], ids[`${id}-b`])
    for (const off of offs) await off()
  })

  test('Herald\'s own subscriptions take a message once, on the node it entered; its own publishes reach the other node once', async () => {
    const onA: string[] = []
    const onB: string[] = []
    const offA = await a.bus.subscribe('internal/#', (m) => { onA.push(m.payload.toString()) })
    const offB = await b.bus.subscribe('internal/#', (m) => { onB.push(m.payload.toString()) })
    const sub = await client(b, { clientId: 'internal-sub' })
    await sub.subscribeAsync('internal/#', { qos: 1 })
    const pub = await client(a, { clientId: 'internal-pub' })
    await linked(pub, sub, 'internal/x')
    onA.length = 0
    onB.length = 0
    await pub.publishAsync('internal/x', 'client-q0', { qos: 0 })
    await pub.publishAsync('internal/x', 'client-q1', { qos: 1 })
    const got = real(sub, 3)
    await a.bus.publish('internal/y', 'herald', { qos: 1 })
    assert.deepEqual((await got).map((m) => m.payload).sort(), ['client-q0', 'client-q1', 'herald'])
    await eventually(() => onA.filter((p) => p !== 'probe').length >= 3, 'node A handlers')
    assert.ok(await noMore(sub), 'each reached the client once')
    assert.deepEqual(onA.filter((p) => p !== 'probe').sort(), ['client-q0', 'client-q1', 'herald'])
    assert.deepEqual(onB.filter((p) => p !== 'probe'), [], 'node B handled none of what entered at A')
    await offA()
    await offB()
  })
})
