// Issue 11 item 2: conformance of the embedded broker on MQTT 3.1.1 and MQTT 5 side by side, each behaviour run on
// both protocol levels where both define it: raw packets (mqtt-packet on a plain socket, test/core/hardening-wire.ts)
// where a client library hides the detail (packet ids, DUP, PUBREL after a reconnect), mqtt.js (protocolVersion 4
// and 5) and Debian's mosquitto_pub / mosquitto_sub (-V mqttv311 / -V mqttv5). What conformance.test.ts (3.1.1),
// mqtt5.test.ts and mqtt5-raw.test.ts already cover is not repeated here; the table is in the issue 11 report.
import assert from 'node:assert/strict'
import { execFile, spawn } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import type { IConnackPacket, IPublishPacket, ISubackPacket, IUnsubackPacket, Packet } from 'mqtt-packet'
import mqtt, { type MqttClient } from 'mqtt'
import { collect, connect, eventually, requireService, silence, startTestHerald, type TestHerald } from '../helpers.ts'
import { connectOf, wire, type Wire } from './hardening-wire.ts'

const ACL = `
user alice
topic readwrite cv/#
topic readwrite $cv/#

user bob
topic readwrite home/bob/#
`
const alice = { username: 'alice', password: 'alice-pw' }
const bob = { username: 'bob', password: 'bob-pw' }
const MAX_LEVELS = 8
const VERSIONS = [4, 5] as const
type V = (typeof VERSIONS)[number]
const label = (v: V) => (v === 5 ? 'MQTT 5' : 'MQTT 3.1.1')
const mosqV = (v: V) => (v === 5 ? 'mqttv5' : 'mqttv311')
const hasMosquittoClients = existsSync('/usr/bin/mosquitto_pub') && existsSync('/usr/bin/mosquitto_sub')
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

let h: TestHerald
let aclFile: string
const open: MqttClient[] = []
const wires: Wire[] = []

before(async () => {
  aclFile = join(tmpdir(), `herald-conformance-v5-acl-${process.pid}.conf`)
  writeFileSync(aclFile, ACL)
  h = await startTestHerald({ overrides: { 'auth.aclFile': aclFile, 'mqtt.maxTopicLevels': MAX_LEVELS } })
  await h.users.add(alice.username, alice.password)
  await h.users.add(bob.username, bob.password)
})

after(async () => {
  for (const c of open) c.end(true)
  for (const w of wires) w.socket.destroy()
  await h.close()
})

async function client(v: V, opts: Parameters<typeof connect>[1] = {}, on = h): Promise<MqttClient> {
  const c = await connect(on.mqttUrl, { protocolVersion: v, ...opts })
  open.push(c)
  return c
}
const service = (v: V) => client(v, { username: h.config['service.username'] as string, password: h.servicePassword })

/** a raw connection, CONNACK read; `session` keeps the session (3.1.1 clean session 0; 5: Clean Start 0 + expiry) */
async function rawClient(v: V, clientId: string, o: { session?: boolean; creds?: typeof alice; extra?: Record<string, unknown>; on?: TestHerald } = {}): Promise<{ w: Wire; connack: IConnackPacket }> {
  const w = await wire((o.on ?? h).ports.mqtt, { protocolVersion: v })
  wires.push(w)
  const keep = o.session ? { clean: false, ...(v === 5 ? { properties: { sessionExpiryInterval: 300 } } : {}) } : {}
  w.send(connectOf(clientId, o.creds ?? alice, { ...keep, ...o.extra }, v))
  const connack = await w.next('connack') as IConnackPacket
  assert.equal(v === 5 ? connack.reasonCode : connack.returnCode, 0, 'CONNACK accepted')
  return { w, connack }
}

/** the packets of `cmd` received so far */
const all = <T extends Packet>(w: Wire, cmd: string) => w.packets.filter((p) => p.cmd === cmd) as T[]

function mosquitto(cmd: 'mosquitto_pub' | 'mosquitto_sub', args: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(cmd, ['-h', '127.0.0.1', '-p', String(h.ports.mqtt), ...args], { timeout: 15_000 }, (e, out, err) => {
      resolve({ code: e ? (typeof (e as { code?: unknown }).code === 'number' ? (e as { code: number }).code : -1) : 0, out, err })
    })
  })
}
const aliceArgs = ['-u', alice.username, '-P', alice.password]

