// Web Push, UnifiedPush, FCM HTTP v1 and APNs through the dispatcher (issue 14 item 4) against local services that
// check what the real ones check: the RFC 8291 payload decrypted with the subscription's private key and the
// RFC 8292 VAPID JWT; FCM's RS256 service-account assertion and Bearer token; APNs' ES256 provider token over HTTP/2.
import assert from 'node:assert/strict'
import { createECDH } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { coreSettings, loadConfig } from '../../src/config.ts'
import { pushFromConfig } from '../../src/core/push/create.ts'
import type { PushDispatcher, Settled } from '../../src/core/push/dispatcher.ts'
import type { PushRow } from '../../src/core/push/queue-store.ts'
import { PushTargetError, type PushNotification, type PushTarget } from '../../src/core/push/service.ts'
import { generateVapidKeys } from '../../src/core/push/webpush.ts'
import { migrate, openStore, type Store } from '../../src/core/store/db.ts'
import { coreMigrations } from '../../src/core/store/users.ts'
import { eventually } from '../helpers.ts'
import { apnsError, APNS_HOST, caFile, FakeApns, FakeFcm, FakeWebPush, fcmError, FCM_HOST } from './fake-endpoints.ts'

let dir: string
let ca: string
let store: Store
const running: PushDispatcher[] = []

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'herald-providers-'))
  ca = caFile(dir)
})
after(() => rmSync(dir, { recursive: true, force: true }))

async function freshStore(): Promise<void> {
  await Promise.all(running.splice(0).map((d) => d.stop()))
  await store?.close()
  store = openStore({ dataDir: mkdtempSync(join(dir, 'db-')), databaseUrl: '' })
  await migrate(store.db, 'core', coreMigrations)
}

async function dispatcher(o: Record<string, unknown>): Promise<PushDispatcher> {
  const cfg = loadConfig({
    settings: coreSettings, env: {},
    overrides: { dataDir: dir, 'push.caFile': ca, 'push.retryBaseMs': 20, 'push.retryMaxMs': 100, 'push.pollMs': 50, 'push.timeoutMs': 3000, ...o },
  })
  const d = await pushFromConfig(cfg, store)
  running.push(d)
  d.start()
  return d
}

/** send each push and wait until every one has settled for good (not `retry`); their final outcomes in order */
async function deliver(d: PushDispatcher, pushes: [PushTarget, PushNotification][]): Promise<Settled[]> {
  const final = new Map<number, Settled>()
  const all: Settled[] = []
  const on = (row: PushRow, o: Settled) => { all.push(o); if (o !== 'retry') final.set(row.id, o) }
  d.on('settled', on)
  try {
    for (const [t, n] of pushes) await d.send(t, n, { dialect: 'test' })
    await eventually(async () => (final.size === pushes.length && (await d.store.list()).length === 0) || undefined, `${pushes.length} pushes settled (${all.join(',')})`, 10_000)
  } finally { d.off('settled', on) }
  return [...final.entries()].sort((a, b) => a[0] - b[0]).map(([, o]) => o)
}

