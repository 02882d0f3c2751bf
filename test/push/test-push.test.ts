// UWPX request_test_push end to end (§3.3, §4.2, §12.2): a TLS client registers, asks for a test push, and the local
// fake WNS receives the §4.2 body for the device's version, through Herald's push service; queued while WNS is down
// it is delivered after a Herald restart on the same SQLite file; a 410 drops the channel's device and its nodes.
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { readFileSync } from 'node:fs'
import { coreSettings, loadConfig } from '../../src/config.ts'
import { createPush } from '../../src/dialects/push/index.ts'
import { ERRORS } from '../../src/dialects/push/messages.ts'
import { pushSettings } from '../../src/dialects/push/settings.ts'
import { startHerald } from '../../src/server.ts'
import { eventually, freePort } from '../helpers.ts'
import { clientJson, RecordingNodes, startPush, UwpxClient, type PushHerald } from './client.ts'
import { caFile } from './fake-endpoints.ts'
import { FakeWns } from './fake-wns.ts'

const OK = '{"action":"response","status":1,"version":2}\0'
const err = (e: string) => `{"action":"response","error":${JSON.stringify(e)},"status":0,"version":2}\0`
const channel = (token: string) => `https://db5p.notify.windows.com/?token=${token}`
const setUri = (device: string, token: string) => clientJson({ version: 2, action: 'set_channel_uri', device_id: device, channel_uri: channel(token) })
const setAccounts = (device: string, ids: string[], version: number) =>
  clientJson({ version, action: 'set_push_accounts', device_id: device, accounts: ids.map((account_id) => ({ account_id })) })
const testPush = (device: string) => clientJson({ version: 2, action: 'request_test_push', device_id: device })

const deadPort = async (): Promise<string> => `127.0.0.1:${await freePort()}`

