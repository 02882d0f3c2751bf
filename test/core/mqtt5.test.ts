// Issue 11 items 1–2: MQTT 5 on the embedded broker, with mqtt.js `protocolVersion: 5` on real sockets over TCP,
// TLS, WebSocket and secure WebSocket, and Debian's mosquitto_pub / mosquitto_sub -V mqttv5. Reason codes
// (MQTT 5.0 §2.4) in CONNACK, PUBACK, PUBREC and SUBACK with their Reason Strings, session and message expiry, user
// properties, request/response, topic aliases, subscription options, Server Keep Alive, will delay, assigned client
// identifiers. Raw packets (where mqtt.js hides the detail) are in mqtt5-raw.test.ts.
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import mqtt, { type ErrorWithReasonCode, type IClientOptions, type MqttClient } from 'mqtt'
import type { Dialect } from '../../src/dialects/types.ts'
import { collect, connect, eventually, requireService, silence, startTestHerald, subackCodes, type TestHerald } from '../helpers.ts'

// alice owns m5/#; bob may only write home/bob/#; quota is for the connection limit
const ACL = `
user alice
topic readwrite m5/#

user bob
topic readwrite home/bob/#
topic read m5/#

user quota
topic readwrite q/#
`
const alice = { username: 'alice', password: 'alice-pw' }
const bob = { username: 'bob', password: 'bob-pw' }
const MAX_CONNECTIONS = 2
const MAX_SUBSCRIPTIONS = 4
const KEEPALIVE_LIMIT = 40
const hasMosquittoClients = existsSync('/usr/bin/mosquitto_pub') && existsSync('/usr/bin/mosquitto_sub')

let h: TestHerald
let ca: string
const open: MqttClient[] = []
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** A directory that is down: its authenticator answers `unavailable` for the user `down` (as LDAP does). */
function downDirectory(): Dialect {
  return {
    name: 'down-directory',
    async setup(ctx) {
      ctx.access.addAuthenticator({ name: 'down', async authenticate(c) { return c.username === 'down' ? 'unavailable' : undefined } })
    },
  }
}

function v5(opts: IClientOptions = {}, url = h.mqttUrl): Promise<MqttClient> {
  return connect(url, { protocolVersion: 5, ...opts }).then((c) => { open.push(c); return c })
}

/** the CONNACK packet a v5 connection got (accepted or refused) */
function connack(opts: IClientOptions, url = h.mqttUrl): Promise<{ reasonCode: number; sessionPresent: boolean; properties?: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const c = mqtt.connect(url, { protocolVersion: 5, reconnectPeriod: 0, connectTimeout: 5000, ...opts })
    open.push(c)
    c.on('packetreceive', (p) => { if (p.cmd === 'connack') resolve(p as never) })
    c.on('error', () => {})
    c.once('close', () => reject(new Error('closed before CONNACK')))
  })
}

type Received = { topic: string; payload: Buffer; retain: boolean; qos: number; properties?: Record<string, unknown> }
function next(c: MqttClient, ms = 5000): Promise<Received> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => { c.off('message', on); reject(new Error('no message')) }, ms)
    const on = (topic: string, payload: Buffer, p: { retain: boolean; qos: number; properties?: Record<string, unknown> }) => {
      clearTimeout(t)
      c.off('message', on)
      resolve({ topic, payload, retain: p.retain, qos: p.qos, properties: p.properties })
    }
    c.on('message', on)
  })
}

before(async () => {
  const acl = join(process.env.TMPDIR ?? '/tmp', `herald-mqtt5-acl-${process.pid}.conf`)
  writeFileSync(acl, ACL)
  h = await startTestHerald({
    dialects: [downDirectory()],
    overrides: {
      'auth.aclFile': acl,
      'mqtt.maxSubscriptions': MAX_SUBSCRIPTIONS,
      'mqtt.keepaliveLimit': KEEPALIVE_LIMIT,
    },
  })
  for (const u of [alice, bob, { username: 'quota', password: 'quota-pw' }]) await h.users.add(u.username, u.password)
  ca = readFileSync(join(h.dataDir, 'tls', 'dev-cert.pem'), 'utf8')
})

after(async () => {
  for (const c of open) c.end(true)
  await h.close()
})