describe('Web Push (RFC 8030/8291/8292) and UnifiedPush', () => {
  let fake: FakeWebPush
  before(async () => { fake = await new FakeWebPush().start() })
  after(async () => {
    await Promise.all(running.splice(0).map((d) => d.stop()))
    await store?.close()
    await fake.close()
  })
  const web = () => ({ 'push.webpush.connectTo': fake.connectTo })

  test('the payload decrypts with the subscription\'s private key; VAPID JWT signed by the advertised key, aud the origin', async () => {
    await freshStore()
    const d = await dispatcher(web())
    fake.vapidKey = d.vapidPublicKey()
    const sub = fake.subscribe('alice')
    const text = JSON.stringify({ title: 'Ann', body: 'héllo ✓' })
    assert.deepEqual(await deliver(d, [[{ provider: 'webpush', ...sub }, { payload: text, ttlS: 60, urgency: 'high', collapseKey: 'chat-1' }]]), ['delivered'])
    assert.deepEqual(fake.refused, [])
    const [r] = fake.received
    assert.equal(r.plaintext, text)
    assert.equal(r.headers.ttl, '60')
    assert.equal(r.headers.urgency, 'high')
    assert.equal(r.headers.topic, Buffer.from('chat-1').toString('base64url'))
    assert.equal(r.headers.host, 'push.example.test')
    assert.equal(r.claims?.aud, 'https://push.example.test')
    assert.equal(r.claims?.sub, 'mailto:postmaster@localhost')
  })

  test('the VAPID key pair is generated once and kept in the store; configured keys are used as given', async () => {
    await freshStore()
    const a = await dispatcher(web())
    const b = await dispatcher(web())
    assert.match(a.vapidPublicKey()!, /^[A-Za-z0-9_-]{87}$/)
    assert.equal(b.vapidPublicKey(), a.vapidPublicKey())
    const keys = generateVapidKeys()
    const c = await dispatcher({ ...web(), 'push.webpush.vapidPublicKey': keys.publicKey, 'push.webpush.vapidPrivateKey': keys.privateKey, 'push.webpush.subject': 'https://ops.example.org' })
    assert.equal(c.vapidPublicKey(), keys.publicKey)
    fake.vapidKey = keys.publicKey
    const sub = fake.subscribe('bob')
    assert.deepEqual(await deliver(c, [[{ provider: 'webpush', ...sub }, { payload: 'configured' }]]), ['delivered'])
    assert.deepEqual(fake.of(sub.endpoint), ['configured'])
    assert.equal(fake.received.at(-1)!.claims?.sub, 'https://ops.example.org')
    await assert.rejects(dispatcher({ 'push.webpush.vapidPublicKey': keys.publicKey }), /set together/)
  })

  test('410 and 404: the endpoint is gone (onEndpointGone); 429 with Retry-After and 503: attempted again', async () => {
    await freshStore()
    const d = await dispatcher(web())
    fake.vapidKey = d.vapidPublicKey()
    const gone: PushTarget[] = []
    d.onEndpointGone('test', (t) => { gone.push(t) })
    const s410 = fake.subscribe('gone410')
    const s404 = fake.subscribe('gone404')
    const busy = fake.subscribe('busy')
    fake.script(s410.endpoint, [410])
    fake.script(s404.endpoint, [404])
    fake.script(busy.endpoint, [{ status: 429, headers: { 'retry-after': '0' } }, 503])
    const outcomes = await deliver(d, [
      [{ provider: 'webpush', ...s410 }, { payload: 'a' }],
      [{ provider: 'webpush', ...s404 }, { payload: 'b' }],
      [{ provider: 'webpush', ...busy }, { payload: 'c' }],
    ])
    assert.deepEqual(outcomes, ['gone', 'gone', 'delivered'])
    assert.deepEqual(gone.map((t) => (t as { endpoint: string }).endpoint).sort(), [s404.endpoint, s410.endpoint].sort())
    assert.deepEqual(fake.of(busy.endpoint), ['c'])
  })

  test('a 400 (e.g. a VAPID key the service does not accept) is rejected for good', async () => {
    await freshStore()
    const d = await dispatcher(web())
    fake.vapidKey = 'B' + 'A'.repeat(86)
    const sub = fake.subscribe('wrongkey')
    assert.deepEqual(await deliver(d, [[{ provider: 'webpush', ...sub }, { payload: 'x' }]]), ['failed'])
    assert.match(fake.refused.at(-1)!, /k is not the VAPID public key/)
    fake.vapidKey = undefined
  })

  test('UnifiedPush: without keys the payload is POSTed as is; with keys it is Web Push encrypted', async () => {
    await freshStore()
    const d = await dispatcher(web())
    fake.vapidKey = d.vapidPublicKey()
    const plain = fake.plainEndpoint('up-plain')
    const keyed = fake.subscribe('up-keyed')
    assert.deepEqual(await deliver(d, [
      [{ provider: 'unifiedpush', endpoint: plain }, { payload: '{"m":1}' }],
      [{ provider: 'unifiedpush', ...keyed }, { payload: '{"m":2}' }],
    ]), ['delivered', 'delivered'])
    assert.deepEqual(fake.of(plain), ['{"m":1}'])
    assert.equal(fake.received.find((r) => r.path === '/up/up-plain')!.headers['content-encoding'], undefined)
    assert.deepEqual(fake.of(keyed.endpoint), ['{"m":2}'])
  })

  test('send() refuses bad subscription keys and an oversized payload', async () => {
    await freshStore()
    const d = await dispatcher(web())
    const sub = fake.subscribe('refuse')
    await assert.rejects(d.send({ provider: 'webpush', ...sub, p256dh: 'AAAA' }, { payload: 'x' }, { dialect: 't' }), (e: Error) => e instanceof PushTargetError && /p256dh/.test(e.message))
    await assert.rejects(d.send({ provider: 'webpush', ...sub, auth: 'AAAA' }, { payload: 'x' }, { dialect: 't' }), /auth is not 16 bytes/)
    await assert.rejects(d.send({ provider: 'webpush', ...sub }, { payload: 'x'.repeat(3994) }, { dialect: 't' }), /over 3993/)
    await assert.rejects(d.send({ provider: 'unifiedpush', endpoint: sub.endpoint, auth: sub.auth }, { payload: 'x' }, { dialect: 't' }), /both p256dh and auth/)
    assert.deepEqual(await d.store.list(), [])
  })
})

