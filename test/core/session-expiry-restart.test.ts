// Issue 11 item 3: an MQTT 5 session's Session Expiry runs on across a Herald restart on the durable store (Aedes
// keeps its expiry timers in memory). mqtt.js clients with protocolVersion 5 on a real socket; the same data directory
// (SQLite) for every start, a fresh one per test.
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import Database from 'better-sqlite3'
import mqtt from 'mqtt'
import { migrate, openStore } from '../../src/core/store/db.ts'
import { coreMigrations } from '../../src/core/store/users.ts'
import { StorePersistence } from '../../src/transport/persistence.ts'
import { DurableSessionExpiry } from '../../src/transport/session-expiry.ts'
import { collect, connect, eventually, startTestHerald, type TestHerald } from '../helpers.ts'

const user = { username: 'expiry-user', password: 'pw-expiry' }
const dirs: string[] = []
after(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }) })

function dataDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'herald-expiry-'))
  dirs.push(d)
  return d
}

const start = async (dir: string): Promise<TestHerald> => {
  const h = await startTestHerald({ overrides: { dataDir: dir } })
  await h.users.add(user.username, user.password, true)
  return h
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** a persistent MQTT 5 session on `topic` with this Session Expiry Interval, left at once */
async function leaveSession(h: TestHerald, clientId: string, expiryS: number, topic: string): Promise<void> {
  const c = await connect(h.mqttUrl, { ...user, clientId, protocolVersion: 5, clean: false, properties: { sessionExpiryInterval: expiryS } })
  await c.subscribeAsync(topic, { qos: 1 })
  await c.endAsync()
}

/** queue one QoS 1 message on `topic` for whoever holds a session on it */
async function publish(h: TestHerald, topic: string, payload: string): Promise<void> {
  const p = await connect(h.mqttUrl, { ...user, clientId: `${topic.replace(/\W/g, '-')}-pub`, protocolVersion: 5 })
  await p.publishAsync(topic, payload, { qos: 1 })
  await p.endAsync()
}

/** come back with Clean Start 0: Session Present, and what the session had queued */
async function comeBack(h: TestHerald, clientId: string, n: number): Promise<{ present: boolean; got: string[] }> {
  const c = mqtt.connect(h.mqttUrl, { ...user, clientId, protocolVersion: 5, clean: false, reconnectPeriod: 0, properties: { sessionExpiryInterval: 60 } })
  const got = n > 0 ? collect(c, n, 3000) : Promise.resolve([])
  const connack = await new Promise<{ sessionPresent: boolean }>((resolve, reject) => { c.once('connect', resolve); c.once('error', reject) })
  const msgs = await got
  c.end(true)
  return { present: connack.sessionPresent, got: msgs.map((m) => m.payload.toString()) }
}

const expiryRows = (dir: string): { client_id: string; expires_at: number | null }[] => {
  const db = new Database(join(dir, 'herald.db'), { readonly: true })
  try { return db.prepare('SELECT client_id, expires_at FROM herald_mqtt_session_expiry ORDER BY client_id').all() as never } finally { db.close() }
}

describe('MQTT 5 Session Expiry across a restart (durable store)', () => {
  test('a session whose interval passed while Herald was down is gone at the next start: Session Present 0, nothing queued for it', async () => {
    const dir = dataDir()
    const first = await start(dir)
    await leaveSession(first, 'exp-gone', 1, 'exp/gone')
    await publish(first, 'exp/gone', 'm1')
    await first.close().catch(() => {})
    const rows = expiryRows(dir)
    assert.equal(rows.length, 1)
    assert.ok(rows[0].expires_at !== null, 'the time the session ends is written when its client leaves')
    await sleep(1500)
    const second = await start(dir)
    try {
      assert.deepEqual(await comeBack(second, 'exp-gone', 0), { present: false, got: [] })
    } finally {
      await second.close()
    }
  })

  test('a session still within its interval at the restart is kept, with what was queued; and it ends on time after the restart', async () => {
    const dir = dataDir()
    const first = await start(dir)
    await leaveSession(first, 'exp-kept', 60, 'exp/kept')
    await publish(first, 'exp/kept', 'k1')
    await leaveSession(first, 'exp-later', 2, 'exp/later')
    await publish(first, 'exp/later', 'l1')
    await first.close().catch(() => {})
    const second = await start(dir)
    try {
      assert.deepEqual(await comeBack(second, 'exp-kept', 1), { present: true, got: ['k1'] })
      // exp-later's 2 s started when it left; Herald's own timer ends it after the restart
      await sleep(2500)
      assert.deepEqual(await comeBack(second, 'exp-later', 0), { present: false, got: [] })
      assert.deepEqual(expiryRows(dir).map((r) => r.client_id), ['exp-kept'], 'the ended session\'s row went with it')
    } finally {
      await second.close()
    }
  })

  test('3.1.1 persistent sessions and MQTT 5 sessions that never expire write nothing and stay', async () => {
    const dir = dataDir()
    const first = await start(dir)
    const legacy = await connect(first.mqttUrl, { ...user, clientId: 'exp-311', clean: false })
    await legacy.subscribeAsync('exp/311', { qos: 1 })
    await legacy.endAsync()
    await leaveSession(first, 'exp-never', 0xFFFFFFFF, 'exp/never')
    assert.deepEqual(expiryRows(dir), [])
    await first.close().catch(() => {})
    const second = await start(dir)
    try {
      await publish(second, 'exp/never', 'n1')
      assert.deepEqual(await comeBack(second, 'exp-never', 1), { present: true, got: ['n1'] })
      const back = mqtt.connect(second.mqttUrl, { ...user, clientId: 'exp-311', clean: false, reconnectPeriod: 0 })
      const connack = await new Promise<{ sessionPresent: boolean }>((resolve) => back.once('connect', resolve))
      assert.equal(connack.sessionPresent, true)
      back.end(true)
    } finally {
      await second.close()
    }
  })
})

/** a durable persistence on a fresh SQLite store with the core migrations, closed afterwards */
async function withPersistence(fn: (persistence: StorePersistence) => Promise<void>): Promise<void> {
  const store = openStore({ dataDir: dataDir() })
  try {
    await migrate(store.db, 'core', coreMigrations)
    await fn(new StorePersistence({ db: store.db, kind: 'sqlite', maxQueued: 0, queuedExpiryMs: 0, sweepMs: 0 }))
  } finally {
    await store.close()
  }
}

describe('DurableSessionExpiry on the store, with a clock', () => {
  test('a session whose client was connected when Herald stopped or crashed starts its interval at the next start; a due one ends with its subscriptions and queue', () => withPersistence(async (persistence) => {
    await persistence.store.putSessionExpiry('was-connected', 30, null)
    await persistence.store.putSessionExpiry('was-due', 30, 1_000)
    await persistence.addSubscriptions({ id: 'was-due' }, [{ topic: 'due/#', qos: 1 }])
    await persistence.outgoingEnqueueCombi([{ clientId: 'was-due' }], { cmd: 'publish', topic: 'due/x', payload: Buffer.from('x'), qos: 1, retain: false, dup: false, brokerId: 'b', brokerCounter: 1 } as never)
    assert.equal((await persistence.store.queuedCounts()).get('was-due'), 1)
    const now = 50_000
    const expiry = new DurableSessionExpiry(persistence, { now: () => now, isConnected: () => false, onError: (err) => { throw err }, single: true })
    assert.equal(await expiry.restore(), 1)
    expiry.close()
    assert.deepEqual(await persistence.store.sessionExpiries(), [{ clientId: 'was-connected', expiryS: 30, expiresAt: now + 30_000 }])
    assert.deepEqual(await persistence.subscriptionsByClient({ id: 'was-due' }), [])
    assert.equal((await persistence.store.queuedCounts()).get('was-due'), undefined)
  }))
})

describe('DurableSessionExpiry with other nodes on the store (single: false)', () => {
  test('a session whose client was connected at another node\'s stop is that node\'s; one whose client came back on another node is not ended when its timer fires', () => withPersistence(async (persistence) => {
    await persistence.store.putSessionExpiry('on-other-node', 30, null)
    await persistence.store.putSessionExpiry('came-back', 30, Date.now() + 150)
    await persistence.store.putSessionExpiry('stays-away', 30, Date.now() + 150)
    for (const id of ['on-other-node', 'came-back', 'stays-away']) await persistence.addSubscriptions({ id }, [{ topic: `${id}/#`, qos: 1 }])
    const errors: unknown[] = []
    const expiry = new DurableSessionExpiry(persistence, { isConnected: () => false, onError: (err) => errors.push(err), single: false })
    assert.equal(await expiry.restore(), 0)
    // 'came-back' connects on another node before its time
    await persistence.store.putSessionExpiry('came-back', 30, null)
    await eventually(async () => (await persistence.subscriptionsByClient({ id: 'stays-away' })).length === 0, 'stays-away ended on time')
    await sleep(200)
    expiry.close()
    assert.deepEqual(errors, [])
    assert.equal((await persistence.subscriptionsByClient({ id: 'came-back' })).length, 1)
    assert.equal((await persistence.subscriptionsByClient({ id: 'on-other-node' })).length, 1)
    assert.deepEqual((await persistence.store.sessionExpiries()).map((r) => [r.clientId, r.expiresAt]), [['came-back', null], ['on-other-node', null]])
  }))
})