describe('MQTT 5 on every transport', () => {
  const roundTrip = async (url: string, extra: IClientOptions = {}) => {
    const sub = await v5({ ...alice, ...extra }, url)
    const pub = await v5({ ...alice, ...extra }, url)
    await sub.subscribeAsync('m5/transport', { qos: 1 })
    const got = next(sub)
    await pub.publishAsync('m5/transport', 'hi', { qos: 1, properties: { userProperties: { via: url.split(':')[0] } } })
    const m = await got
    assert.equal(m.payload.toString(), 'hi')
    assert.deepEqual({ ...m.properties?.userProperties as object }, { via: url.split(':')[0] })
    sub.end(true)
    pub.end(true)
  }
  test('TCP', () => roundTrip(h.mqttUrl))
  test('TLS', () => roundTrip(`mqtts://127.0.0.1:${h.ports.mqtts}`, { ca, rejectUnauthorized: true }))
  test('WebSocket', () => roundTrip(`${h.wsUrl}/mqtt`))
  test('secure WebSocket', () => roundTrip(`wss://127.0.0.1:${h.ports.https}/mqtt`, { ca, rejectUnauthorized: true }))
})

describe('CONNACK reason codes and properties (MQTT 5.0 §3.2)', () => {
  test('a wrong password: 0x86 with a Reason String; no credentials: 0x87; a directory down: 0x88', async () => {
    const bad = await connack({ username: 'alice', password: 'nope' })
    assert.equal(bad.reasonCode, 0x86)
    assert.equal(bad.properties?.reasonString, 'bad user name or password')
    assert.equal((await connack({})).reasonCode, 0x87)
    const down = await connack({ username: 'down', password: 'x' })
    assert.equal(down.reasonCode, 0x88)
    assert.equal(down.properties?.reasonString, 'server unavailable')
  })

  test("a client id another account holds: 0x85 (client identifier not valid)", async () => {
    await v5({ ...alice, clientId: 'm5-held' })
    const r = await connack({ ...bob, clientId: 'm5-held' })
    assert.equal(r.reasonCode, 0x85)
    assert.equal(r.properties?.reasonString, 'client identifier in use by another account')
  })

  test('more connections for one account than allowed: 0x97 (quota exceeded); 3.1.1 still gets return code 3', async () => {
    const q = await startTestHerald({ overrides: { 'mqtt.maxConnectionsPerPrincipal': MAX_CONNECTIONS } })
    try {
      const creds = { username: 'quota', password: 'quota-pw' }
      await q.users.add(creds.username, creds.password)
      for (let i = 0; i < MAX_CONNECTIONS; i++) await v5({ ...creds, clientId: `quota-${i}` }, q.mqttUrl)
      const r = await connack({ ...creds, clientId: 'quota-over' }, q.mqttUrl)
      assert.equal(r.reasonCode, 0x97)
      assert.match(String(r.properties?.reasonString), /more than 2 connections/)
      await assert.rejects(connect(q.mqttUrl, { ...creds, clientId: 'quota-311' }), (e: ErrorWithReasonCode) => e.code === 3)
    } finally {
      for (const c of open.splice(0)) c.end(true)
      await q.close()
    }
  })

  test('accepted: Maximum Packet Size, Receive Maximum and Topic Alias Maximum advertised', async () => {
    const r = await connack({ ...alice, clientId: 'm5-caps' })
    assert.equal(r.reasonCode, 0)
    assert.equal(r.properties?.maximumPacketSize, 1 + 3 + 1048576, 'the whole packet of the largest remaining length taken')
    assert.equal(r.properties?.receiveMaximum, 256)
    assert.equal(r.properties?.topicAliasMaximum, 10)
  })

  test('a zero-length client id is assigned one (Assigned Client Identifier, MQTT-3.1.3-7)', async () => {
    const r = await connack({ ...alice, clientId: '' })
    assert.equal(r.reasonCode, 0)
    assert.match(String(r.properties?.assignedClientIdentifier), /^aedes_/)
  })

  test('Server Keep Alive: none asked or more than the limit gets the limit; less is kept', async () => {
    assert.equal((await connack({ ...alice, keepalive: 0 })).properties?.serverKeepAlive, KEEPALIVE_LIMIT)
    assert.equal((await connack({ ...alice, keepalive: 3600 })).properties?.serverKeepAlive, KEEPALIVE_LIMIT)
    assert.equal((await connack({ ...alice, keepalive: 30 })).properties?.serverKeepAlive, undefined)
  })
})

