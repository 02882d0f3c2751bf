// Issue 2 §2 and the bar: real clients over TCP, TLS, WebSocket and secure WebSocket; refused logins and topics;
// keep-alive, will, retained messages, QoS 0/1/2, clean and persistent sessions (MQTT 3.1.1).
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import type { ErrorWithReasonCode, MqttClient } from 'mqtt'
import { collect, connect, requireService, silence, startTestHerald, subackCodes, type TestHerald } from '../helpers.ts'
import { connectPacket, raw } from './raw.ts'

const ACL = `
# alice owns alice/#, everyone reads public/#, and %u/%c patterns give each user a home
user alice
topic readwrite alice/#
topic write public/#
topic deny alice/secret/#

pattern readwrite home/%u/#
pattern read public/#
`

let h: TestHerald
let ca: string
const alice = { username: 'alice', password: 'alice-pw' }
const bob = { username: 'bob', password: 'bob-pw' }
const open: MqttClient[] = []

async function client(url: string, opts: Parameters<typeof connect>[1] = {}): Promise<MqttClient> {
  const c = await connect(url, opts)
  open.push(c)
  return c
}

function refusal(p: Promise<unknown>): Promise<number | undefined> {
  return p.then(() => assert.fail('connection was accepted'), (err: ErrorWithReasonCode) => err.code)
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

before(async () => {
  h = await startTestHerald({ overrides: { 'auth.aclFile': aclFile() } })
  await h.users.add(alice.username, alice.password)
  await h.users.add(bob.username, bob.password)
  ca = readFileSync(join(h.dataDir, 'tls', 'dev-cert.pem'), 'utf8')
})

function aclFile(): string {
  const f = join(process.env.TMPDIR ?? '/tmp', `herald-acl-${process.pid}.conf`)
  writeFileSync(f, ACL)
  return f
}

after(async () => {
  for (const c of open) c.end(true)
  await h.close()
})

describe('listeners', () => {
  const roundTrip = async (url: string, extra: Parameters<typeof connect>[1] = {}) => {
    const c = await client(url, { ...alice, ...extra })
    await c.subscribeAsync('alice/t', { qos: 1 })
    const got = collect(c, 1)
    await c.publishAsync('alice/t', 'over ' + url.split(':')[0], { qos: 1 })
    assert.equal((await got)[0].payload.toString(), 'over ' + url.split(':')[0])
    c.end(true)
  }

  test('MQTT over TCP', () => roundTrip(h.mqttUrl))
  test('MQTT over TLS with the generated development certificate', () =>
    roundTrip(`mqtts://127.0.0.1:${h.ports.mqtts}`, { ca, rejectUnauthorized: true }))
  test('MQTT over WebSocket on /mqtt', () => roundTrip(`${h.wsUrl}/mqtt`))
  test('MQTT over WebSocket on /api/v1/stream', () => roundTrip(`${h.wsUrl}/api/v1/stream`))
  test('MQTT over secure WebSocket on the HTTPS port', () =>
    roundTrip(`wss://127.0.0.1:${h.ports.https}/mqtt`, { ca, rejectUnauthorized: true }))
  test('a WebSocket upgrade on another path is refused', async () => {
    await assert.rejects(connect(`${h.wsUrl}/elsewhere`, { ...alice, connectTimeout: 2000 }))
  })
})

describe('access', () => {
  test('a bad password gets CONNACK 4 (bad user name or password)', async () => {
    assert.equal(await refusal(connect(h.mqttUrl, { username: 'alice', password: 'wrong' })), 4)
    assert.equal(await refusal(connect(h.mqttUrl, { username: 'nobody', password: 'x' })), 4)
  })
  test('no credentials with anonymous access off gets CONNACK 5 (not authorized)', async () => {
    assert.equal(await refusal(connect(h.mqttUrl)), 5)
  })
  test('a denied subscription gets SUBACK 0x80 and the connection stays up', async () => {
    const c = await client(h.mqttUrl, { ...bob })
    assert.deepEqual(await subackCodes(c, ['alice/#', 'home/bob/in'], 1), [128, 1])
    const got = collect(c, 1)
    await c.publishAsync('home/bob/in', 'still here', { qos: 1 })
    assert.equal((await got)[0].topic, 'home/bob/in')
    assert.ok(c.connected)
  })
  test('deny lines win over grants; %u patterns give each user only its own home', async () => {
    const a = await client(h.mqttUrl, { ...alice })
    assert.deepEqual(await subackCodes(a, ['alice/secret/x', 'home/alice/#', 'home/bob/#'], 0), [128, 0, 128])
  })
  test('a publish to a denied topic is not delivered', async () => {
    const watcher = await client(h.mqttUrl, { username: h.config['service.username'] as string, password: h.servicePassword })
    await watcher.subscribeAsync('#', { qos: 0 })
    const b = await client(h.mqttUrl, { ...bob })
    b.on('error', () => {})
    b.publish('alice/x', 'intrusion', { qos: 0 })
    assert.ok(await silence(watcher, 400))
    // what bob may write still flows
    const b2 = await client(h.mqttUrl, { ...bob })
    const got = collect(watcher, 1)
    await b2.publishAsync('home/bob/ok', 'fine', { qos: 1 })
    assert.equal((await got)[0].topic, 'home/bob/ok')
  })
})

describe('access at delivery', () => {
  const service = () => client(h.mqttUrl, { username: h.config['service.username'] as string, password: h.servicePassword })

  test('a filter that only overlaps a deny line is granted, but denied topics are not delivered through it', async () => {
    const a = await client(h.mqttUrl, { ...alice })
    assert.deepEqual(await subackCodes(a, ['alice/+/x'], 1), [1])
    const svc = await service()
    const got = collect(a, 1)
    await svc.publishAsync('alice/secret/x', 'hidden', { qos: 1 })
    await svc.publishAsync('alice/open/x', 'visible', { qos: 1 })
    const [m] = await got
    assert.equal(m.topic, 'alice/open/x')
    assert.ok(await silence(a, 200))
  })

  test('retained messages on denied topics are not delivered at SUBSCRIBE', async () => {
    const svc = await service()
    await svc.publishAsync('alice/secret/kept', 'hidden', { qos: 1, retain: true })
    await svc.publishAsync('alice/kept', 'visible', { qos: 1, retain: true })
    const a = await client(h.mqttUrl, { ...alice })
    const got = collect(a, 1)
    await a.subscribeAsync('alice/#', { qos: 1 })
    assert.equal((await got)[0].topic, 'alice/kept')
    assert.ok(await silence(a, 300))
  })

  test('a will message to a topic the client may not publish to is not published', async () => {
    const svc = await service()
    await svc.subscribeAsync('home/#', { qos: 1 })
    const b = await client(h.mqttUrl, { ...bob, will: { topic: 'home/alice/will', payload: Buffer.from('forged'), qos: 1, retain: false } })
    b.stream.destroy()
    assert.ok(await silence(svc, 500))
    const ok = await client(h.mqttUrl, { ...bob, will: { topic: 'home/bob/will', payload: Buffer.from('mine'), qos: 1, retain: false } })
    const got = collect(svc, 1)
    ok.stream.destroy()
    assert.equal((await got)[0].topic, 'home/bob/will')
  })
})

describe('MQTT 3.1.1 session behaviour', () => {
  test('QoS 0, 1 and 2 are delivered at min(publish, subscription) QoS', async () => {
    const sub = await client(h.mqttUrl, { ...alice, clientId: 'qos-sub' })
    const pub = await client(h.mqttUrl, { ...alice, clientId: 'qos-pub' })
    await sub.subscribeAsync('alice/qos/2', { qos: 2 })
    await sub.subscribeAsync('alice/qos/1', { qos: 1 })
    const got = collect(sub, 6)
    for (const q of [0, 1, 2] as const) {
      await pub.publishAsync('alice/qos/2', `q${q}`, { qos: q })
      await pub.publishAsync('alice/qos/1', `q${q}`, { qos: q })
    }
    const seen = (await got).map((m) => `${m.topic}:${m.payload}:${m.qos}`).sort()
    assert.deepEqual(seen, [
      'alice/qos/1:q0:0', 'alice/qos/1:q1:1', 'alice/qos/1:q2:1',
      'alice/qos/2:q0:0', 'alice/qos/2:q1:1', 'alice/qos/2:q2:2',
    ])
  })

  test('a retained message reaches a later subscriber with the retain flag; an empty one clears it', async () => {
    const pub = await client(h.mqttUrl, { ...alice })
    await pub.publishAsync('alice/retained', 'kept', { qos: 1, retain: true })
    const late = await client(h.mqttUrl, { ...alice })
    const got = collect(late, 1)
    await late.subscribeAsync('alice/retained', { qos: 1 })
    const [m] = await got
    assert.equal(m.payload.toString(), 'kept')
    assert.equal(m.retain, true)
    await pub.publishAsync('alice/retained', '', { qos: 1, retain: true })
    const later = await client(h.mqttUrl, { ...alice })
    await later.subscribeAsync('alice/retained', { qos: 1 })
    assert.ok(await silence(later, 300))
  })

  test('the will message is published when a client vanishes, not when it disconnects cleanly', async () => {
    const watcher = await client(h.mqttUrl, { ...alice })
    await watcher.subscribeAsync('alice/will/#', { qos: 1 })
    const polite = await client(h.mqttUrl, { ...alice, will: { topic: 'alice/will/polite', payload: Buffer.from('gone'), qos: 1, retain: false } })
    await polite.endAsync()
    const rude = await client(h.mqttUrl, { ...alice, will: { topic: 'alice/will/rude', payload: Buffer.from('gone'), qos: 1, retain: false } })
    const got = collect(watcher, 1)
    rude.stream.destroy()
    const [m] = await got
    assert.equal(m.topic, 'alice/will/rude')
    assert.equal(m.payload.toString(), 'gone')
  })

  test('keep-alive: PINGREQ keeps a quiet client connected; a silent one is closed after 1.5x keep-alive', async () => {
    const c = await client(h.mqttUrl, { ...alice, keepalive: 1 })
    let closed = false
    c.on('close', () => { closed = true })
    await sleep(2600)
    assert.equal(closed, false)
    assert.ok(c.connected)

    const r = await raw(h.ports.mqtt)
    r.socket.write(connectPacket({ clientId: 'silent', ...alice, keepalive: 1 }))
    const ack = await r.bytes(4)
    assert.deepEqual([...ack.subarray(0, 4)], [0x20, 2, 0, 0])
    await r.closed(5000)
  })

  test('persistent session: QoS 1 messages published while offline arrive on reconnect; a clean session gets none', async () => {
    const opts = { ...alice, clientId: 'alice-persistent', clean: false }
    const first = await client(h.mqttUrl, opts)
    await first.subscribeAsync('alice/offline', { qos: 1 })
    await first.endAsync()

    const pub = await client(h.mqttUrl, { ...alice })
    await pub.publishAsync('alice/offline', 'while you were away', { qos: 1 })

    const again = await connectCollecting(opts, 1)
    assert.equal(again.sessionPresent, true)
    assert.equal((await again.messages)[0].payload.toString(), 'while you were away')
    await again.client.endAsync()

    // a clean session drops the subscription and anything queued for it
    const clean = await client(h.mqttUrl, { ...alice, clientId: 'alice-persistent', clean: true })
    await clean.endAsync()
    await pub.publishAsync('alice/offline', 'nobody listens', { qos: 1 })
    const back = await connectCollecting(opts, 1, 400)
    assert.equal(back.sessionPresent, false)
    await assert.rejects(back.messages)
  })
})

function mosquitto(cmd: 'mosquitto_pub' | 'mosquitto_sub', args: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(cmd, ['-h', '127.0.0.1', ...args], { timeout: 15_000 }, (e, out, err) => {
      const code = e ? (typeof (e as { code?: unknown }).code === 'number' ? (e as { code: number }).code : -1) : 0
      resolve({ code, out, err })
    })
  })
}

