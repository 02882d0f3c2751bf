// Issue 11 item 3: the durable persistence's bounds and lookups beyond aedes-persistence's abstract suite, on SQLite and
// PostgreSQL: the per-client queue limit (oldest dropped, counted), queued-message expiry, a second instance on the same
// tables (a restart) seeing everything, retained lookups by filter; and the limit end to end through Herald.
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import mqemitter from 'mqemitter'
import { Registry } from 'prom-client'
import { migrate, openStore, type Store } from '../../src/core/store/db.ts'
import { coreMigrations } from '../../src/core/store/users.ts'
import { StorePersistence, type Pkt } from '../../src/transport/persistence.ts'
import { connect, connectCollecting, createPgSchema, dropPgSchema, pgAvailable, PG_URL, pgUrlForSchema, requireService, startTestHerald } from '../helpers.ts'

const kinds = [
  { kind: 'sqlite' as const, available: true },
  { kind: 'postgres' as const, available: await pgAvailable() },
]

function brokerStub(id = 'broker-1') {
  const mq = mqemitter()
  return { id, mq, publish: mq.emit.bind(mq), subscribe: mq.on.bind(mq), unsubscribe: mq.removeListener.bind(mq), counter: 0 }
}

const publish = (topic: string, payload: string, counter: number, extra: Partial<Pkt> = {}): Pkt =>
  ({ cmd: 'publish', topic, payload: Buffer.from(payload), qos: 1, retain: false, dup: false, brokerId: 'broker-1', brokerCounter: counter, ...extra })

async function drain(s: NodeJS.ReadableStream): Promise<Pkt[]> {
  const out: Pkt[] = []
  for await (const p of s) out.push(p as unknown as Pkt)
  return out
}

async function dropped(registry: Registry, reason: string): Promise<number> {
  const m = (await registry.getSingleMetric('herald_mqtt_queue_dropped_total')?.get())?.values.find((v) => v.labels.reason === reason)
  return m?.value ?? 0
}