describe('refusals with reason codes', () => {
  test('a denied PUBLISH: PUBACK 0x87 (QoS 1), PUBREC 0x87 (QoS 2) with a Reason String; nothing delivered; the connection stays', async () => {
    const watcher = await v5({ ...alice })
    await watcher.subscribeAsync('m5/#', { qos: 1 })
    const b = await v5({ ...bob })
    await assert.rejects(b.publishAsync('m5/denied', 'x', { qos: 1 }), (e: ErrorWithReasonCode) => e.code === 0x87)
    await assert.rejects(b.publishAsync('m5/denied', 'x', { qos: 2 }), (e: ErrorWithReasonCode) => e.code === 0x87)
    const reason = new Promise<unknown>((resolve) => b.on('packetreceive', (p) => { if (p.cmd === 'puback') resolve(p.properties?.reasonString) }))
    await b.publishAsync('m5/denied', 'x', { qos: 1 }).catch(() => {})
    assert.equal(await reason, 'not authorized to publish to m5/denied')
    assert.ok(await silence(watcher, 300), 'nothing published')
    await b.publishAsync('home/bob/ok', 'fine', { qos: 1 })
    assert.ok(b.connected)
  })

  test('a denied SUBSCRIBE: 0x87; over the subscription limit: 0x97; the others granted', async () => {
    const c = await v5({ ...bob })
    assert.deepEqual(await subackCodes(c, ['home/bob/a', 'secret/#'], 1), [1, 0x87])
    assert.deepEqual(await subackCodes(c, ['home/bob/b', 'home/bob/c', 'home/bob/d', 'home/bob/e'], 0), [0, 0, 0, 0x97])
  })
})

describe('messages', () => {
  test('user properties, content type, response topic and correlation data pass through (request/response §4.10)', async () => {
    const responder = await v5({ ...alice })
    const requester = await v5({ ...alice })
    await responder.subscribeAsync('m5/req', { qos: 1 })
    await requester.subscribeAsync('m5/resp', { qos: 1 })
    responder.on('message', (_t, payload, p) => {
      void responder.publishAsync(String(p.properties?.responseTopic), `re:${payload}`, { qos: 1, properties: { correlationData: p.properties?.correlationData } })
    })
    const answer = next(requester)
    const seen = next(responder)
    await requester.publishAsync('m5/req', 'ping', {
      qos: 1,
      properties: { responseTopic: 'm5/resp', correlationData: Buffer.from([1, 2, 3]), contentType: 'text/plain', payloadFormatIndicator: true, userProperties: { k: 'v', multi: ['a', 'b'] } },
    })
    const m = await answer
    assert.equal(m.payload.toString(), 're:ping')
    assert.deepEqual(m.properties?.correlationData, Buffer.from([1, 2, 3]))
    const req = await seen
    assert.equal(req.properties?.contentType, 'text/plain')
    assert.equal(req.properties?.payloadFormatIndicator, true)
    assert.deepEqual({ ...req.properties?.userProperties as object }, { k: 'v', multi: ['a', 'b'] })
  })

  test('a subscription identifier comes back on the messages of that subscription', async () => {
    const s = await v5({ ...alice })
    await s.subscribeAsync('m5/si/#', { qos: 1, properties: { subscriptionIdentifier: 42 } })
    const got = next(s)
    await (await v5({ ...alice })).publishAsync('m5/si/x', 'x', { qos: 1 })
    assert.equal((await got).properties?.subscriptionIdentifier, 42)
  })

  test('message expiry: a retained message past its interval is not delivered; one within it comes with what is left', async () => {
    const p = await v5({ ...alice })
    await p.publishAsync('m5/expiry/short', 'gone', { qos: 1, retain: true, properties: { messageExpiryInterval: 1 } })
    await p.publishAsync('m5/expiry/long', 'kept', { qos: 1, retain: true, properties: { messageExpiryInterval: 600 } })
    await sleep(2100)
    const s = await v5({ ...alice })
    const got = collect(s, 1)
    await s.subscribeAsync('m5/expiry/#', { qos: 1 })
    const [m] = await got
    assert.equal(m.topic, 'm5/expiry/long')
    assert.ok(await silence(s, 300), 'the expired one never came')
  })

  test('topic aliases: a PUBLISH with an empty topic and a known alias reaches the topic the alias stands for', async () => {
    const s = await v5({ ...alice })
    await s.subscribeAsync('m5/alias', { qos: 1 })
    const p = await v5({ ...alice })
    const got = collect(s, 2)
    await p.publishAsync('m5/alias', 'one', { qos: 1, properties: { topicAlias: 3 } })
    await p.publishAsync('', 'two', { qos: 1, properties: { topicAlias: 3 } })
    assert.deepEqual((await got).map((m) => [m.topic, m.payload.toString()]), [['m5/alias', 'one'], ['m5/alias', 'two']])
  })

  test("the client's Maximum Packet Size: a larger message is not sent to it, a smaller one is", async () => {
    const s = await v5({ ...alice, properties: { maximumPacketSize: 200 } })
    await s.subscribeAsync('m5/size', { qos: 1 })
    const p = await v5({ ...alice })
    const got = collect(s, 1)
    await p.publishAsync('m5/size', Buffer.alloc(500, 0x61), { qos: 1 })
    await p.publishAsync('m5/size', 'small', { qos: 1 })
    assert.equal((await got)[0].payload.toString(), 'small')
  })

  test("the client's Receive Maximum: no more unacknowledged QoS 1 messages than it allows", async () => {
    const s = await v5({ ...alice, properties: { receiveMaximum: 1 } })
    const held: (() => void)[] = []
    const seen: string[] = []
    s.handleMessage = (packet, cb) => { seen.push(String(packet.payload)); held.push(() => cb()) }
    await s.subscribeAsync('m5/window', { qos: 1 })
    const p = await v5({ ...alice })
    for (const n of ['1', '2', '3']) await p.publishAsync('m5/window', n, { qos: 1 })
    await eventually(() => seen.length === 1, 'the first message')
    await sleep(300)
    assert.deepEqual(seen, ['1'], 'the second waits for the first PUBACK')
    held.shift()!()
    await eventually(() => seen.length === 2, 'the second message')
    held.shift()!()
    await eventually(() => seen.length === 3, 'the third message')
    assert.deepEqual(seen, ['1', '2', '3'])
    held.shift()!()
  })
})