const hasMosquittoClients = existsSync('/usr/bin/mosquitto_pub') && existsSync('/usr/bin/mosquitto_sub')

describe("Debian's mosquitto_pub / mosquitto_sub", requireService(hasMosquittoClients, 'mosquitto-clients'), () => {
  const creds = ['-u', alice.username, '-P', alice.password]
  test('publish over TCP and receive over TLS (retained, so no race)', async () => {
    const pub = await mosquitto('mosquitto_pub', ['-p', String(h.ports.mqtt), ...creds, '-t', 'alice/cli', '-m', 'from mosquitto_pub', '-q', '1', '-r'])
    assert.equal(pub.code, 0, pub.err)
    const tls = ['-p', String(h.ports.mqtts), '--cafile', join(h.dataDir, 'tls', 'dev-cert.pem')]
    const sub = await mosquitto('mosquitto_sub', [...tls, ...creds, '-t', 'alice/cli', '-C', '1', '-W', '5', '-v'])
    assert.equal(sub.code, 0, sub.err)
    assert.equal(sub.out.trim(), 'alice/cli from mosquitto_pub')
  })
  test('a bad password is refused (CONNACK 4)', async () => {
    const r = await mosquitto('mosquitto_pub', ['-p', String(h.ports.mqtt), '-u', 'alice', '-P', 'wrong', '-t', 'alice/cli', '-m', 'x'])
    assert.notEqual(r.code, 0)
    assert.match(r.err, /bad user name or password/)
  })
  test('no credentials are refused (CONNACK 5)', async () => {
    const r = await mosquitto('mosquitto_pub', ['-p', String(h.ports.mqtt), '-t', 'alice/cli', '-m', 'x'])
    assert.notEqual(r.code, 0)
    assert.match(r.err, /not authori[sz]ed/)
  })
  test('a denied topic is refused at SUBSCRIBE', async () => {
    const r = await mosquitto('mosquitto_sub', ['-p', String(h.ports.mqtt), ...creds, '-t', 'home/bob/#', '-C', '1', '-W', '5'])
    assert.match(r.err, /All subscription requests were denied/)
  })
})

/** Connect and collect from the very first packet (queued messages arrive right after CONNACK). */
async function connectCollecting(opts: Parameters<typeof connect>[1], n: number, ms = 5000) {
  const { default: mqtt } = await import('mqtt')
  const c = mqtt.connect(h.mqttUrl, { reconnectPeriod: 0, ...opts })
  open.push(c)
  const messages = collect(c, n, ms)
  messages.catch(() => {})
  const sessionPresent = await new Promise<boolean>((resolve, reject) => {
    c.once('connect', (ack) => resolve(ack.sessionPresent))
    c.once('error', reject)
  })
  return { client: c, sessionPresent, messages }
}
