// synrc §6.13 PUSH: the #push{} encodings (iOS APNS JSON with base64 ETF, Android registration_id=…&data=…) as pure
// functions, the bytes checked against Erlang's term_to_binary; and SynrcPush: one push per device with a token,
// through Herald's push service to local APNs and FCM services, when none of the phone's devices is connected.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { after, before, describe, test } from 'node:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { androidBody, androidData, apnsBody } from '../../src/dialects/synrc/push.ts'
import { Wire, type Rec } from '../../src/dialects/synrc/wire.ts'
import { bin, register, startSynrc, str, type SynrcHerald } from './client.ts'
import { erlAvailable, requireErlang } from './erlang.ts'
import { apnsError, APNS_HOST, caFile, FakeApns, FakeFcm, fcmError, FCM_HOST } from '../push/fake-endpoints.ts'

const A = '380679000021_1'
const B = '380679000022_1'
const push = (f: Partial<Rec> = {}): Rec => ({
  $: 'push', model: { $: 'p2p', from: bin(A), to: bin(B) }, type: bin('message'), title: bin('Ann'), alert: bin('hi'), ...f,
})

/** Erlang's own base64(term_to_binary(Expr)) */
function erlBase64(expr: string): string {
  const r = spawnSync('erl', ['-noshell', '-eval', `io:format("~s", [base64:encode(term_to_binary(${expr}))]), halt().`], { encoding: 'utf8', timeout: 30_000 })
  if (r.status !== 0) throw new Error(r.stderr)
  return r.stdout
}

for (const layout of ['a', 'legacy'] as const) {
  describe(`SYNRC #push{} encodings (layout ${layout})`, () => {
    const wire = new Wire({ layout, maxBytes: 1 << 20 })

    test('iOS: {"aps":{"synrc":{model,type,title,version,dns}}}, model = base64(term_to_binary(Payload))', () => {
      const json = JSON.parse(apnsBody(wire, push(), { version: '7', dns: 'chat.example' }))
      assert.deepEqual(Object.keys(json), ['aps'])
      assert.deepEqual(Object.keys(json.aps.synrc), ['model', 'type', 'title', 'version', 'dns'])
      const { model, ...rest } = json.aps.synrc
      assert.deepEqual(rest, { type: 'message', title: 'Ann', version: '7', dns: 'chat.example' })
      const back = wire.decode(Buffer.from(model, 'base64'))
      assert.deepEqual([back.$, str(back.from), str(back.to)], ['p2p', A, B])
    })

    test('iOS type <<"calling">>: the raw payload is used', () => {
      const json = JSON.parse(apnsBody(wire, push({ type: bin('calling'), model: bin('room-42') })))
      assert.equal(json.aps.synrc.model, 'room-42')
      assert.equal(json.aps.synrc.type, 'calling')
    })

    test('Android: registration_id=Token&data=urlencoded base64(term_to_binary(#push{…, badge=1}))', () => {
      const token = 'fcm:tok/en+1=='
      const body = androidBody(wire, token, push({ badge: 9, sound: bin('ding') }))
      assert.match(body, /^registration_id=[^&]+&data=[^&]+$/)
      const form = new URLSearchParams(body)
      assert.equal(form.get('registration_id'), token)
      const rec = wire.decode(Buffer.from(form.get('data')!, 'base64'))
      assert.deepEqual([rec.$, str(rec.type), str(rec.title), str(rec.alert), rec.badge, rec.sound], ['push', 'message', 'Ann', 'hi', 1, null])
      assert.deepEqual([rec.model.$, str(rec.model.from)], ['p2p', A])
    })
  })
}

describe('SYNRC #push{} bytes against Erlang', requireErlang(), () => {
  test('androidData is base64(term_to_binary({push,{p2p,A,B},<<"message">>,<<"Ann">>,<<"hi">>,1,[]}))', { skip: !erlAvailable }, () => {
    const wire = new Wire({ layout: 'a', maxBytes: 1 << 20 })
    assert.equal(androidData(wire, push()), erlBase64(`{push,{p2p,<<"${A}">>,<<"${B}">>},<<"message">>,<<"Ann">>,<<"hi">>,1,[]}`))
    const json = JSON.parse(apnsBody(wire, push()))
    assert.equal(json.aps.synrc.model, erlBase64(`{p2p,<<"${A}">>,<<"${B}">>}`))
  })
})