describe('subscription options (MQTT 5.0 §3.8.3.1)', () => {
  test('no local: a client does not get its own messages on that subscription', async () => {
    const c = await v5({ ...alice })
    const other = await v5({ ...alice })
    await c.subscribeAsync('m5/nl', { qos: 1, nl: true })
    const got = collect(c, 1)
    await c.publishAsync('m5/nl', 'mine', { qos: 1 })
    await other.publishAsync('m5/nl', 'theirs', { qos: 1 })
    assert.equal((await got)[0].payload.toString(), 'theirs')
  })

  test('retain as published: the retain flag of a live message is kept with rap, cleared without', async () => {
    const keep = await v5({ ...alice })
    const clear = await v5({ ...alice })
    await keep.subscribeAsync('m5/rap', { qos: 1, rap: true, rh: 2 })
    await clear.subscribeAsync('m5/rap', { qos: 1, rap: false, rh: 2 })
    const a = next(keep)
    const b = next(clear)
    await (await v5({ ...alice })).publishAsync('m5/rap', 'r', { qos: 1, retain: true })
    assert.equal((await a).retain, true)
    assert.equal((await b).retain, false)
  })

  test('retain handling: 0 sends retained messages at every SUBSCRIBE, 1 only for a new subscription, 2 never', async () => {
    await (await v5({ ...alice })).publishAsync('m5/rh', 'stored', { qos: 1, retain: true })
    const count = async (rh: 0 | 1 | 2) => {
      const c = await v5({ ...alice })
      let n = 0
      c.on('message', () => n++)
      await c.subscribeAsync('m5/rh', { qos: 1, rh })
      await c.subscribeAsync('m5/rh', { qos: 1, rh })
      await sleep(300)
      return n
    }
    assert.equal(await count(0), 2)
    assert.equal(await count(1), 1)
    assert.equal(await count(2), 0)
  })
})