for (const { kind, available } of kinds) {
  describe(`durable persistence bounds (${kind})`, requireService(available, `PostgreSQL at ${PG_URL}`), () => {
    let store: Store
    let cleanup = async () => {}
    let clock = 1_000_000
    const make = async (o: { maxQueued?: number; queuedExpiryMs?: number; registry?: Registry } = {}) => {
      if (!store) {
        if (kind === 'postgres') {
          const schema = await createPgSchema()
          store = openStore({ dataDir: tmpdir(), databaseUrl: pgUrlForSchema(schema) })
          cleanup = () => dropPgSchema(schema)
        } else {
          const dir = mkdtempSync(join(tmpdir(), 'herald-limits-'))
          store = openStore({ dataDir: dir })
          cleanup = async () => rmSync(dir, { recursive: true, force: true })
        }
        await migrate(store.db, 'core', coreMigrations)
      }
      const p = new StorePersistence({ db: store.db, kind: store.kind, maxQueued: o.maxQueued ?? 0, queuedExpiryMs: o.queuedExpiryMs ?? 0, registry: o.registry, now: () => clock, sweepMs: 0 })
      await p.setup(brokerStub())
      return p
    }
    after(async () => {
      await store?.close()
      await cleanup()
    })

    test('HERALD_MQTT_MAX_QUEUED: the oldest queued messages go first and are counted', async () => {
      const registry = new Registry()
      const p = await make({ maxQueued: 3, registry })
      for (let i = 1; i <= 5; i++) await p.outgoingEnqueueCombi([{ clientId: 'limited' }, { clientId: 'other' }], publish('t', `m${i}`, i))
      const q = await drain(p.outgoingStream({ id: 'limited' }))
      assert.deepEqual(q.map((x) => x.payload!.toString()), ['m3', 'm4', 'm5'])
      assert.equal(await dropped(registry, 'limit'), 4, 'two per client')
      await p.destroy()
    })

    test('a PUBREL awaiting PUBCOMP is neither counted nor dropped for the limit', async () => {
      const p = await make({ maxQueued: 2 })
      await p.outgoingEnqueue({ clientId: 'rel' }, publish('t', 'q2', 1, { qos: 2 }))
      await p.outgoingUpdate({ id: 'rel' }, { ...publish('t', 'q2', 1, { qos: 2 }), messageId: 9 })
      await p.outgoingUpdate({ id: 'rel' }, { cmd: 'pubrel', messageId: 9 })
      for (let i = 2; i <= 4; i++) await p.outgoingEnqueue({ clientId: 'rel' }, publish('t', `m${i}`, i))
      const q = await drain(p.outgoingStream({ id: 'rel' }))
      assert.deepEqual(q.map((x) => x.cmd === 'pubrel' ? `pubrel ${x.messageId}` : x.payload!.toString()), ['pubrel 9', 'm3', 'm4'])
      await p.destroy()
    })

    test('HERALD_MQTT_QUEUED_EXPIRY_MS and an MQTT 5 message expiry drop what was not sent in time; in-flight packets stay', async () => {
      const registry = new Registry()
      const p = await make({ queuedExpiryMs: 1000, registry })
      await p.outgoingEnqueue({ clientId: 'exp' }, publish('t', 'old', 1))
      await p.outgoingEnqueue({ clientId: 'exp' }, publish('t', 'inflight', 2))
      await p.outgoingUpdate({ id: 'exp' }, { ...publish('t', 'inflight', 2), messageId: 5 })
      await p.outgoingEnqueue({ clientId: 'exp' }, publish('t', 'mqtt5-long', 3, { messageExpiry: clock + 10_000 }))
      await p.outgoingEnqueue({ clientId: 'exp' }, publish('t', 'mqtt5-short', 4, { messageExpiry: clock + 10 }))
      clock += 1500
      await p.outgoingEnqueue({ clientId: 'exp' }, publish('t', 'fresh', 5))
      const q = await drain(p.outgoingStream({ id: 'exp' }))
      assert.deepEqual(q.map((x) => x.payload!.toString()), ['inflight', 'mqtt5-long', 'fresh'])
      assert.equal(await dropped(registry, 'expired'), 2)
      await p.destroy()
    })

    test('the sweep drops expired queued messages of sessions that never come back', async () => {
      const registry = new Registry()
      const p = await make({ queuedExpiryMs: 1000, registry })
      // what earlier tests left expired goes first
      clock += 60_000
      await p.sweepExpired()
      const before = await dropped(registry, 'expired')
      for (let i = 0; i < 3; i++) await p.outgoingEnqueue({ clientId: `gone-${i}` }, publish('t', 'old', 100 + i))
      clock += 500
      await p.outgoingEnqueue({ clientId: 'gone-0' }, publish('t', 'young', 110))
      clock += 600
      assert.equal(await p.sweepExpired(), 3)
      assert.equal(await dropped(registry, 'expired') - before, 3)
      assert.deepEqual((await drain(p.outgoingStream({ id: 'gone-0' }))).map((x) => x.payload!.toString()), ['young'])
      assert.deepEqual(await drain(p.outgoingStream({ id: 'gone-1' })), [])
      await p.destroy()
    })

    test('a second instance on the same tables (a restart) has the subscriptions, queues, incoming packets and wills', async () => {
      const a = await make()
      await a.addSubscriptions({ id: 'r1' }, [{ topic: 'room/+', qos: 1 }, { topic: 'zero', qos: 0 }])
      await a.outgoingEnqueue({ clientId: 'r1' }, publish('room/1', 'queued', 77))
      await a.incomingStorePacket({ id: 'r1' }, { ...publish('in', 'q2', 0, { qos: 2 }), messageId: 3 })
      await a.putWill({ id: 'r1' }, { cmd: 'publish', topic: 'will/r1', payload: Buffer.from('gone'), qos: 1, retain: false })
      await a.destroy()

      const b = await make()
      assert.deepEqual((await b.subscriptionsByTopic('room/1')).map((s) => [s.clientId, s.topic, s.qos]), [['r1', 'room/+', 1]])
      assert.deepEqual(await b.subscriptionsByTopic('zero'), [], 'QoS 0 subscriptions are restored, not matched')
      assert.deepEqual((await b.subscriptionsByClient({ id: 'r1' })).map((s) => s.topic), ['room/+', 'zero'])
      assert.deepEqual((await drain(b.outgoingStream({ id: 'r1' }))).map((x) => x.payload!.toString()), ['queued'])
      assert.equal((await b.incomingGetPacket({ id: 'r1' }, { cmd: 'publish', messageId: 3 })).payload!.toString(), 'q2')
      const wills = await drain(b.streamWill({ 'a-live-broker': Date.now() }))
      assert.deepEqual(wills.map((w) => [w.clientId, w.topic]), [['r1', 'will/r1']])
      await b.destroy()
    })

    test('retained lookups by filter: parent level of #, + levels, $ topics only by explicit filters, other scripts', async () => {
      const p = await make()
      const topics = ['a', 'a/b', 'a/b/c', 'ab', 'a/ü/c', 'a/😀', '$SYS/x', 'b/a']
      for (const t of topics) await p.storeRetained({ cmd: 'publish', topic: t, payload: Buffer.from(t), qos: 0, retain: true })
      const look = async (...f: string[]) => (await drain(p.createRetainedStreamCombi(f))).map((x) => x.topic).sort()
      assert.deepEqual(await look('a/#'), ['a', 'a/b', 'a/b/c', 'a/ü/c', 'a/😀'].sort())
      assert.deepEqual(await look('a/+'), ['a/b', 'a/😀'].sort())
      assert.deepEqual(await look('a/+/c'), ['a/b/c', 'a/ü/c'].sort())
      assert.deepEqual(await look('#'), topics.filter((t) => !t.startsWith('$')).sort())
      assert.deepEqual(await look('+/a'), ['b/a'])
      assert.deepEqual(await look('$SYS/#'), ['$SYS/x'])
      assert.deepEqual(await look('ab', 'a'), ['a', 'ab'])
      await p.storeRetained({ cmd: 'publish', topic: 'a', payload: Buffer.alloc(0), qos: 0, retain: true })
      assert.deepEqual(await look('a'), [], 'an empty retained message removes it')
      await p.destroy()
    })
  })
}