describe('zero-length client identifier', () => {
  // MQTT 5 §3.1.3.1: no Clean Start condition (MQTT-3.1.3-6, -7); 3.1.1 §3.1.3.1 refuses it without clean session
  // (conformance.test.ts, mqtt5-raw.test.ts)
  test('MQTT 5: two zero-length ids get two different Assigned Client Identifiers, neither takes the other over, both are served', async () => {
    const a = await rawClient(5, '')
    const b = await rawClient(5, '')
    const ida = a.connack.properties?.assignedClientIdentifier
    const idb = b.connack.properties?.assignedClientIdentifier
    assert.ok(ida && idb)
    assert.notEqual(ida, idb)
    a.w.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'cv/zero', qos: 1 }] })
    await a.w.next('suback')
    b.w.send({ cmd: 'publish', topic: 'cv/zero', payload: Buffer.from('z'), qos: 1, messageId: 2, retain: false, dup: false })
    assert.equal((await b.w.next('puback') as { reasonCode?: number }).reasonCode ?? 0, 0)
    assert.equal(String((await a.w.next('publish') as IPublishPacket).payload), 'z')
    assert.equal(all(a.w, 'disconnect').length + all(b.w, 'disconnect').length, 0)
  })

  test('MQTT 3.1.1: with clean session 1 the assigned session is not kept: Session Present 0 (MQTT-3.2.2-1)', async () => {
    const a = await rawClient(4, '')
    assert.equal(a.connack.sessionPresent, false)
  })
})

describe('topics beginning with $ (MQTT 3.1.1 §4.7.2, MQTT 5 §4.7.2)', () => {
  // MQTT 3.1.1 is covered in conformance.test.ts with the same ACL shape
  test('MQTT 5: # and +/# do not match $cv/x (MQTT-4.7.2-1); $cv/# does; retained $cv is not sent at SUBSCRIBE to #', async () => {
    const sharp = await service(5)
    const plus = await service(5)
    const named = await client(5, alice)
    await sharp.subscribeAsync('#', { qos: 1 })
    await plus.subscribeAsync('+/#', { qos: 1 })
    await named.subscribeAsync('$cv/#', { qos: 1 })
    const pub = await client(5, alice)
    const got = collect(named, 1)
    const quiet = Promise.all([silence(sharp, 400), silence(plus, 400)])
    await pub.publishAsync('$cv/x', 'dollar', { qos: 1, retain: true })
    assert.equal((await got)[0].topic, '$cv/x')
    assert.deepEqual(await quiet, [true, true])
    const late = await service(5)
    const seen = silence(late, 400)
    await late.subscribeAsync('#', { qos: 1, rh: 0 })
    assert.equal(await seen, true, 'no retained $cv/x at SUBSCRIBE to #')
    await pub.publishAsync('$cv/x', '', { qos: 1, retain: true })
  })

  for (const v of VERSIONS) {
    test(`${label(v)}: mosquitto_sub -V ${mosqV(v)} -t '+/#' does not get a $cv message, -t '$cv/+' does`, requireService(hasMosquittoClients, 'mosquitto-clients'), async () => {
      const pub = await client(v, alice)
      await pub.publishAsync(`$cv/m${v}`, 'dollar', { qos: 1, retain: true })
      await pub.publishAsync(`cv/m${v}`, 'plain', { qos: 1, retain: true })
      const svc = ['-V', mosqV(v), '-u', h.config['service.username'] as string, '-P', h.servicePassword, '-v']
      try {
        const wild = await mosquitto('mosquitto_sub', [...svc, '-t', '+/#', '-W', '1'])
        const lines = wild.out.trim().split('\n')
        assert.ok(lines.includes(`cv/m${v} plain`), wild.out + wild.err)
        assert.deepEqual(lines.filter((l) => l.startsWith('$')), [])
        const named = await mosquitto('mosquitto_sub', [...svc, '-t', '$cv/+', '-C', '1', '-W', '5'])
        assert.equal(named.out.trim(), `$cv/m${v} dollar`, named.err)
      } finally {
        await pub.publishAsync(`$cv/m${v}`, '', { qos: 1, retain: true })
        await pub.publishAsync(`cv/m${v}`, '', { qos: 1, retain: true })
      }
    })
  }
})

