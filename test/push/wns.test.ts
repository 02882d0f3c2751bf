// The WNS provider (uwpx-push §4, §12.1 item 6, §12.2; issue 14 item 3) against a local fake WNS and token endpoint,
// with the token cached in the store on SQLite and on PostgreSQL.
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { coreSettings, describeConfig, loadConfig } from '../../src/config.ts'
import type { Clock } from '../../src/core/clock.ts'
import { PushTokenStore } from '../../src/core/push/store.ts'
import { V1_FALLBACK_TEXT, WNS_MAX_RAW_BYTES } from '../../src/core/push/wns-body.ts'
import { isWnsChannelUri, WNS_TOKEN_URL, wnsFromConfig, WnsProvider, type WnsOptions } from '../../src/core/push/wns.ts'
import { migrate, openStore, type Store } from '../../src/core/store/db.ts'
import { coreMigrations } from '../../src/core/store/users.ts'
import { createPgSchema, dropPgSchema, pgAvailable, pgUrlForSchema, requireService } from '../helpers.ts'
import { FakeWns } from './fake-wns.ts'

const SID = 'ms-app://s-1-15-2-1234567890-1234567890-1234567890-1234567890-1234567890-1234567890-1234567890'
const SECRET = 'Sec/ret+value='
const uri = (channel: string) => `https://db5p.notify.windows.com/?token=${channel}`

/** wall time as a number that tests move; sleeps are recorded and pass at once (advancing the time) */
class TestClock implements Clock {
  t = 1_700_000_000_000
  sleeps: number[] = []
  now(): number { return this.t }
  sleep(ms: number): Promise<void> { this.sleeps.push(ms); this.t += ms; return Promise.resolve() }
}

interface Db { store: Store; close(): Promise<void> }

async function sqliteDb(): Promise<Db> {
  const dataDir = mkdtempSync(join(tmpdir(), 'herald-wns-'))
  const store = openStore({ dataDir, databaseUrl: '' })
  await migrate(store.db, 'core', coreMigrations)
  return { store, async close() { await store.close(); rmSync(dataDir, { recursive: true, force: true }) } }
}

async function pgDb(): Promise<Db> {
  const schema = await createPgSchema()
  const store = openStore({ dataDir: tmpdir(), databaseUrl: pgUrlForSchema(schema) })
  await migrate(store.db, 'core', coreMigrations)
  return { store, async close() { await store.close(); await dropPgSchema(schema) } }
}

