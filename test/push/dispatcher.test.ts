// The push dispatcher's contract (issue 14 item 4), run on SQLite and on PostgreSQL: WNS through the queue against
// the local fake WNS with scripted statuses (200; 401 then 200; 503 ×3 then 200; 410 prunes), per-endpoint order
// and per-provider concurrency, expiry, durability across a dispatcher restart on the same database, refusals,
// the caller's transaction, and the Prometheus figures.
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { Registry } from 'prom-client'
import { coreSettings, loadConfig } from '../../src/config.ts'
import { pushFromConfig } from '../../src/core/push/create.ts'
import { PushDispatcher, type Deliverer, type Settled } from '../../src/core/push/dispatcher.ts'
import type { PushRow } from '../../src/core/push/queue-store.ts'
import { PushTargetError, type PushTarget } from '../../src/core/push/service.ts'
import type { PushOutcome } from '../../src/core/push/types.ts'
import { migrate, openStore, type Store } from '../../src/core/store/db.ts'
import { coreMigrations } from '../../src/core/store/users.ts'
import { createPgSchema, dropPgSchema, eventually, freePort, pgAvailable, pgUrlForSchema, requireService } from '../helpers.ts'
import { caFile } from './fake-endpoints.ts'
import { FakeWns } from './fake-wns.ts'

const SID = 'ms-app://s-1-15-2-1234567890-1234567890-1234567890-1234567890-1234567890-1234567890-1234567890'
const uri = (channel: string) => `https://db5p.notify.windows.com/?token=${channel}`
const wns = (channel: string): PushTarget => ({ provider: 'wns', channelUri: uri(channel) })
const raw = (payload: string) => ({ payload, wnsType: 'wns/raw' as const })

interface Db { store: Store; close(): Promise<void> }

async function sqliteDb(dir: string): Promise<Db> {
  const store = openStore({ dataDir: dir, databaseUrl: '' })
  await migrate(store.db, 'core', coreMigrations)
  return { store, close: () => store.close() }
}

async function pgDb(): Promise<Db & { url: string }> {
  const schema = await createPgSchema()
  const url = pgUrlForSchema(schema)
  const store = openStore({ dataDir: tmpdir(), databaseUrl: url })
  await migrate(store.db, 'core', coreMigrations)
  return { store, url, async close() { await store.close(); await dropPgSchema(schema) } }
}

/** a loopback port nothing listens on: the endpoint is down */
const deadPort = async (): Promise<string> => `127.0.0.1:${await freePort()}`

/** the outcomes of the next `n` settled attempts */
function settled(d: PushDispatcher, n: number, ms = 10_000): Promise<{ row: PushRow; outcome: Settled; out?: PushOutcome }[]> {
  return new Promise((resolve, reject) => {
    const got: { row: PushRow; outcome: Settled; out?: PushOutcome }[] = []
    const timer = setTimeout(() => { d.off('settled', on); reject(new Error(`${got.length} of ${n} pushes settled: ${got.map((g) => g.outcome).join(',')}`)) }, ms)
    const on = (row: PushRow, outcome: Settled, out?: PushOutcome) => {
      got.push({ row, outcome, out })
      if (got.length === n) { clearTimeout(timer); d.off('settled', on); resolve(got) }
    }
    d.on('settled', on)
  })
}

async function metric(registry: Registry, name: string, labels: Record<string, string>): Promise<number> {
  const m = (await registry.getMetricsAsJSON()).find((x) => x.name === name)
  const v = m?.values.find((x) => Object.entries(labels).every(([k, val]) => (x.labels as Record<string, unknown>)[k] === val))
  return v ? Number(v.value) : 0
}