describe('overlapping subscriptions (MQTT 3.1.1 §3.3.5, MQTT 5 §3.3.4)', () => {
  for (const v of VERSIONS) {
    for (const [first, second] of [[0, 1], [1, 0], [2, 0]] as const) {
      test(`${label(v)}: cv/ov${first}${second}/# at QoS ${first} and cv/ov${first}${second}/+ at QoS ${second}: one copy at the highest granted QoS (MQTT-3.3.5-1, MQTT-3.3.4-2)`, async () => {
        const base = `cv/ov${first}${second}${v}`
        const c = await client(v, alice)
        await c.subscribeAsync(`${base}/#`, { qos: first })
        await c.subscribeAsync(`${base}/+`, { qos: second })
        const pub = await client(v, alice)
        const got = collect(c, 1)
        await pub.publishAsync(`${base}/b`, 'overlap', { qos: 2 })
        assert.equal((await got)[0].qos, Math.max(first, second))
        assert.equal(await silence(c, 300), true, 'one copy')
      })
    }
  }

  test('MQTT 5: no local on one of two overlapping subscriptions: the other still delivers the own message', async () => {
    const c = await client(5, alice)
    await c.subscribeAsync('cv/nlo/#', { qos: 1, nl: true })
    await c.subscribeAsync('cv/nlo/+', { qos: 1, nl: false })
    const got = collect(c, 1)
    await c.publishAsync('cv/nlo/x', 'mine', { qos: 1 })
    assert.equal((await got)[0].payload.toString(), 'mine')
  })

  test('MQTT 5: overlapping subscriptions with Subscription Identifiers: the one copy carries the identifiers of every matching subscription (MQTT-3.3.4-4)', async () => {
    const c = await client(5, alice)
    await c.subscribeAsync('cv/si/#', { qos: 1, properties: { subscriptionIdentifier: 7 } })
    await c.subscribeAsync('cv/si/+', { qos: 1, properties: { subscriptionIdentifier: 9 } })
    const ids: unknown[] = []
    c.on('message', (_t, _p, packet) => ids.push(packet.properties?.subscriptionIdentifier))
    const pub = await client(5, alice)
    await pub.publishAsync('cv/si/x', 'x', { qos: 1 })
    await eventually(() => ids.length === 1, 'the message')
    await sleep(300)
    assert.equal(ids.length, 1, 'one copy')
    assert.deepEqual([ids[0]].flat().sort(), [7, 9])
    // a topic only one of them matches: that one's identifier alone; the retained copy a new subscription brings: its own
    const one = collect(c, 1)
    await pub.publishAsync('cv/si/x/y', 'y', { qos: 1 })
    assert.deepEqual((await one)[0].payload.toString(), 'y')
    await eventually(() => ids.length === 2, 'the second message')
    assert.equal(ids[1], 7)
    await pub.publishAsync('cv/si/r', 'kept', { qos: 1, retain: true })
    await eventually(() => ids.length === 3, 'the live retained message')
    assert.deepEqual([ids[2]].flat().sort(), [7, 9])
    const late = await client(5, alice)
    const lateIds: unknown[] = []
    late.on('message', (_t, _p, packet) => lateIds.push(packet.properties?.subscriptionIdentifier))
    await late.subscribeAsync('cv/si/+', { qos: 1, properties: { subscriptionIdentifier: 11 } })
    await late.subscribeAsync('cv/si/#', { qos: 1, properties: { subscriptionIdentifier: 12 } })
    await eventually(() => lateIds.length === 2, 'the retained message, once per SUBSCRIBE')
    assert.deepEqual(lateIds, [11, 12])
    await pub.publishAsync('cv/si/r', '', { qos: 1, retain: true })
  })

  test('MQTT 5: a message queued for a session while its client was away carries the identifiers of its matching subscriptions', async () => {
    const session = { ...alice, clientId: 'cv-si-away', clean: false, properties: { sessionExpiryInterval: 300 } }
    const c = await client(5, session)
    await c.subscribeAsync('cv/siaway/#', { qos: 1, properties: { subscriptionIdentifier: 21 } })
    await c.subscribeAsync('cv/siaway/+', { qos: 1, properties: { subscriptionIdentifier: 22 } })
    await c.endAsync()
    const pub = await client(5, alice)
    await pub.publishAsync('cv/siaway/x', 'x', { qos: 1 })
    await pub.publishAsync('cv/siaway/x/y', 'y', { qos: 1 })
    const back = mqtt.connect(h.mqttUrl, { ...session, protocolVersion: 5, reconnectPeriod: 0 })
    open.push(back)
    const ids: unknown[] = []
    back.on('message', (_t, _p, packet) => ids.push(packet.properties?.subscriptionIdentifier))
    await eventually(() => ids.length === 2, 'the two queued messages')
    await sleep(300)
    // one copy of each, as a connected client gets (the queue holds one per session, not one per matching subscription)
    assert.deepEqual([ids.length, [ids[0]].flat().sort(), ids[1]], [2, [21, 22], 21])
  })

  for (const v of VERSIONS) {
    test(`${label(v)}: a QoS 2 message queued for a session whose matching subscription is QoS 1 arrives at QoS 1, as it would live (MQTT-3.8.4-8)`, async () => {
      const session = { ...alice, clientId: `cv-qos-away-${v}`, clean: false, ...(v === 5 ? { properties: { sessionExpiryInterval: 300 } } : {}) }
      const c = await client(v, session)
      await c.subscribeAsync(`cv/qaway${v}/+`, { qos: 1 })
      const live = collect(c, 1)
      const pub = await client(v, alice)
      await pub.publishAsync(`cv/qaway${v}/live`, 'live', { qos: 2 })
      assert.equal((await live)[0].qos, 1, 'live')
      await c.endAsync()
      await pub.publishAsync(`cv/qaway${v}/queued`, 'queued', { qos: 2 })
      const back = mqtt.connect(h.mqttUrl, { ...session, protocolVersion: v, reconnectPeriod: 0 })
      open.push(back)
      const got = await collect(back, 1)
      assert.deepEqual(got.map((m) => [m.payload.toString(), m.qos]), [['queued', 1]])
      // acknowledged at QoS 1, the message is gone from the session: nothing comes again on the next connection
      back.end()
      await new Promise<void>((r) => back.once('close', () => r()))
      const again = mqtt.connect(h.mqttUrl, { ...session, protocolVersion: v, reconnectPeriod: 0 })
      open.push(again)
      assert.equal(await silence(again, 800), true)
    })
  }
})