describe('sessions and wills', () => {
  test('session expiry: a session is kept for its interval (queued QoS 1 delivered, session present), then dropped', async () => {
    const opts = { ...alice, clientId: 'm5-expiry', clean: false, properties: { sessionExpiryInterval: 2 } }
    const s = await v5(opts)
    await s.subscribeAsync('m5/session', { qos: 1 })
    s.end(true)
    await (await v5({ ...alice })).publishAsync('m5/session', 'while away', { qos: 1 })
    const back = mqtt.connect(h.mqttUrl, { protocolVersion: 5, reconnectPeriod: 0, ...opts })
    open.push(back)
    const got = collect(back, 1)
    const [present] = await new Promise<[boolean]>((resolve) => back.once('connect', (p) => resolve([p.sessionPresent])))
    assert.equal(present, true)
    assert.equal((await got)[0].payload.toString(), 'while away')
    back.end(true)
    await sleep(3500)
    const r = await connack(opts)
    assert.equal(r.sessionPresent, false, 'expired after its Session Expiry Interval')
  })

  test("Clean Start with a Session Expiry Interval: the earlier session's subscriptions no longer count against the limit", async () => {
    const opts = { ...bob, clientId: 'm5-clean-start', properties: { sessionExpiryInterval: 60 } }
    const first = await v5({ ...opts, clean: false })
    assert.deepEqual(await subackCodes(first, ['home/bob/1', 'home/bob/2', 'home/bob/3', 'home/bob/4'], 1), [1, 1, 1, 1])
    first.end(true)
    const again = await v5({ ...opts, clean: true })
    assert.deepEqual(await subackCodes(again, ['home/bob/5'], 1), [1])
  })

  test('will delay: the will comes after its delay; a reconnect within it cancels the will', async () => {
    const w = await v5({ ...alice })
    await w.subscribeAsync('m5/will/#', { qos: 1 })
    const will = (topic: string) => ({ topic, payload: Buffer.from('bye'), qos: 1 as const, retain: false, properties: { willDelayInterval: 1 } })
    const a = await v5({ ...alice, clientId: 'm5-will-a', will: will('m5/will/a'), properties: { sessionExpiryInterval: 30 } })
    const b = await v5({ ...alice, clientId: 'm5-will-b', will: will('m5/will/b'), properties: { sessionExpiryInterval: 30 } })
    const got = collect(w, 1, 6000)
    a.stream.destroy()
    b.stream.destroy()
    // b comes back within its delay: its will is not sent (MQTT-3.1.3-9)
    await v5({ ...alice, clientId: 'm5-will-b', clean: false, properties: { sessionExpiryInterval: 30 } })
    assert.deepEqual((await got).map((m) => m.topic), ['m5/will/a'])
    assert.ok(await silence(w, 1500), 'no will for b')
  })
})

function mosquitto(cmd: string, args: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: 10_000 }, (e, out, err) => resolve({ code: e ? (typeof e.code === 'number' ? e.code : 1) : 0, out, err }))
  })
}

describe("Debian's mosquitto_pub / mosquitto_sub -V mqttv5", requireService(hasMosquittoClients, 'mosquitto-clients'), () => {
  const base = () => ['-V', 'mqttv5', '-p', String(h.ports.mqtt), '-u', alice.username, '-P', alice.password]

  test('a message with a user property and a message expiry, from mosquitto_pub to mosquitto_sub', async () => {
    const sub = mosquitto('mosquitto_sub', [...base(), '-t', 'm5/cli', '-C', '1', '-W', '8', '-F', '%t %p %P'])
    const watcher = await v5({ ...alice })
    await watcher.subscribeAsync('m5/cli', { qos: 1 })
    // mosquitto_sub has subscribed once a message published now reaches it: publish until it exits
    const got = next(watcher)
    let done = false
    void sub.then(() => { done = true })
    while (!done) {
      const r = await mosquitto('mosquitto_pub', [...base(), '-t', 'm5/cli', '-m', 'from-cli', '-q', '1', '-D', 'publish', 'user-property', 'k', 'v', '-D', 'publish', 'message-expiry-interval', '60'])
      assert.equal(r.code, 0, r.err)
      await sleep(100)
    }
    const r = await sub
    assert.equal(r.code, 0, r.err)
    assert.equal(r.out.trim(), 'm5/cli from-cli k:v')
    const m = await got
    assert.deepEqual({ ...m.properties?.userProperties as object }, { k: 'v' })
    assert.ok(Number(m.properties?.messageExpiryInterval) <= 60)
  })

  test('mosquitto_pub -V mqttv5 to a denied topic is told Not authorized, and the server keeps serving', async () => {
    const r = await mosquitto('mosquitto_pub', ['-V', 'mqttv5', '-p', String(h.ports.mqtt), '-u', bob.username, '-P', bob.password, '-t', 'm5/nope', '-m', 'x', '-q', '1', '-d'])
    assert.match(r.out + r.err, /PUBACK.*rc?=?135|Not authori[sz]ed|reason code 135|\(135\)/i)
    const ok = await mosquitto('mosquitto_pub', ['-V', 'mqttv5', '-p', String(h.ports.mqtt), '-u', bob.username, '-P', bob.password, '-t', 'home/bob/x', '-m', 'x', '-q', '1'])
    assert.equal(ok.code, 0, ok.err)
  })
})