for (const kind of ['SQLite', 'PostgreSQL'] as const) {
  describe(`push dispatcher on ${kind}`, async () => {
    const pg = kind === 'PostgreSQL' ? requireService(await pgAvailable(), 'PostgreSQL') : { skip: false as const }
    let dir: string
    let fake: FakeWns
    let db: Db
    let ca: string
    const running: PushDispatcher[] = []

    before(async () => {
      if (pg.skip) return
      dir = mkdtempSync(join(tmpdir(), 'herald-dispatch-'))
      fake = await new FakeWns().start()
      fake.tokenDelayMs = 0
      ca = caFile(dir, [fake.ca])
    })
    after(async () => {
      if (pg.skip) return
      await Promise.all(running.map((d) => d.stop()))
      await fake.close()
      await db?.close()
      rmSync(dir, { recursive: true, force: true })
    })

    const openDb = async () => {
      await db?.close()
      db = kind === 'SQLite' ? await sqliteDb(mkdtempSync(join(dir, 'db-'))) : await pgDb()
    }
    /** a started dispatcher as Herald builds it from the settings */
    const dispatcher = async (o: Record<string, unknown> = {}, registry = new Registry()) => {
      const cfg = loadConfig({
        settings: coreSettings, env: {},
        overrides: {
          dataDir: dir, 'push.wns.clientId': SID, 'push.wns.clientSecret': 'secret', 'push.wns.connectTo': fake.connectTo, 'push.wns.attempts': 1,
          'push.caFile': ca, 'push.retryBaseMs': 20, 'push.retryMaxMs': 100, 'push.pollMs': 50, 'push.timeoutMs': 3000, 'push.wns.timeoutMs': 3000, ...o,
        },
      })
      const d = await pushFromConfig(cfg, db.store, { registry })
      running.push(d)
      d.start()
      return Object.assign(d, { registry })
    }
    const t = (name: string, fn: () => Promise<void>) => test(name, { skip: pg.skip }, async () => {
      await Promise.all(running.splice(0).map((d) => d.stop()))
      await openDb()
      await fn()
    })

    t('200: the raw body reaches the channel once, with the §4.2 headers; delivered is counted', async () => {
      const d = await dispatcher()
      const done = settled(d, 1)
      await d.send(wns('ok1'), raw('{"action":"test_push","version":2}'), { dialect: 'push' })
      assert.equal((await done)[0].outcome, 'delivered')
      const [n] = fake.notifications().filter((r) => r.path.includes('ok1'))
      assert.equal(n.body.toString(), '{"action":"test_push","version":2}')
      assert.equal(n.host, 'db5p.notify.windows.com')
      assert.equal(n.headers['x-wns-type'], 'wns/raw')
      assert.equal(await metric(d.registry, 'herald_push_sent_total', { provider: 'wns', outcome: 'delivered' }), 1)
      assert.equal(await metric(d.registry, 'herald_push_accepted_total', { provider: 'wns', dialect: 'push' }), 1)
      assert.deepEqual(await d.store.list(), [])
    })

    t('401 then 200: the retry carries the newly fetched token', async () => {
      const d = await dispatcher()
      fake.script('r401', [401, 200])
      const done = settled(d, 1)
      await d.send(wns('r401'), raw('x'), { dialect: 'push' })
      assert.equal((await done)[0].outcome, 'delivered')
      const auths = fake.notifications().filter((r) => r.path.includes('r401')).map((r) => String(r.headers.authorization))
      assert.equal(auths.length, 2)
      assert.notEqual(auths[0], auths[1])
      assert.match(auths[1], /^bearer tok-\d+$/)
    })

    t('503 ×3 then 200: attempted again by the queue until delivered', async () => {
      const d = await dispatcher()
      fake.script('r503', [503, 503, 503, 200])
      const done = settled(d, 4)
      await d.send(wns('r503'), raw('y'), { dialect: 'push' })
      assert.deepEqual((await done).map((s) => s.outcome), ['retry', 'retry', 'retry', 'delivered'])
      assert.equal(fake.notifications().filter((r) => r.path.includes('r503')).length, 4)
      assert.equal(await metric(d.registry, 'herald_push_sent_total', { provider: 'wns', outcome: 'retry' }), 3)
    })

    t('410: the dialect\'s onEndpointGone gets the target, the endpoint\'s other queued pushes are dropped', async () => {
      const d = await dispatcher()
      const gone: PushTarget[] = []
      d.onEndpointGone('push', (target) => { gone.push(target) })
      d.onEndpointGone('other', () => { throw new Error('not this dialect') })
      fake.script('r410', [410])
      const done = settled(d, 1)
      // committed together: the first is the head, answered 410, while the next two wait behind it
      await db.store.db.transaction().execute(async (trx) => {
        for (const p of ['1', '2', '3']) await d.send(wns('r410'), raw(p), { dialect: 'push', trx })
      })
      const [s] = await done
      assert.equal(s.outcome, 'gone')
      assert.deepEqual(gone, [wns('r410')])
      assert.equal(fake.notifications().filter((r) => r.path.includes('r410')).length, 1)
      await eventually(async () => (await d.store.list()).length === 0 || undefined, 'queue empty')
      assert.equal(await metric(d.registry, 'herald_push_sent_total', { provider: 'wns', outcome: 'gone' }), 1)
      assert.equal(await metric(d.registry, 'herald_push_sent_total', { provider: 'wns', outcome: 'discarded' }), 2)
    })

    t('per-endpoint order: retries of one push hold back the next ones to its channel, not other channels', async () => {
      const d = await dispatcher()
      fake.script('ordA', [503, 503, 200, 503, 200])
      const done = settled(d, 8 + 2)
      for (let i = 1; i <= 5; i++) await d.send(wns('ordA'), raw(`a${i}`), { dialect: 'push' })
      for (let i = 1; i <= 2; i++) await d.send(wns('ordB'), raw(`b${i}`), { dialect: 'push' })
      await done
      const bodies = (c: string) => fake.notifications().filter((r) => r.path.includes(c) && r.headers.authorization).map((r) => r.body.toString())
      assert.deepEqual(bodies('ordA'), ['a1', 'a1', 'a1', 'a2', 'a2', 'a3', 'a4', 'a5'])
      assert.deepEqual(bodies('ordB'), ['b1', 'b2'])
    })

    t('HERALD_PUSH_MAX_AGE: a push whose endpoint stays down expires, counted as expired', async () => {
      const d = await dispatcher({ 'push.wns.connectTo': await deadPort(), 'push.maxAgeS': 1 })
      const outcomes: Settled[] = []
      d.on('settled', (_r: PushRow, o: Settled) => outcomes.push(o))
      await d.send(wns('exp'), raw('late'), { dialect: 'push' })
      await eventually(() => outcomes.includes('expired') || undefined, 'expired', 8000)
      assert.ok(outcomes.slice(0, -1).every((o) => o === 'retry') && outcomes.length >= 2, outcomes.join(','))
      assert.deepEqual(await d.store.list(), [])
      assert.equal(await metric(d.registry, 'herald_push_sent_total', { provider: 'wns', outcome: 'expired' }), 1)
    })

    t('durable: queued while WNS is down, delivered in order by a new dispatcher on the same database', async () => {
      const down = await dispatcher({ 'push.wns.connectTo': await deadPort() })
      const tried = settled(down, 1)
      await down.send(wns('dur'), raw('first'), { dialect: 'push' })
      await down.send(wns('dur'), raw('second'), { dialect: 'push' })
      assert.equal((await tried)[0].outcome, 'retry')
      assert.ok(await metric(down.registry, 'herald_push_queue_depth', { provider: 'wns' }) === 2)
      assert.ok(await metric(down.registry, 'herald_push_queue_oldest_age_seconds', { provider: 'wns' }) >= 0)
      await down.stop()
      const left = await down.store.list()
      assert.deepEqual(left.map((r) => JSON.parse(r.notification).payload), ['first', 'second'])
      assert.ok(left[0].attempts >= 1 && /ECONNREFUSED/.test(left[0].lastError ?? ''), String(left[0].lastError))

      const up = await dispatcher()
      const done = settled(up, 2)
      await done
      assert.deepEqual(fake.notifications().filter((r) => r.path.includes('dur')).map((r) => r.body.toString()), ['first', 'second'])
      assert.deepEqual(await up.store.list(), [])
    })

    t('send() refuses what no provider could take: PushTargetError, nothing queued', async () => {
      const d = await dispatcher()
      const refused = async (target: PushTarget, payload: string, re: RegExp) => {
        await assert.rejects(d.send(target, { payload }, { dialect: 'x' }), (e: Error) => e instanceof PushTargetError && re.test(e.message))
      }
      await refused({ provider: 'fcm', token: 'abc' }, 'p', /fcm is not configured/)
      await refused({ provider: 'apns', token: 'ab'.repeat(32) }, '{}', /apns is not configured/)
      await refused({ provider: 'wns', channelUri: 'https://evil.example/?token=x' }, 'p', /notify\.windows\.com/)
      await refused(wns('big'), 'x'.repeat(5121), /over 5120/)
      await refused({ provider: 'webpush', endpoint: 'http://push.example.test/x', p256dh: 'a', auth: 'b' }, 'p', /https/)
      await refused({ provider: 'bogus' } as unknown as PushTarget, 'p', /unknown push provider/)
      await assert.rejects(d.send(wns('nodialect'), raw('p'), { dialect: '' }), PushTargetError)
      assert.equal(d.enabled('wns'), true)
      assert.equal(d.enabled('fcm'), false)
      assert.deepEqual(await d.store.list(), [])
    })

    t('send() in the caller\'s transaction: nothing queued when it rolls back, delivered after its commit', async () => {
      const d = await dispatcher()
      await assert.rejects(db.store.db.transaction().execute(async (trx) => {
        await d.send(wns('trx'), raw('rolled back'), { dialect: 'push', trx })
        throw new Error('abort')
      }), /abort/)
      const done = settled(d, 1)
      await db.store.db.transaction().execute(async (trx) => { await d.send(wns('trx'), raw('committed'), { dialect: 'push', trx }) })
      await done
      assert.deepEqual(fake.notifications().filter((r) => r.path.includes('trx')).map((r) => r.body.toString()), ['committed'])
    })

    t('two nodes on one database: every push sent once, never two in flight to one endpoint, each endpoint in order', async () => {
      const inflight = new Map<string, number>()
      let overlap = 0
      const seen = new Map<string, string[]>()
      const node = (): Deliverer => ({
        name: 'wns',
        async send(target, n) {
          const key = (target as { channelUri: string }).channelUri
          inflight.set(key, (inflight.get(key) ?? 0) + 1)
          if (inflight.get(key)! > 1) overlap++
          await new Promise((r) => setTimeout(r, 2 + Math.floor(Math.random() * 6)))
          inflight.set(key, inflight.get(key)! - 1)
          seen.set(key, [...(seen.get(key) ?? []), n.payload])
          return { kind: 'delivered', status: 200 }
        },
        async close() {},
      })
      const nodes = ['node-a', 'node-b'].map((owner) => new PushDispatcher({ db: db.store.db, kind: db.store.kind, owner, providers: { wns: node() }, concurrency: { wns: 4 }, pollMs: 20 }))
      running.push(...nodes)
      let delivered = 0
      const all = new Promise<void>((resolve) => {
        for (const d of nodes) d.on('settled', (_r: PushRow, o: Settled) => { if (o === 'delivered' && ++delivered === 40) resolve() })
      })
      for (const d of nodes) d.start()
      for (let i = 0; i < 8; i++) for (let e = 0; e < 5; e++) await nodes[i % 2]!.send(wns(`two${e}`), raw(String(i)), { dialect: 'x' })
      await all
      assert.equal(overlap, 0)
      assert.equal(seen.size, 5)
      for (const [key, list] of seen) assert.deepEqual(list, ['0', '1', '2', '3', '4', '5', '6', '7'], key)
      assert.deepEqual(await nodes[0]!.store.list(), [])
    })

    t('concurrency: at most N pushes in flight per provider, one per endpoint, each endpoint in order', async () => {
      let inflight = 0
      let maxInflight = 0
      const perEndpoint = new Map<string, number>()
      let maxPerEndpoint = 0
      const seen = new Map<string, string[]>()
      const slow: Deliverer = {
        name: 'wns',
        async send(target, n) {
          const key = (target as { channelUri: string }).channelUri
          inflight++
          perEndpoint.set(key, (perEndpoint.get(key) ?? 0) + 1)
          maxInflight = Math.max(maxInflight, inflight)
          maxPerEndpoint = Math.max(maxPerEndpoint, perEndpoint.get(key)!)
          await new Promise((r) => setTimeout(r, 5 + Math.floor(Math.random() * 10)))
          inflight--
          perEndpoint.set(key, perEndpoint.get(key)! - 1)
          const list = seen.get(key) ?? []
          list.push(n.payload)
          seen.set(key, list)
          // every third attempt fails once: retries must not reorder
          return list.length % 3 === 0 && !n.payload.endsWith('!') ? { kind: 'retry-after', afterMs: 0, reason: 'scripted' } : { kind: 'delivered', status: 200 }
        },
        async close() {},
      }
      const d = new PushDispatcher({ db: db.store.db, kind: db.store.kind, providers: { wns: slow }, concurrency: { wns: 3 }, retryBaseMs: 5, retryMaxMs: 10, pollMs: 20 })
      running.push(d)
      const delivered = new Promise<void>((resolve) => {
        let n = 0
        d.on('settled', (_r: PushRow, o: Settled) => { if (o === 'delivered' && ++n === 24) resolve() })
      })
      for (let i = 0; i < 6; i++) for (let e = 0; e < 4; e++) await d.send(wns(`conc${e}`), raw(`${i}`), { dialect: 'x' })
      d.start()
      await delivered
      assert.ok(maxInflight <= 3, `max in flight ${maxInflight}`)
      assert.equal(maxInflight, 3)
      assert.equal(maxPerEndpoint, 1)
      assert.equal(seen.size, 4)
      for (const [key, list] of seen) {
        assert.ok(list.every((p, i) => i === 0 || Number(p) >= Number(list[i - 1])), `${key}: ${list.join(',')}`)
        assert.deepEqual([...new Set(list)], ['0', '1', '2', '3', '4', '5'], key)
      }
    })
  })
}