describe('retained messages (MQTT 3.1.1 §3.3.1.3, MQTT 5 §3.3.1.3)', () => {
  for (const v of VERSIONS) {
    test(`${label(v)}: set, replaced by the next retained PUBLISH, cleared by an empty payload (sent as normal to current subscribers, then gone)`, async () => {
      const topic = `cv/ret${v}/t`
      const pub = await client(v, alice)
      await pub.publishAsync(topic, 'one', { qos: 1, retain: true })
      await pub.publishAsync(topic, 'two', { qos: 1, retain: true })
      const s = await client(v, alice)
      const first = collect(s, 1)
      await s.subscribeAsync(topic, { qos: 1 })
      const [m] = await first
      assert.deepEqual([m.payload.toString(), m.retain], ['two', true])
      assert.equal(await silence(s, 300), true, 'only the latest retained message (MQTT-3.3.1-5)')
      const cleared = collect(s, 1)
      await pub.publishAsync(topic, '', { qos: 1, retain: true })
      const [c] = await cleared
      assert.deepEqual([c.payload.length, c.retain], [0, false], 'a live message, retain 0 (MQTT-3.3.1-9)')
      const late = await client(v, alice)
      const quiet = silence(late, 400)
      await late.subscribeAsync(topic, { qos: 1 })
      assert.equal(await quiet, true, 'nothing retained after the empty payload (MQTT-3.3.1-10, -11)')
    })

    test(`${label(v)}: a retained QoS 0 message replaces a QoS 1 one; a non-retained PUBLISH leaves it (MQTT-3.3.1-12)`, async () => {
      const topic = `cv/retq${v}/t`
      const pub = await client(v, alice)
      await pub.publishAsync(topic, 'q1', { qos: 1, retain: true })
      await pub.publishAsync(topic, 'q0', { qos: 0, retain: true })
      await pub.publishAsync(topic, 'live', { qos: 1, retain: false })
      const s = await client(v, alice)
      const got = collect(s, 1)
      await s.subscribeAsync(topic, { qos: 1 })
      const [m] = await got
      assert.deepEqual([m.payload.toString(), m.qos, m.retain], ['q0', 0, true])
      await pub.publishAsync(topic, '', { qos: 1, retain: true })
    })

    test(`${label(v)}: mosquitto_pub -V ${mosqV(v)} -r sets, -r -n clears; mosquitto_sub --retained-only sees it, then nothing`, requireService(hasMosquittoClients, 'mosquitto-clients'), async () => {
      const topic = `cv/retcli${v}`
      const base = ['-V', mosqV(v), ...aliceArgs, '-t', topic]
      assert.equal((await mosquitto('mosquitto_pub', [...base, '-r', '-q', '1', '-m', 'kept'])).code, 0)
      const seen = await mosquitto('mosquitto_sub', [...base, '--retained-only', '-C', '1', '-W', '5', '-F', '%r %p'])
      assert.equal(seen.out.trim(), '1 kept', seen.err)
      assert.equal((await mosquitto('mosquitto_pub', [...base, '-r', '-q', '1', '-n'])).code, 0)
      const none = await mosquitto('mosquitto_sub', [...base, '--retained-only', '-W', '1'])
      assert.equal(none.out.trim(), '')
    })
  }

  test('MQTT 5: a retained message sent at SUBSCRIBE has retain 1 whatever Retain As Published says (MQTT-3.3.1-8)', async () => {
    const pub = await client(5, alice)
    await pub.publishAsync('cv/rap5', 'kept', { qos: 1, retain: true })
    for (const rap of [false, true]) {
      const s = await client(5, alice)
      const got = collect(s, 1)
      await s.subscribeAsync('cv/rap5', { qos: 1, rap })
      assert.equal((await got)[0].retain, true, `rap ${rap}`)
    }
    await pub.publishAsync('cv/rap5', '', { qos: 1, retain: true })
  })
})