describe('FCM HTTP v1', () => {
  let fake: FakeFcm
  let account: string
  before(async () => {
    fake = await new FakeFcm().start()
    account = fake.writeAccount(dir).file
  })
  after(async () => {
    await Promise.all(running.splice(0).map((d) => d.stop()))
    await store?.close()
    await fake.close()
  })
  const fcm = () => ({ 'push.fcm.serviceAccountFile': account, 'push.fcm.url': `https://${FCM_HOST}`, 'push.fcm.connectTo': fake.connectTo })

  test('one OAuth token for many sends, from a verified RS256 assertion; the v1 message carries data, ttl, priority, collapse key', async () => {
    await freshStore()
    const d = await dispatcher(fcm())
    assert.equal(d.enabled('fcm'), true)
    const outcomes = await deliver(d, Array.from({ length: 5 }, (_, i): [PushTarget, PushNotification] =>
      [{ provider: 'fcm', token: `device-${i}` }, { payload: `p${i}`, ttlS: 120, urgency: 'high', collapseKey: 'k' }]))
    assert.deepEqual(outcomes, Array(5).fill('delivered'))
    assert.deepEqual(fake.refused, [])
    assert.equal(fake.tokensIssued(), 1)
    assert.equal(fake.assertions[0]!.iss, 'herald@test-project.iam.gserviceaccount.com')
    const m = fake.messages.find((x) => x.token === 'device-0')!.message
    assert.deepEqual(m, { token: 'device-0', data: { payload: 'p0' }, android: { ttl: '120s', priority: 'high', collapse_key: 'k' } })
    assert.deepEqual(await deliver(d, [[{ provider: 'fcm', token: 'device-x' }, { payload: 'ignored', fcm: { data: { data: 'g2gC' }, notification: { title: 'T' } } }]]), ['delivered'])
    assert.deepEqual(fake.messages.at(-1)!.message, { token: 'device-x', data: { data: 'g2gC' }, notification: { title: 'T' } })
  })

  test('UNREGISTERED (404) drops the token; 503 and 429 come back later; INVALID_ARGUMENT is rejected for good', async () => {
    await freshStore()
    const d = await dispatcher(fcm())
    const gone: PushTarget[] = []
    d.onEndpointGone('test', (t) => { gone.push(t) })
    fake.script('unreg', [fcmError(404, 'UNREGISTERED')])
    fake.script('flaky', [fcmError(503, 'UNAVAILABLE'), { status: 429, headers: { 'retry-after': '0' } }])
    fake.script('bad', [fcmError(400, 'INVALID_ARGUMENT')])
    assert.deepEqual(await deliver(d, [
      [{ provider: 'fcm', token: 'unreg' }, { payload: '1' }],
      [{ provider: 'fcm', token: 'flaky' }, { payload: '2' }],
      [{ provider: 'fcm', token: 'bad' }, { payload: '3' }],
    ]), ['gone', 'delivered', 'failed'])
    assert.deepEqual(gone, [{ provider: 'fcm', token: 'unreg' }])
    assert.deepEqual(fake.messages.filter((m) => m.token === 'flaky').map((m) => m.message.data), [{ payload: '2' }])
  })

  test('a service-account file without a private key stops the start with a clear error', async () => {
    await freshStore()
    const { writeFileSync } = await import('node:fs')
    const bad = join(dir, 'bad-account.json')
    writeFileSync(bad, JSON.stringify({ client_email: 'x@y', project_id: 'p' }))
    await assert.rejects(dispatcher({ 'push.fcm.serviceAccountFile': bad }), /private_key is missing/)
  })
})