for (const [kind, open] of [['SQLite', sqliteDb], ['PostgreSQL', pgDb]] as const) {
  describe(`WNS provider, token store on ${kind}`, async () => {
    const pg = kind === 'PostgreSQL' ? requireService(await pgAvailable(), 'PostgreSQL') : { skip: false as const }
    let fake: FakeWns
    let db: Db
    let clock: TestClock
    const providers: WnsProvider[] = []
    const provider = (o: Partial<WnsOptions> = {}) => {
      const p = new WnsProvider({ clientId: SID, clientSecret: SECRET, connectTo: fake.connectTo, ca: fake.ca, db: db.store.db, clock, random: () => 0.5, timeoutMs: 3000, ...o })
      providers.push(p)
      return p
    }
    const fresh = async () => {
      await Promise.all(providers.splice(0).map((p) => p.close()))
      await fake?.close()
      await db?.close()
      fake = await new FakeWns().start()
      db = await open()
      clock = new TestClock()
    }
    before(async () => { if (!pg.skip) await fresh() })
    after(async () => {
      if (pg.skip) return
      await Promise.all(providers.map((p) => p.close()))
      await fake.close()
      await db.close()
    })
    const t = (name: string, fn: () => Promise<void>) => test(name, { skip: pg.skip }, async () => { await fresh(); await fn() })

    t('§4.1: N concurrent sends fetch the token once; the form is client credentials for notify.windows.com', async () => {
      const p = provider()
      const outcomes = await Promise.all(Array.from({ length: 20 }, (_, i) => p.send({ channelUri: uri(`c${i}`), version: '2' }, { type: 'test' })))
      assert.deepEqual(outcomes.map((o) => o.kind), Array(20).fill('delivered'))
      const tokens = fake.tokenRequests()
      assert.equal(tokens.length, 1)
      assert.equal(tokens[0]!.host, 'login.live.com', 'the default token URL, sent to the connect-to address')
      assert.equal(tokens[0]!.method, 'POST')
      assert.equal(tokens[0]!.headers['content-type'], 'application/x-www-form-urlencoded')
      assert.deepEqual(Object.fromEntries(new URLSearchParams(tokens[0]!.body.toString())), {
        grant_type: 'client_credentials', scope: 'notify.windows.com', client_id: SID, client_secret: SECRET,
      })
      assert.ok(fake.notifications().every((r) => r.headers.authorization === 'bearer tok-1'))
    })

    t('§4.1 persistence: the token survives a provider restart on the same store', async () => {
      const p1 = provider()
      assert.equal((await p1.send({ channelUri: uri('a'), version: '2' }, { type: 'test' })).kind, 'delivered')
      await p1.close()
      const stored = await new PushTokenStore(db.store.db).get(`wns:${SID}`)
      assert.equal(stored?.accessToken, 'tok-1')
      assert.equal(stored?.expiresAt, clock.now() + 86_400_000)
      clock.t += 3_600_000
      const p2 = provider()
      assert.equal((await p2.send({ channelUri: uri('b'), version: '2' }, { type: 'test' })).kind, 'delivered')
      assert.equal(fake.tokenRequests().length, 1)
      assert.equal(fake.notifications()[1]!.headers.authorization, 'bearer tok-1')
      // another client id does not take this token
      const p3 = provider({ clientId: SID + 'x' })
      await p3.send({ channelUri: uri('c'), version: '2' }, { type: 'test' })
      assert.equal(fake.notifications()[2]!.headers.authorization, 'bearer tok-2')
    })

    t('refreshed before expiry (margin), by one request for concurrent senders, and stored', async () => {
      fake.expiresIn = 3600
      const p = provider({ tokenMarginS: 600 })
      await p.send({ channelUri: uri('a'), version: '2' }, { type: 'test' })
      clock.t += 2_999_000
      await p.send({ channelUri: uri('a'), version: '2' }, { type: 'test' })
      assert.equal(fake.tokenRequests().length, 1, 'still fresh 601 s before expiry')
      clock.t += 2_000
      const outcomes = await Promise.all(Array.from({ length: 5 }, () => p.send({ channelUri: uri('a'), version: '2' }, { type: 'test' })))
      assert.deepEqual(outcomes.map((o) => o.kind), Array(5).fill('delivered'))
      assert.equal(fake.tokenRequests().length, 2, 'one refresh 599 s before expiry')
      assert.deepEqual(fake.notifications().slice(2).map((r) => r.headers.authorization), Array(5).fill('bearer tok-2'))
      assert.equal((await new PushTokenStore(db.store.db).get(`wns:${SID}`))?.accessToken, 'tok-2')
    })

    t('a short-lived token is refreshed at half its lifetime, not before its first use', async () => {
      fake.expiresIn = 60
      const p = provider({ tokenMarginS: 600 })
      await p.send({ channelUri: uri('a'), version: '2' }, { type: 'test' })
      clock.t += 29_000
      await p.send({ channelUri: uri('a'), version: '2' }, { type: 'test' })
      assert.equal(fake.tokenRequests().length, 1)
      clock.t += 2_000
      await p.send({ channelUri: uri('a'), version: '2' }, { type: 'test' })
      assert.equal(fake.tokenRequests().length, 2)
    })

    t('§4.3/§12.2: a 401 fetches a new token and the retry carries the new one', async () => {
      const p = provider()
      await p.send({ channelUri: uri('a'), version: '2' }, { type: 'test' })
      fake.revoke('tok-1')
      const outcomes = await Promise.all(Array.from({ length: 4 }, () => p.send({ channelUri: uri('a'), version: '2' }, { type: 'test' })))
      assert.deepEqual(outcomes.map((o) => o.kind), Array(4).fill('delivered'))
      assert.equal(fake.tokenRequests().length, 2, 'concurrent 401s share one refresh')
      const auth = fake.notifications().slice(1).map((r) => r.headers.authorization)
      assert.deepEqual(auth, [...Array(4).fill('bearer tok-1'), ...Array(4).fill('bearer tok-2')])
      assert.deepEqual(clock.sleeps, [], 'no back-off for a 401')
    })

    t('a 401 on a freshly fetched token too: handed back to the queue after one refresh', async () => {
      const p = provider()
      fake.script('a', [401, 401, 401])
      const o = await p.send({ channelUri: uri('a'), version: '2' }, { type: 'test' })
      assert.equal(o.kind, 'retry-after')
      assert.equal(fake.notifications().length, 2)
      assert.equal(fake.tokenRequests().length, 2)
    })

    t('cluster: after a 401 a node takes the new token another node stored, without fetching', async () => {
      const p1 = provider()
      const p2 = provider()
      await p1.send({ channelUri: uri('a'), version: '2' }, { type: 'test' })
      await p2.send({ channelUri: uri('a'), version: '2' }, { type: 'test' })
      assert.equal(fake.tokenRequests().length, 1)
      fake.revoke('tok-1')
      assert.equal((await p1.send({ channelUri: uri('a'), version: '2' }, { type: 'test' })).kind, 'delivered')
      assert.equal((await p2.send({ channelUri: uri('a'), version: '2' }, { type: 'test' })).kind, 'delivered')
      assert.equal(fake.tokenRequests().length, 2)
      assert.deepEqual(fake.notifications().map((r) => r.headers.authorization), ['bearer tok-1', 'bearer tok-1', 'bearer tok-1', 'bearer tok-2', 'bearer tok-1', 'bearer tok-2'])
    })

    t('a failed refresh before expiry keeps the still-valid token, and tries again after a hold-off', async () => {
      fake.expiresIn = 3600
      const p = provider({ tokenMarginS: 600 })
      await p.send({ channelUri: uri('a'), version: '2' }, { type: 'test' })
      clock.t += 3_100_000
      fake.tokenSteps.push({ status: 503, body: '' })
      assert.equal((await p.send({ channelUri: uri('a'), version: '2' }, { type: 'test' })).kind, 'delivered')
      assert.equal((await p.send({ channelUri: uri('a'), version: '2' }, { type: 'test' })).kind, 'delivered')
      assert.equal(fake.tokenRequests().length, 2, 'one failed refresh, then the hold-off')
      clock.t += 11_000
      await p.send({ channelUri: uri('a'), version: '2' }, { type: 'test' })
      assert.equal(fake.tokenRequests().length, 3)
      assert.deepEqual(fake.notifications().map((r) => r.headers.authorization), ['bearer tok-1', 'bearer tok-1', 'bearer tok-1', 'bearer tok-3'])
      // past expiry with the endpoint down: no token, back to the queue
      clock.t += 3_600_000
      fake.tokenSteps.push({ status: 500, body: '' })
      assert.equal((await p.send({ channelUri: uri('a'), version: '2' }, { type: 'test' })).kind, 'retry-after')
    })

    t('5xx: retried with exponential back-off and jitter, then delivered', async () => {
      const p = provider({ retryBaseMs: 500, random: () => 0.5 })
      fake.script('a', [503, 500])
      const o = await p.send({ channelUri: uri('a'), version: '2' }, { type: 'test' })
      assert.deepEqual(o, { kind: 'delivered', status: 200 })
      assert.equal(fake.notifications().length, 3)
      assert.deepEqual(clock.sleeps, [375, 750])
      // jitter stays within [d/2, d]
      const q = provider({ retryBaseMs: 500, random: () => 0 })
      const r = provider({ retryBaseMs: 500, random: () => 0.999999 })
      assert.deepEqual([q.backoff(1), q.backoff(3), r.backoff(1), r.backoff(3), r.backoff(30)], [250, 1000, 500, 2000, 30_000])
    })

    t('5xx: gives up after the attempt limit with retry-after', async () => {
      const p = provider({ attempts: 3 })
      fake.script('a', [503, 503, 503, 503])
      const o = await p.send({ channelUri: uri('a'), version: '2' }, { type: 'test' })
      assert.equal(o.kind, 'retry-after')
      assert.equal(o.kind === 'retry-after' && o.status, 503)
      assert.equal(fake.notifications().length, 3)
      assert.equal(clock.sleeps.length, 2)
    })

    t('503 with Retry-After: waits that long, or hands a long one back to the queue', async () => {
      const p = provider()
      fake.script('a', [{ status: 503, headers: { 'retry-after': '2' } }])
      assert.equal((await p.send({ channelUri: uri('a'), version: '2' }, { type: 'test' })).kind, 'delivered')
      assert.deepEqual(clock.sleeps, [2000])
      fake.script('b', [{ status: 503, headers: { 'retry-after': '120' } }])
      const o = await p.send({ channelUri: uri('b'), version: '2' }, { type: 'test' })
      assert.deepEqual(o, { kind: 'retry-after', afterMs: 120_000, reason: 'WNS answered 503', status: 503 })
      assert.equal(fake.notifications().length, 3)
    })

    t('transport errors and timeouts are retried (bounded)', async () => {
      const p = provider({ timeoutMs: 800 })
      fake.script('a', ['destroy'])
      assert.equal((await p.send({ channelUri: uri('a'), version: '2' }, { type: 'test' })).kind, 'delivered')
      assert.equal(fake.notifications().length, 2)
      fake.script('b', ['hang', 'hang', 'hang'])
      const started = Date.now()
      const o = await p.send({ channelUri: uri('b'), version: '2' }, { type: 'test' })
      assert.equal(o.kind, 'retry-after')
      assert.match(o.kind === 'retry-after' ? o.reason : '', /gave up after 3 attempts: transport/)
      assert.ok(Date.now() - started < 6000, 'each attempt ends at its time limit')
      assert.equal(fake.notifications().length, 5)
    })

    t('§12.2: 404 and 410 drop the channel; other 4xx fail for good; 406 is throttling', async () => {
      const p = provider()
      for (const [channel, status, kind] of [['g', 410, 'drop-channel'], ['n', 404, 'drop-channel'], ['b', 400, 'failed'], ['f', 403, 'failed'], ['l', 413, 'failed'], ['t', 406, 'retry-after']] as const) {
        fake.script(channel, [{ status, headers: { 'x-wns-error-description': 'scripted' } }])
        const o = await p.send({ channelUri: uri(channel), version: '2' }, { type: 'test' })
        assert.equal(o.kind, kind, `${status}`)
        assert.equal('status' in o && o.status, status)
      }
      assert.equal(fake.notifications().length, 6, 'none of them retried')
    })

    t('§4.2: the v2 push and test bodies, byte for byte, with the WNS headers', async () => {
      const p = provider()
      const accountId = 'e5397e96c6ff4d629ab9f203eec3ff17c777b2127cf1b41005e54877487ba982'
      await p.send({ channelUri: 'https://wns2-db5p.notify.windows.com/?token=AwYAAAD%2bAbC_12%3d', version: '2' }, { type: 'push', accountId, messageCount: 3, pendingSubscriptionCount: 0 })
      await p.send({ channelUri: uri('a'), version: 2 }, { type: 'test' })
      await p.send({ channelUri: uri('a'), version: '2' }, { type: 'push', accountId: 'ü"\\x', messageCount: -1, pendingSubscriptionCount: 1.5 })
      const [push, testPush, odd] = fake.notifications()
      assert.equal(push!.body.toString(), `{"account_id":"${accountId}","action":"push","message_count":3,"pending_subscription_count":0,"version":2}`)
      assert.equal(push!.host, 'wns2-db5p.notify.windows.com')
      assert.equal(push!.path, '/?token=AwYAAAD%2bAbC_12%3d', 'the channel URI is sent as given')
      assert.equal(push!.method, 'POST')
      assert.equal(push!.headers['x-wns-type'], 'wns/raw')
      assert.equal(push!.headers['x-wns-requestforstatus'], 'true')
      assert.equal(push!.headers['content-type'], 'application/octet-stream')
      assert.equal(push!.headers.authorization, 'bearer tok-1')
      assert.equal(push!.headers['content-length'], String(push!.body.length))
      assert.equal(testPush!.body.toString(), '{"action":"test_push","version":2}')
      assert.equal(odd!.body.toString(), '{"account_id":"ü\\"\\\\x","action":"push","message_count":0,"pending_subscription_count":0,"version":2}')
    })

    t('§4.2: v1 bodies: the notification element plus <account id>, <test/>, and the 4096-byte fallback', async () => {
      const p = provider()
      const v1 = { channelUri: uri('v1'), version: '1' }
      const el = '<notification xmlns="urn:xmpp:push:0"><x xmlns="jabber:x:data" type="submit"><field var="FORM_TYPE"><value>urn:xmpp:push:summary</value></field><field var="message-count"><value>1</value></field></x></notification>'
      await p.send(v1, { type: 'push', accountId: 'acc"1', messageCount: 1, pendingSubscriptionCount: 0, notificationXml: el })
      await p.send(v1, { type: 'push', accountId: 'acc2', messageCount: 0, pendingSubscriptionCount: 0, notificationXml: "<notification xmlns='urn:xmpp:push:0'/>" })
      await p.send(v1, { type: 'push', accountId: 'acc3', messageCount: 2, pendingSubscriptionCount: 1 })
      await p.send(v1, { type: 'test' })
      const account = '<account id="accX"/>'
      const pad = (len: number) => { const head = '<notification xmlns="urn:xmpp:push:0"><p>'; const tail = '</p></notification>'; return head + 'a'.repeat(len - head.length - tail.length - account.length) + tail }
      await p.send(v1, { type: 'push', accountId: 'accX', messageCount: 1, pendingSubscriptionCount: 0, notificationXml: pad(4096) })
      await p.send(v1, { type: 'push', accountId: 'accX', messageCount: 1, pendingSubscriptionCount: 0, notificationXml: pad(4097) })
      const bodies = fake.notifications().map((r) => r.body.toString())
      assert.equal(bodies[0], el.replace('</notification>', '<account id="acc&quot;1"/></notification>'))
      assert.equal(bodies[1], "<notification xmlns='urn:xmpp:push:0'><account id=\"acc2\"/></notification>")
      assert.equal(bodies[2], '<notification xmlns="urn:xmpp:push:0"><x xmlns="jabber:x:data" type="submit"><field var="FORM_TYPE"><value>urn:xmpp:push:summary</value></field><field var="message-count"><value>2</value></field><field var="pending-subscription-count"><value>1</value></field></x><account id="acc3"/></notification>')
      assert.equal(bodies[3], '<test/>')
      assert.equal(Buffer.byteLength(bodies[4]!), 4096)
      assert.equal(bodies[4], pad(4096).replace('</notification>', account + '</notification>'), 'exactly 4096 bytes: sent')
      assert.equal(bodies[5], V1_FALLBACK_TEXT)
      assert.ok(fake.notifications().every((r) => r.headers['x-wns-type'] === 'wns/raw' && r.headers['content-type'] === 'application/octet-stream'))
    })

    t('raw payloads: 5 KB is sent as is, one byte more is refused before any request', async () => {
      const p = provider()
      const max = Buffer.alloc(WNS_MAX_RAW_BYTES, 0x61)
      assert.equal((await p.send({ channelUri: uri('r'), version: '2' }, { type: 'raw', payload: max })).kind, 'delivered')
      assert.deepEqual(fake.notifications()[0]!.body, max)
      const o = await p.send({ channelUri: uri('r'), version: '2' }, { type: 'raw', payload: Buffer.alloc(WNS_MAX_RAW_BYTES + 1) })
      assert.equal(o.kind, 'failed')
      const big = await p.send({ channelUri: uri('r'), version: '2' }, { type: 'push', accountId: 'x'.repeat(6000), messageCount: 1, pendingSubscriptionCount: 0 })
      assert.equal(big.kind, 'failed')
      assert.equal(fake.notifications().length, 1)
    })

    t('the bearer token goes only to *.notify.windows.com over https', async () => {
      const p = provider()
      for (const bad of ['http://db5p.notify.windows.com/?token=x', 'https://a.b.notify.windows.com/?token=x', 'https://evil.example/?token=x', 'https://db5p.notify.windows.com:8443/?token=x', 'https://u:p@db5p.notify.windows.com/?token=x', 'ms-app://s-1-15-2-1']) {
        assert.equal(isWnsChannelUri(bad), false, bad)
        assert.equal((await p.send({ channelUri: bad, version: '2' }, { type: 'test' })).kind, 'failed')
      }
      assert.equal(fake.requests.length, 0)
    })

    t('token endpoint faults hand the push back to the queue; the secret is never in the reason', async () => {
      const p = provider({ tokenUrl: 'https://login.example.test/accesstoken.srf' })
      fake.tokenSteps.push({ status: 400, body: '{"error":"invalid_client"}' }, { status: 200, body: '{"token_type":"bearer","access_token":"z"}' })
      const o1 = await p.send({ channelUri: uri('a'), version: '2' }, { type: 'test' })
      const o2 = await p.send({ channelUri: uri('a'), version: '2' }, { type: 'test' })
      assert.equal(o1.kind, 'retry-after')
      assert.match(o1.kind === 'retry-after' ? o1.reason : '', /400 \(invalid_client\)/)
      assert.equal(o2.kind, 'retry-after')
      assert.match(o2.kind === 'retry-after' ? o2.reason : '', /lacks token_type, access_token or expires_in/)
      assert.ok(![o1, o2].some((o) => JSON.stringify(o).includes(SECRET)))
      assert.equal(fake.tokenRequests()[0]!.host, 'login.example.test', 'the configured token URL')
      assert.equal(fake.notifications().length, 0)
      assert.equal((await p.send({ channelUri: uri('a'), version: '2' }, { type: 'test' })).kind, 'delivered')
    })
  })
}

test('settings: HERALD_PUSH_WNS_* in coreSettings, the real token URL by default, the secret masked', async () => {
  const cfg = loadConfig({ settings: coreSettings, env: { HERALD_PUSH_WNS_CLIENT_ID: SID, HERALD_PUSH_WNS_CLIENT_SECRET: SECRET, HERALD_PUSH_WNS_CONNECT_TO: '127.0.0.1:1' } })
  assert.equal(cfg['push.wns.tokenUrl'], WNS_TOKEN_URL)
  assert.equal(WNS_TOKEN_URL, 'https://login.live.com/accesstoken.srf')
  assert.equal(describeConfig(cfg)['push.wns.clientSecret'], '****')
  const { store, close } = await sqliteDb()
  try {
    const p = wnsFromConfig(cfg, store.db)
    assert.ok(p instanceof WnsProvider)
    await p.close()
    assert.equal(wnsFromConfig(loadConfig({ settings: coreSettings, env: {} }), store.db), undefined)
    assert.throws(() => wnsFromConfig(loadConfig({ settings: coreSettings, env: { HERALD_PUSH_WNS_CLIENT_ID: SID } }), store.db), /CLIENT_SECRET/)
  } finally { await close() }
})