describe('will messages (MQTT 3.1.1 §3.1.2.5, MQTT 5 §3.1.2.5, §3.14.2.1)', () => {
  test('MQTT 5: an abnormal close sends the will; DISCONNECT 0x00 does not; DISCONNECT 0x04 (Disconnect with Will Message) does', async () => {
    const watcher = await client(5, alice)
    await watcher.subscribeAsync('cv/will5/#', { qos: 1 })
    const will = (t: string) => ({ will: { topic: `cv/will5/${t}`, payload: Buffer.from(t), qos: 1, retain: false } })
    const vanish = await rawClient(5, 'cv-will-vanish', { extra: will('vanish') })
    const polite = await rawClient(5, 'cv-will-polite', { extra: will('polite') })
    const asks = await rawClient(5, 'cv-will-asks', { extra: will('asks') })
    const got = collect(watcher, 2)
    vanish.w.socket.destroy()
    polite.w.send({ cmd: 'disconnect', reasonCode: 0 })
    asks.w.send({ cmd: 'disconnect', reasonCode: 0x04 })
    assert.deepEqual((await got).map((m) => m.topic).sort(), ['cv/will5/asks', 'cv/will5/vanish'])
    assert.equal(await silence(watcher, 400), true, 'no will after DISCONNECT 0x00 (MQTT-3.1.2-10)')
  })

  for (const v of VERSIONS) {
    // mosquitto_sub ends on SIGINT with DISCONNECT; under MQTT 5 its reason code is 0x04 (Disconnect with Will Message)
    test(`${label(v)}: mosquitto_sub -V ${mosqV(v)} --will-topic killed with SIGKILL: its will is published; ended with SIGINT: ${v === 5 ? 'too (DISCONNECT 0x04)' : 'not (DISCONNECT)'}`, requireService(hasMosquittoClients, 'mosquitto-clients'), async () => {
      const watcher = await client(v, alice)
      await watcher.subscribeAsync(`cv/willcli${v}/w/#`, { qos: 1 })
      const run = (name: string) => spawn('mosquitto_sub', ['-h', '127.0.0.1', '-p', String(h.ports.mqtt), '-V', mosqV(v), ...aliceArgs,
        '-i', `cv-willcli-${name}-${v}`, '-t', `cv/willcli${v}/none`, '--will-topic', `cv/willcli${v}/w/${name}`, '--will-payload', name, '--will-qos', '1'])
      // each mosquitto_sub prints the retained ready message once it is subscribed
      await (await client(v, alice)).publishAsync(`cv/willcli${v}/none`, 'ready', { qos: 1, retain: true })
      const subscribed = (p: ReturnType<typeof run>) => new Promise<void>((resolve) => p.stdout.on('data', (d: Buffer) => { if (d.includes('ready')) resolve() }))
      const killed = run('killed')
      const stopped = run('stopped')
      try {
        await Promise.all([subscribed(killed), subscribed(stopped)])
        const expected = v === 5 ? ['killed', 'stopped'] : ['killed']
        const got = collect(watcher, expected.length)
        const exited = new Promise((r) => stopped.once('exit', r))
        stopped.kill('SIGINT')
        await exited
        killed.kill('SIGKILL')
        assert.deepEqual((await got).map((m) => m.topic).sort(), expected.map((n) => `cv/willcli${v}/w/${n}`))
        assert.equal(await silence(watcher, 400), true)
      } finally {
        killed.kill('SIGKILL')
        stopped.kill('SIGKILL')
        await (await client(v, alice)).publishAsync(`cv/willcli${v}/none`, '', { qos: 1, retain: true })
      }
    })
  }
})

describe('keep-alive (MQTT 3.1.1 §3.1.2.10, MQTT 5 §3.1.2.10, §3.2.2.3.14)', () => {
  let k: TestHerald
  before(async () => {
    k = await startTestHerald({ overrides: { 'auth.aclFile': aclFile, 'mqtt.keepaliveLimit': 2 } })
    await k.users.add(alice.username, alice.password)
  })
  after(() => k.close())

  for (const v of VERSIONS) {
    test(`${label(v)}: silent past 1.5 × keep-alive: closed, and its will published (MQTT-3.1.2-24, MQTT-3.1.2-8)`, async () => {
      const watcher = await client(v, alice, k)
      await watcher.subscribeAsync(`cv/ka${v}`, { qos: 1 })
      const got = collect(watcher, 1, 10_000)
      const { w } = await rawClient(v, `cv-ka-silent-${v}`, { on: k, extra: { keepalive: 1, will: { topic: `cv/ka${v}`, payload: Buffer.from('timed out'), qos: 1, retain: false } } })
      await w.closed(10_000)
      assert.equal((await got)[0].payload.toString(), 'timed out')
    })

    test(`${label(v)}: a packet every 1.1 × keep-alive keeps the connection (the server waits 1.5 ×)`, async () => {
      const { w } = await rawClient(v, `cv-ka-late-${v}`, { on: k, extra: { keepalive: 2 } })
      for (let i = 0; i < 3; i++) {
        await sleep(2200)
        w.send({ cmd: 'pingreq' })
        await w.next('pingresp')
      }
      assert.equal(w.isClosed, false)
    })
  }

  test('MQTT 5: a client asking for keep-alive 60 is told Server Keep Alive 2 and held to it (MQTT-3.2.2-21)', async () => {
    const { w, connack } = await rawClient(5, 'cv-ka-server', { on: k, extra: { keepalive: 60 } })
    assert.equal(connack.properties?.serverKeepAlive, 2)
    await w.closed(10_000)
  })

  test('MQTT 3.1.1: the Server Keep Alive limit does not apply (3.1.1 has no way to say it): keep-alive 60 is kept', async () => {
    const { w } = await rawClient(4, 'cv-ka-311', { on: k, extra: { keepalive: 60 } })
    await sleep(3500)
    assert.equal(w.isClosed, false)
  })
})