describe('SYNRC offline push through ctx.push (§6.13): APNs and FCM', () => {
  let h: SynrcHerald
  let apns: FakeApns
  let fcm: FakeFcm
  let dir: string
  const IOS = 'ab'.repeat(32)
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'herald-synrc-push-'))
    apns = await new FakeApns().start()
    fcm = await new FakeFcm().start()
    const account = fcm.writeAccount(dir).file
    h = await startSynrc({
      layout: 'a', overrides: {
        'push.caFile': caFile(dir), 'push.pollMs': 50,
        'push.apns.keyFile': apns.writeKey(dir), 'push.apns.keyId': apns.keyId, 'push.apns.teamId': apns.teamId, 'push.apns.topic': 'org.example.synrc',
        'push.apns.url': `https://${APNS_HOST}`, 'push.apns.connectTo': apns.connectTo,
        'push.fcm.serviceAccountFile': account, 'push.fcm.url': `https://${FCM_HOST}`, 'push.fcm.connectTo': fcm.connectTo,
      },
    })
  })
  after(async () => {
    await h.close()
    await apns.close()
    await fcm.close()
    rmSync(dir, { recursive: true, force: true })
  })

  async function metricValue(name: string, labels: string): Promise<number> {
    const text = await (await fetch(`${h.metricsUrl}/metrics`)).text()
    const m = text.match(new RegExp(`^${name}\\{${labels}\\} (\\d+)$`, 'm'))
    return m ? Number(m[1]) : 0
  }

  test('pushed only when no device of the phone is connected; iOS gets the §6.13 APNs JSON, Android the base64 term in FCM data', async () => {
    const phone = '380679000023'
    const ios = await register(h, phone, 'p1')
    const android = await register(h, phone, 'p2')
    const bare = await register(h, phone, 'p3')
    await ios.device.send({ $: 'Auth', type: 'push', push: bin(IOS), os: 'ios' })
    assert.equal((await ios.device.next((r) => r.$ === 'io')).code?.$, undefined, 'Auth/push answers {io,[],<<>>}')
    await android.device.send({ $: 'Auth', type: 'push', push: bin('fcm-token-2'), os: 'android' })
    await android.device.next((r) => r.$ === 'io')
    const notify = h.synrc.synrc!.push!

    assert.equal(await notify.notify(phone, push()), 0, 'three devices online: nothing queued')
    await ios.device.end()
    await android.device.end()
    assert.equal(await notify.notify(phone, push()), 0, 'one device still online: nothing queued')
    await bare.device.end()
    await waitFor(() => h.synrc.synrc!.connectedDevices(phone).length === 0)

    assert.equal(await notify.notify(phone, push()), 2)
    await waitFor(() => apns.received.length === 1 && fcm.messages.length === 1, 10_000)
    const a = apns.received[0]
    assert.equal(a.token, IOS)
    assert.equal(a.headers['apns-topic'], 'org.example.synrc')
    const synrc = JSON.parse(a.body).aps.synrc
    assert.deepEqual([synrc.type, synrc.title], ['message', 'Ann'])
    const wire = new Wire({ layout: 'a', maxBytes: 1 << 20 })
    assert.deepEqual([wire.decode(Buffer.from(synrc.model, 'base64')).$, str(wire.decode(Buffer.from(synrc.model, 'base64')).from)], ['p2p', A])
    const f = fcm.messages[0]
    assert.equal(f.token, 'fcm-token-2')
    const rec = wire.decode(Buffer.from(f.message.data.data, 'base64'))
    assert.deepEqual([rec.$, str(rec.type), str(rec.title), str(rec.alert), rec.badge], ['push', 'message', 'Ann', 'hi', 1])
    assert.equal(await metricValue('synrc_push_queued_total', 'os="ios"'), 1)
    assert.equal(await metricValue('synrc_push_queued_total', 'os="android"'), 1)
  })

  test('a token saved without an os, a phone without tokens or without devices: nothing pushed; an iOS token APNs cannot take is skipped', async () => {
    const phone = '380679000024'
    const { device } = await register(h, phone, 'q1')
    await device.send({ $: 'Auth', type: 'push', push: bin('token-without-os') })
    await device.next((r) => r.$ === 'io')
    await device.end()
    await waitFor(() => h.synrc.synrc!.connectedDevices(phone).length === 0)
    const before = apns.received.length + fcm.messages.length
    assert.equal(await h.synrc.synrc!.push!.notify(phone, push()), 0)
    assert.equal(await h.synrc.synrc!.push!.notify('380679000029', push()), 0)
    const other = await register(h, '380679000025', 'q2')
    await other.device.send({ $: 'Auth', type: 'push', push: bin('not-a-hex-token'), os: 'ios' })
    await other.device.next((r) => r.$ === 'io')
    await other.device.end()
    await waitFor(() => h.synrc.synrc!.connectedDevices('380679000025').length === 0)
    assert.equal(await h.synrc.synrc!.push!.notify('380679000025', push()), 0)
    assert.equal(await metricValue('synrc_push_skipped_total', 'os="ios",why="refused"'), 1)
    assert.equal(apns.received.length + fcm.messages.length, before)
  })

  test('a token APNs answers 410 Unregistered (or FCM UNREGISTERED) is forgotten: the next push skips the device', async () => {
    const phone = '380679000026'
    const gone = 'cd'.repeat(32)
    apns.script(gone, [apnsError(410, '{"reason":"Unregistered"}')])
    fcm.script('fcm-gone', [fcmError(404, 'UNREGISTERED')])
    const ios = await register(h, phone, 'g1')
    await ios.device.send({ $: 'Auth', type: 'push', push: bin(gone), os: 'ios' })
    await ios.device.next((r) => r.$ === 'io')
    const android = await register(h, phone, 'g2')
    await android.device.send({ $: 'Auth', type: 'push', push: bin('fcm-gone'), os: 'android' })
    await android.device.next((r) => r.$ === 'io')
    await ios.device.end()
    await android.device.end()
    await waitFor(() => h.synrc.synrc!.connectedDevices(phone).length === 0)
    assert.equal(await h.synrc.synrc!.push!.notify(phone, push()), 2)
    const tokens = async () => (await h.synrc.synrc!.stores.auth.devices(phone)).map((d) => d.push)
    const end = Date.now() + 10_000
    while (Date.now() < end && (await tokens()).some((t) => t !== null)) await new Promise((r) => setTimeout(r, 50))
    assert.deepEqual(await tokens(), [null, null])
    assert.equal(await h.synrc.synrc!.push!.notify(phone, push()), 0)
  })
})

async function waitFor(fn: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms
  while (!fn()) {
    if (Date.now() > end) throw new Error('condition not met in time')
    await new Promise((r) => setTimeout(r, 20))
  }
}