describe('APNs over HTTP/2', () => {
  let fake: FakeApns
  let keyFile: string
  const token = (n: number) => n.toString(16).padStart(64, 'a')
  before(async () => {
    fake = await new FakeApns().start()
    keyFile = fake.writeKey(dir)
  })
  after(async () => {
    await Promise.all(running.splice(0).map((d) => d.stop()))
    await store?.close()
    await fake.close()
  })
  const apns = () => ({
    'push.apns.keyFile': keyFile, 'push.apns.keyId': fake.keyId, 'push.apns.teamId': fake.teamId, 'push.apns.topic': 'org.example.chat',
    'push.apns.url': `https://${APNS_HOST}`, 'push.apns.connectTo': fake.connectTo,
  })

  test('ES256 provider token (kid, iss) reused across sends on one connection; topic, push type, priority, expiration', async () => {
    await freshStore()
    const d = await dispatcher(apns())
    const alert = JSON.stringify({ aps: { alert: { title: 'Ann', body: 'hi' } } })
    const synrc = JSON.stringify({ aps: { synrc: { model: 'g2gC', type: 'message', title: 'Ann', version: '1', dns: '' } } })
    assert.deepEqual(await deliver(d, [
      [{ provider: 'apns', token: token(1) }, { payload: alert, ttlS: 3600, collapseKey: 'c1' }],
      [{ provider: 'apns', token: token(2), topic: 'org.example.other' }, { payload: synrc }],
      [{ provider: 'apns', token: token(3) }, { payload: alert, apns: { pushType: 'voip' } }],
    ]), ['delivered', 'delivered', 'delivered'])
    assert.deepEqual(fake.refused, [])
    const [a, b, c] = [1, 2, 3].map((n) => fake.received.find((r) => r.token === token(n))!)
    assert.equal(a.headers['apns-topic'], 'org.example.chat')
    assert.equal(a.headers['apns-push-type'], 'alert')
    assert.equal(a.headers['apns-priority'], '10')
    assert.equal(a.headers['apns-collapse-id'], 'c1')
    const exp = Number(a.headers['apns-expiration'])
    assert.ok(exp > Date.now() / 1000 + 3000 && exp <= Date.now() / 1000 + 3600, String(exp))
    assert.equal(a.body, alert)
    assert.equal(b.headers['apns-topic'], 'org.example.other')
    assert.equal(b.headers['apns-push-type'], 'background')
    assert.equal(b.headers['apns-priority'], '5')
    assert.equal(JSON.parse(b.body).aps.synrc.model, 'g2gC')
    assert.equal(c.headers['apns-topic'], 'org.example.chat.voip')
    assert.equal(new Set(fake.received.map((r) => r.jwt)).size, 1, 'one provider token for all sends')
  })

  test('410 Unregistered and 400 BadDeviceToken drop the token; 429 and 503 come back later; 413 is rejected for good', async () => {
    await freshStore()
    const d = await dispatcher(apns())
    const gone: string[] = []
    d.onEndpointGone('test', (t) => { gone.push((t as { token: string }).token) })
    fake.script(token(10), [apnsError(410, 'Unregistered')])
    fake.script(token(11), [apnsError(400, 'BadDeviceToken')])
    fake.script(token(12), [apnsError(429, 'TooManyRequests'), apnsError(503, 'ServiceUnavailable')])
    fake.script(token(13), [apnsError(413, 'PayloadTooLarge')])
    const n = { payload: '{"aps":{"content-available":1}}' }
    assert.deepEqual(await deliver(d, [10, 11, 12, 13].map((i): [PushTarget, PushNotification] => [{ provider: 'apns', token: token(i) }, n])),
      ['gone', 'gone', 'delivered', 'failed'])
    assert.deepEqual(gone.sort(), [token(10), token(11)])
  })

  test('send() refuses a token that is not hex and a payload that is not a JSON object', async () => {
    await freshStore()
    const d = await dispatcher(apns())
    await assert.rejects(d.send({ provider: 'apns', token: 'not-hex' }, { payload: '{}' }, { dialect: 't' }), /hex/)
    await assert.rejects(d.send({ provider: 'apns', token: token(1) }, { payload: '[1]' }, { dialect: 't' }), /JSON object/)
    await assert.rejects(d.send({ provider: 'apns', token: token(1) }, { payload: JSON.stringify({ aps: {}, x: 'y'.repeat(4100) }) }, { dialect: 't' }), /over 4096/)
  })
})