/** Reconnecting the same session: in-process, or across a Herald restart on the same data directory. */
interface Setup { name: string; start(): Promise<TestHerald>; restart(s: TestHerald): Promise<TestHerald>; stop(s: TestHerald): Promise<void> }
const inProcess: Setup = {
  name: 'a reconnect',
  start: async () => h,
  restart: async (s) => s,
  stop: async () => {},
}
const acrossRestart = (): Setup => {
  const dir = mkdtempSync(join(tmpdir(), 'herald-conformance-restart-'))
  const start = async () => {
    const s = await startTestHerald({ overrides: { 'auth.aclFile': aclFile, dataDir: dir } })
    if (!(await s.users.find(alice.username))) await s.users.add(alice.username, alice.password)
    return s
  }
  return {
    name: 'a Herald restart (same data directory)',
    start,
    restart: async (s) => { await s.stop(); rmSync(s.dataDir, { recursive: true, force: true }); return start() },
    stop: async (s) => { await s.close(); rmSync(dir, { recursive: true, force: true }) },
  }
}

describe('QoS 2 exactly once across reconnects (MQTT 3.1.1 §4.3.3, §4.4; MQTT 5 §4.3.3, §4.4)', () => {
  for (const mk of [() => inProcess, acrossRestart]) {
    for (const v of VERSIONS) {
      const setup = mk()
      test(`${label(v)}, across ${setup.name}: the broker's PUBREL is sent again, not the PUBLISH; PUBCOMP ends it; delivered once (MQTT-4.4.0-1)`, async () => {
        let s = await setup.start()
        try {
          const id = `cv-q2-out-${v}-${setup === inProcess ? 'r' : 's'}`
          const sub = await rawClient(v, id, { session: true, on: s })
          sub.w.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: `cv/q2out${v}`, qos: 2 }] })
          await sub.w.next('suback')
          const pub = await client(v, alice, s)
          await pub.publishAsync(`cv/q2out${v}`, 'once', { qos: 2 })
          pub.end(true)
          const p = await sub.w.next('publish') as IPublishPacket
          sub.w.send({ cmd: 'pubrec', messageId: p.messageId })
          await sub.w.next('pubrel')
          sub.w.socket.destroy()
          s = await setup.restart(s)
          const again = await rawClient(v, id, { session: true, on: s })
          assert.equal(again.connack.sessionPresent, true)
          const rel = await again.w.next('pubrel') as { messageId: number }
          assert.equal(rel.messageId, p.messageId)
          again.w.send({ cmd: 'pubcomp', messageId: rel.messageId })
          await sleep(400)
          assert.deepEqual(all(again.w, 'publish'), [], 'the message is not sent again')
          again.w.socket.destroy()
          const third = await rawClient(v, id, { session: true, on: s })
          await sleep(400)
          assert.deepEqual([all(third.w, 'publish').length, all(third.w, 'pubrel').length], [0, 0], 'nothing left after PUBCOMP')
        } finally {
          await setup.stop(s)
        }
      })

      test(`${label(v)}, across ${setup.name}: a client's PUBLISH PUBRECed, then PUBLISH again (DUP) and PUBREL after reconnecting: PUBCOMP, one delivery (MQTT-4.3.3-2)`, async () => {
        let s = await setup.start()
        try {
          const id = `cv-q2-in-${v}-${setup === inProcess ? 'r' : 's'}`
          const watcher = await rawClient(v, `${id}-watch`, { session: true, on: s })
          watcher.w.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: `cv/q2in${v}`, qos: 1 }] })
          await watcher.w.next('suback')
          watcher.w.socket.destroy()
          const pub = await rawClient(v, id, { session: true, on: s })
          const publish = { cmd: 'publish', topic: `cv/q2in${v}`, payload: Buffer.from('exactly-once'), qos: 2, messageId: 42, retain: false, dup: false }
          pub.w.send(publish)
          assert.equal((await pub.w.next('pubrec') as { messageId: number }).messageId, 42)
          pub.w.socket.destroy()
          s = await setup.restart(s)
          const back = await rawClient(v, id, { session: true, on: s })
          back.w.send({ ...publish, dup: true })
          assert.equal((await back.w.next('pubrec') as { messageId: number }).messageId, 42)
          back.w.send({ cmd: 'pubrel', messageId: 42 })
          const comp = await back.w.next('pubcomp') as { messageId: number; reasonCode?: number }
          assert.deepEqual([comp.messageId, comp.reasonCode ?? 0], [42, 0])
          const w2 = await rawClient(v, `${id}-watch`, { session: true, on: s })
          const m = await w2.w.next('publish') as IPublishPacket
          w2.w.send({ cmd: 'puback', messageId: m.messageId })
          assert.equal(String(m.payload), 'exactly-once')
          await sleep(400)
          assert.equal(all(w2.w, 'publish').length, 1, 'delivered once')
        } finally {
          await setup.stop(s)
        }
      })
    }
  }
})