describe('the queue limit through Herald', () => {
  test('an offline persistent session keeps the newest HERALD_MQTT_MAX_QUEUED messages; /metrics counts the rest', async () => {
    const h = await startTestHerald({ overrides: { 'mqtt.maxQueued': 5 } })
    try {
      await h.users.add('lim', 'pw', true)
      const sub = await connect(h.mqttUrl, { clientId: 'lim-sub', clean: false, username: 'lim', password: 'pw' })
      await sub.subscribeAsync('lim/t', { qos: 1 })
      await sub.endAsync()
      const pub = await connect(h.mqttUrl, { username: 'lim', password: 'pw' })
      for (let i = 1; i <= 12; i++) await pub.publishAsync('lim/t', `m${i}`, { qos: 1 })
      await pub.endAsync()
      const back = await connectCollecting(h.mqttUrl, { clientId: 'lim-sub', clean: false, username: 'lim', password: 'pw' }, 5)
      assert.deepEqual((await back.messages).map((m) => m.payload.toString()), ['m8', 'm9', 'm10', 'm11', 'm12'])
      await back.client.endAsync()
      const metrics = await (await fetch(`${h.metricsUrl}/metrics`)).text()
      assert.match(metrics, /herald_mqtt_queue_dropped_total\{reason="limit"\} 7/)
    } finally {
      await h.close()
    }
  })
})