describe('client-given Web Push endpoints on internal addresses (request forgery guard)', () => {
  // a plain TCP listener on loopback that counts the connections made to it (what the guard must prevent)
  let server: net.Server
  let connections = 0
  let port = 0
  before(async () => {
    server = net.createServer((s) => { connections++; s.destroy() })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    port = (server.address() as net.AddressInfo).port
  })
  after(async () => {
    await Promise.all(running.splice(0).map((d) => d.stop()))
    await store?.close()
    await new Promise((r) => server.close(r))
  })
  const ecdh = createECDH('prime256v1')
  ecdh.generateKeys()
  const keys = { p256dh: ecdh.getPublicKey().toString('base64url'), auth: Buffer.alloc(16, 1).toString('base64url') }
  const at = (host: string): PushTarget => ({ provider: 'webpush', endpoint: `https://${host}:${port}/sub/x`, ...keys })

  test('a loopback literal or a name resolving to loopback fails for good, with no connection made', async () => {
    await freshStore()
    const d = await dispatcher({})
    connections = 0
    assert.deepEqual(await deliver(d, [[at('127.0.0.1'), { payload: 'x' }], [at('localhost'), { payload: 'x' }], [at('[::ffff:127.0.0.1]'), { payload: 'x' }]]), ['failed', 'failed', 'failed'])
    assert.equal(connections, 0)
  })

  test('HERALD_PUSH_ALLOW_PRIVATE_ENDPOINTS=true connects to them (a UnifiedPush distributor on the LAN)', async () => {
    await freshStore()
    const d = await dispatcher({ 'push.webpush.allowPrivateEndpoints': true, 'push.maxAgeS': 1 })
    connections = 0
    await d.send(at('127.0.0.1'), { payload: 'x' }, { dialect: 'test' })
    await eventually(() => connections > 0 || undefined, 'a connection to the loopback listener')
  })
})