describe('redelivery on reconnect with DUP (MQTT 3.1.1 §4.4, MQTT-3.3.1-1; MQTT 5 §4.4)', () => {
  for (const mk of [() => inProcess, acrossRestart]) {
    for (const v of VERSIONS) {
      const setup = mk()
      test(`${label(v)}, across ${setup.name}: unacknowledged QoS 1 and QoS 2 PUBLISHes come again with DUP 1 and their packet ids; acknowledged, not again`, async () => {
        let s = await setup.start()
        try {
          const id = `cv-dup-${v}-${setup === inProcess ? 'r' : 's'}`
          const sub = await rawClient(v, id, { session: true, on: s })
          sub.w.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: `cv/dup${v}/+`, qos: 2 }] })
          await sub.w.next('suback')
          const pub = await client(v, alice, s)
          await pub.publishAsync(`cv/dup${v}/one`, 'q1', { qos: 1 })
          await pub.publishAsync(`cv/dup${v}/two`, 'q2', { qos: 2 })
          pub.end(true)
          const first = [await sub.w.next('publish'), await sub.w.next('publish')] as IPublishPacket[]
          assert.deepEqual(first.map((p) => [p.qos, p.dup]).sort(), [[1, false], [2, false]])
          sub.w.socket.destroy()
          s = await setup.restart(s)
          const again = await rawClient(v, id, { session: true, on: s })
          const second = [await again.w.next('publish'), await again.w.next('publish')] as IPublishPacket[]
          const key = (p: IPublishPacket) => `${p.topic} ${p.qos} ${p.messageId}`
          assert.deepEqual(second.map(key).sort(), first.map(key).sort(), 'the same messages, with their packet ids')
          assert.ok(second.every((p) => p.dup), 'DUP 1 (MQTT-3.3.1-1)')
          for (const p of second) again.w.send({ cmd: p.qos === 1 ? 'puback' : 'pubrec', messageId: p.messageId })
          const rel = await again.w.next('pubrel') as { messageId: number }
          again.w.send({ cmd: 'pubcomp', messageId: rel.messageId })
          await sleep(300)
          again.w.socket.destroy()
          const third = await rawClient(v, id, { session: true, on: s })
          await sleep(400)
          assert.deepEqual(all(third.w, 'publish'), [], 'acknowledged: not sent again')
        } finally {
          await setup.stop(s)
        }
      })
    }
  }
})

describe('unsubscribe (MQTT 3.1.1 §3.10, MQTT 5 §3.10, §3.11)', () => {
  for (const v of VERSIONS) {
    test(`${label(v)}: UNSUBACK with the packet id, also for a filter never subscribed (MQTT-3.10.4-4, -5); no message after it`, async () => {
      const { w } = await rawClient(v, `cv-unsub-${v}`)
      w.send({ cmd: 'subscribe', messageId: 3, subscriptions: [{ topic: `cv/uns${v}/a`, qos: 1 }] })
      await w.next('suback')
      w.send({ cmd: 'unsubscribe', messageId: 4, unsubscriptions: [`cv/uns${v}/a`, `cv/uns${v}/never`] })
      const ack = await w.next('unsuback') as IUnsubackPacket
      assert.equal(ack.messageId, 4)
      if (v === 5) assert.deepEqual(ack.granted, [0x00, 0x11], '0x11 No subscription existed (MQTT 5 §3.11.3)')
      const pub = await client(v, alice)
      await pub.publishAsync(`cv/uns${v}/a`, 'after', { qos: 1 })
      await sleep(400)
      assert.deepEqual(all(w, 'publish'), [])
    })

    test(`${label(v)}: an UNSUBSCRIBE in a persistent session is kept: after a reconnect nothing is queued for that filter`, async () => {
      const id = `cv-unsub-persist-${v}`
      const first = await rawClient(v, id, { session: true })
      first.w.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: `cv/unsp${v}/a`, qos: 1 }, { topic: `cv/unsp${v}/b`, qos: 1 }] })
      await first.w.next('suback')
      first.w.send({ cmd: 'unsubscribe', messageId: 2, unsubscriptions: [`cv/unsp${v}/a`] })
      await first.w.next('unsuback')
      first.w.socket.destroy()
      const pub = await client(v, alice)
      await pub.publishAsync(`cv/unsp${v}/a`, 'gone', { qos: 1 })
      await pub.publishAsync(`cv/unsp${v}/b`, 'kept', { qos: 1 })
      const again = await rawClient(v, id, { session: true })
      const m = await again.w.next('publish') as IPublishPacket
      assert.deepEqual([m.topic, m.dup], [`cv/unsp${v}/b`, false], 'queued while away: a first delivery, DUP 0')
      await sleep(300)
      assert.equal(all(again.w, 'publish').length, 1)
    })
  }
})