describe('UWPX request_test_push through the push service to a local WNS', () => {
  let fake: FakeWns
  let dir: string
  let ca: string
  const heralds: PushHerald[] = []
  const wnsSettings = (connectTo: string) => ({
    'push.wns.clientId': 'ms-app://s-1-15-2-1', 'push.wns.clientSecret': 'secret', 'push.wns.connectTo': connectTo, 'push.wns.attempts': 1,
    'push.caFile': ca, 'push.retryBaseMs': 20, 'push.retryMaxMs': 200, 'push.pollMs': 50,
  })
  /** Herald with the push dialect on a data directory of the test's (kept across a restart) */
  const startAt = async (dataDir: string, overrides: Record<string, unknown>) => {
    const push = createPush({ nodes: new RecordingNodes() })
    const config = loadConfig({
      settings: [...coreSettings, ...pushSettings], env: {},
      overrides: {
        mode: 'development', dataDir, databaseUrl: '', host: '127.0.0.1', logLevel: 'silent',
        'http.port': 0, 'https.port': 'off', 'mqtt.port': 0, 'mqtts.port': 'off', 'metrics.port': 'off', 'push.port': 0, ...overrides,
      },
    })
    const h = await startHerald({ config, dialects: [push] })
    return Object.assign(h, { push, ca: readFileSync(join(dataDir, 'tls', 'dev-cert.pem'), 'utf8') })
  }
  const start = async (overrides: Record<string, unknown>, nodes = new RecordingNodes()) => {
    const h = await startPush({ overrides, nodes })
    heralds.push(h)
    return h
  }
  before(async () => {
    fake = await new FakeWns().start()
    dir = mkdtempSync(join(tmpdir(), 'herald-testpush-'))
    ca = caFile(dir, [fake.ca])
  })
  after(async () => {
    for (const h of heralds) await h.close().catch(() => {})
    await fake.close()
    rmSync(dir, { recursive: true, force: true })
  })
  const bodiesTo = (token: string) => fake.notifications().filter((r) => r.path === `/?token=${token}`).map((r) => r.body.toString())

  test('§4.2: a v2 device gets {"action":"test_push","version":2}, a device without a version <test/>', async () => {
    const h = await start(wnsSettings(fake.connectTo))
    const c = await UwpxClient.connect(h)
    assert.equal(await c.ask(setUri('tp-v2', 'tpV2')), OK)
    await c.ask(setAccounts('tp-v2', [], 2))
    assert.equal(await c.ask(testPush('tp-v2')), OK)
    assert.equal(await c.ask(setUri('tp-v1', 'tpV1')), OK)
    assert.equal(await c.ask(testPush('tp-v1')), OK)
    c.close()
    await eventually(() => (bodiesTo('tpV2').length === 1 && bodiesTo('tpV1').length === 1) || undefined, 'both test pushes at the fake WNS')
    assert.deepEqual(bodiesTo('tpV2'), ['{"action":"test_push","version":2}'])
    assert.deepEqual(bodiesTo('tpV1'), ['<test/>'])
    const n = fake.notifications().find((r) => r.path === '/?token=tpV2')!
    assert.equal(n.headers['x-wns-type'], 'wns/raw')
    assert.equal(n.headers['content-type'], 'application/octet-stream')
    assert.match(String(n.headers.authorization), /^bearer tok-\d+$/)
    const metrics = await (await fetch(`${h.metricsUrl}/metrics`)).text()
    assert.match(metrics, /^herald_push_sent_total\{provider="wns",outcome="delivered"\} 2$/m)
    assert.match(metrics, /^herald_push_accepted_total\{provider="wns",dialect="push"\} 2$/m)
    assert.match(metrics, /^herald_push_queue_depth\{provider="wns"\} 0$/m)
    await h.close()
  })

  test('queued while WNS is down, delivered after a Herald restart on the same SQLite file', async () => {
    const dataDir = mkdtempSync(join(dir, 'data-'))
    const a = await startAt(dataDir, wnsSettings(await deadPort()))
    try {
      const c = await UwpxClient.connect(a as unknown as PushHerald)
      assert.equal(await c.ask(setUri('tp-restart', 'tpRestart')), OK)
      await c.ask(setAccounts('tp-restart', ['acc'], 2))
      assert.equal(await c.ask(testPush('tp-restart')), OK)
      c.close()
      await eventually(async () => ((await a.pushDispatch.store.list())[0]?.attempts ?? 0) >= 1 || undefined, 'a failed attempt')
    } finally { await a.stop() }
    assert.deepEqual(bodiesTo('tpRestart'), [])

    const b = await startAt(dataDir, wnsSettings(fake.connectTo))
    try {
      await eventually(() => bodiesTo('tpRestart').length === 1 || undefined, 'the test push after the restart')
      assert.deepEqual(bodiesTo('tpRestart'), ['{"action":"test_push","version":2}'])
      await eventually(async () => (await b.pushDispatch.store.list()).length === 0 || undefined, 'queue empty')
    } finally { await b.stop() }
  })

  test('§12.2: WNS 410 drops the channel: the device is unknown afterwards and its nodes are removed', async () => {
    const nodes = new RecordingNodes()
    const h = await start(wnsSettings(fake.connectTo), nodes)
    fake.script('tpGone', [410])
    const c = await UwpxClient.connect(h)
    assert.equal(await c.ask(setUri('tp-gone', 'tpGone')), OK)
    const reply = JSON.parse((await c.ask(setAccounts('tp-gone', ['a1', 'a2'], 2))).slice(0, -1)) as { accounts: { node: string }[] }
    assert.equal(await c.ask(testPush('tp-gone')), OK)
    await eventually(async () => (await h.push.store!.device('tp-gone', Date.now())) === undefined || undefined, 'device dropped')
    assert.deepEqual(nodes.removed.sort(), reply.accounts.map((a) => a.node).sort())
    assert.equal(await c.ask(testPush('tp-gone')), err(ERRORS.unknownDevice))
    c.close()
    await h.close()
  })
})