describe('subscribe failure codes (MQTT 3.1.1 §3.9.3, MQTT 5 §3.9.3)', () => {
  const deep = Array.from({ length: MAX_LEVELS + 1 }, (_, i) => `l${i}`).join('/')
  const codes = async (v: V, filters: string[], props?: Record<string, unknown>) => {
    const { w } = await rawClient(v, `cv-subfail-${v}-${Math.random().toString(36).slice(2, 8)}`, { creds: bob })
    w.send({ cmd: 'subscribe', messageId: 5, subscriptions: filters.map((topic) => ({ topic, qos: 1 })), ...(props ? { properties: props } : {}) })
    const ack = await w.next('suback') as ISubackPacket
    assert.equal(ack.messageId, 5)
    return { w, granted: ack.granted }
  }

  test('MQTT 3.1.1: one SUBACK code per filter, in order: granted QoS, 0x80 for a denied filter and for one over the broker\'s levels (MQTT-3.9.3-1)', async () => {
    const { granted } = await codes(4, ['home/bob/a', 'cv/secret', `home/bob/${deep}`])
    assert.deepEqual(granted, [1, 0x80, 0x80])
  })

  test('MQTT 5: 0x87 Not authorized, 0x8F Topic Filter invalid (over the levels), granted QoS beside them', async () => {
    const { granted } = await codes(5, ['cv/secret', `home/bob/${deep}`, 'home/bob/ok'])
    assert.deepEqual(granted, [0x87, 0x8f, 1])
  })

  test('MQTT 5: $share/… is refused 0x9E (Shared Subscriptions not supported), as CONNACK says (Shared Subscription Available 0)', async () => {
    const { w, connack } = await rawClient(5, 'cv-share', { creds: bob })
    assert.equal(connack.properties?.sharedSubscriptionAvailable, false)
    w.send({ cmd: 'subscribe', messageId: 6, subscriptions: [{ topic: '$share/g/home/bob/x', qos: 1 }, { topic: 'home/bob/x', qos: 0 }] })
    assert.deepEqual((await w.next('suback') as ISubackPacket).granted, [0x9e, 0])
  })

  test('MQTT 5: Subscription Identifiers are available (so never 0xA1): CONNACK does not deny them, a SUBSCRIBE with one is granted; identifier 0 is a Protocol Error (DISCONNECT 0x82, MQTT-3.8.2-1)', async () => {
    const { connack } = await rawClient(5, 'cv-subid', { creds: bob })
    assert.notEqual(connack.properties?.subscriptionIdentifiersAvailable, false)
    const ok = await codes(5, ['home/bob/si'], { subscriptionIdentifier: 268435455 })
    assert.deepEqual(ok.granted, [1])
    const { w } = await rawClient(5, 'cv-subid-zero', { creds: bob })
    // mqtt-packet will not encode identifier 0: the SUBSCRIBE byte for byte (packet id 7, properties [0x0B 0], one filter)
    w.socket.write(Buffer.from([0x82, 0x10, 0x00, 0x07, 0x02, 0x0b, 0x00, 0x00, 0x08, ...Buffer.from('home/bob'), 0x01]))
    assert.equal((await w.next('disconnect') as { reasonCode: number }).reasonCode, 0x82)
  })

  test('MQTT 5: mosquitto_sub -V mqttv5 on a denied filter is told so and exits', requireService(hasMosquittoClients, 'mosquitto-clients'), async () => {
    const r = await mosquitto('mosquitto_sub', ['-V', 'mqttv5', '-u', bob.username, '-P', bob.password, '-t', 'cv/secret', '-W', '5'])
    assert.match(r.err + r.out, /denied/i)
  })
})
