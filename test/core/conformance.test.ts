// Issue 11 item 2: MQTT 3.1.1 conformance of the embedded broker, with raw packets where mqtt.js hides the detail,
// mqtt.js, and mosquitto_pub / mosquitto_sub: zero-length client ids, `$` topics, denied publishes, overlapping
// subscriptions, retained messages and wills.
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { existsSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import type { MqttClient } from 'mqtt'
import { collect, connect, requireService, silence, startTestHerald, type TestHerald } from '../helpers.ts'
import { connectPacket, packet, publishQoSPacket, raw, subscribePacket, type RawConn } from './raw.ts'

// alice owns conf/# and $conf/#; bob may only write home/bob/#
const ACL = `
user alice
topic readwrite conf/#
topic readwrite $conf/#

user bob
topic readwrite home/bob/#
`

let h: TestHerald
const alice = { username: 'alice', password: 'alice-pw' }
const bob = { username: 'bob', password: 'bob-pw' }
const open: MqttClient[] = []
const raws: RawConn[] = []
const hasMosquittoClients = existsSync('/usr/bin/mosquitto_pub') && existsSync('/usr/bin/mosquitto_sub')

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

async function client(opts: Parameters<typeof connect>[1] = {}): Promise<MqttClient> {
  const c = await connect(h.mqttUrl, opts)
  open.push(c)
  return c
}

const service = () => client({ username: h.config['service.username'] as string, password: h.servicePassword })

async function rawConn(): Promise<RawConn> {
  const r = await raw(h.ports.mqtt)
  raws.push(r)
  return r
}

/** bytes received after the first `from` ones, once `n` of them arrived */
async function next(r: RawConn, from: number, n: number): Promise<number[]> {
  const b = await r.bytes(from + n)
  return [...b.subarray(from, from + n)]
}

async function deniedTotal(reason: string): Promise<number> {
  const text = await (await fetch(`${h.metricsUrl}/metrics`)).text()
  const m = text.match(new RegExp(`^herald_mqtt_publish_denied_total\\{reason="${reason}"\\} (\\d+)`, 'm'))
  return m ? Number(m[1]) : 0
}

/** every message `c` gets within `ms` */
function gather(c: MqttClient, ms: number): Promise<{ topic: string; qos: number; retain: boolean; payload: string }[]> {
  const got: { topic: string; qos: number; retain: boolean; payload: string }[] = []
  const on = (topic: string, payload: Buffer, p: { qos: number; retain: boolean }) => got.push({ topic, qos: p.qos, retain: p.retain, payload: payload.toString() })
  c.on('message', on)
  return sleep(ms).then(() => { c.off('message', on); return got })
}

before(async () => {
  const acl = join(process.env.TMPDIR ?? '/tmp', `herald-conformance-acl-${process.pid}.conf`)
  writeFileSync(acl, ACL)
  h = await startTestHerald({ overrides: { 'auth.aclFile': acl } })
  await h.users.add(alice.username, alice.password)
  await h.users.add(bob.username, bob.password)
})

after(async () => {
  for (const c of open) c.end(true)
  for (const r of raws) r.socket.destroy()
  await h.close()
})

describe('zero-length client identifier (MQTT 3.1.1 §3.1.3.1)', () => {
  test('with clean session 0: CONNACK 0x02 (identifier rejected), then the connection is closed (MQTT-3.1.3-8)', async () => {
    const r = await rawConn()
    r.socket.write(connectPacket({ clientId: '', ...alice, clean: false }))
    assert.deepEqual(await next(r, 0, 4), [0x20, 2, 0, 2])
    await r.closed()
  })

  test('with clean session 1: accepted under a unique assigned id (MQTT-3.1.3-6); two such clients do not replace each other', async () => {
    const a = await rawConn()
    const b = await rawConn()
    a.socket.write(connectPacket({ clientId: '', ...alice }))
    b.socket.write(connectPacket({ clientId: '', ...alice }))
    assert.deepEqual(await next(a, 0, 4), [0x20, 2, 0, 0])
    assert.deepEqual(await next(b, 0, 4), [0x20, 2, 0, 0])
    a.socket.write(subscribePacket(1, 'conf/assigned', 1))
    assert.deepEqual(await next(a, 4, 5), [0x90, 3, 0, 1, 1])
    b.socket.write(publishQoSPacket('conf/assigned', 'hi', 1, 9))
    assert.deepEqual(await next(b, 4, 4), [0x40, 2, 0, 9])
    // a's PUBLISH (QoS 1): header, length, topic, packet id, payload
    const got = await a.bytes(9 + 2 + 2 + 'conf/assigned'.length + 2 + 2)
    assert.ok(got.subarray(9).includes(Buffer.from('conf/assigned')))
    assert.ok(got.subarray(9).includes(Buffer.from('hi')))
  })

  test("mosquitto_sub's and mqtt.js' defaults still connect (each sends a generated id)", requireService(hasMosquittoClients, 'mosquitto-clients'), async () => {
    const c = await client({ ...alice })
    assert.ok(c.connected)
    const r = await mosquitto('mosquitto_pub', ['-p', String(h.ports.mqtt), '-u', alice.username, '-P', alice.password, '-t', 'conf/cli', '-m', 'x', '-q', '1'])
    assert.equal(r.code, 0, r.err)
  })
})

describe('topics beginning with $ (MQTT 3.1.1 §4.7.2)', () => {
  // the service account may subscribe to # and +/# (the ACL grants alice no filter that broad)
  test('# and +/# do not match $conf/x (MQTT-4.7.2-1); a filter naming $conf does', async () => {
    const sharp = await service()
    const plus = await service()
    const named = await client({ ...alice })
    await sharp.subscribeAsync('#', { qos: 1 })
    await plus.subscribeAsync('+/#', { qos: 1 })
    await named.subscribeAsync('$conf/#', { qos: 1 })
    const pub = await client({ ...alice })
    const got = collect(named, 1)
    const quiet = Promise.all([silence(sharp, 400), silence(plus, 400)])
    await pub.publishAsync('$conf/x', 'dollar', { qos: 1 })
    assert.equal((await got)[0].topic, '$conf/x')
    assert.deepEqual(await quiet, [true, true])
    // the wildcard subscriptions are live: a normal topic reaches both
    const both = Promise.all([collect(sharp, 1), collect(plus, 1)])
    await pub.publishAsync('conf/x', 'plain', { qos: 1 })
    assert.deepEqual((await both).map(([m]) => m.topic), ['conf/x', 'conf/x'])
  })

  test('a retained $conf message is not sent at SUBSCRIBE to #, but is to $conf/#', async () => {
    const pub = await client({ ...alice })
    await pub.publishAsync('$conf/kept', 'hidden from #', { qos: 1, retain: true })
    await pub.publishAsync('conf/kept', 'kept', { qos: 1, retain: true })
    const sharp = await service()
    const seen = gather(sharp, 500)
    await sharp.subscribeAsync('#', { qos: 1 })
    const topics = (await seen).map((m) => m.topic)
    assert.ok(topics.includes('conf/kept'), topics.join())
    assert.deepEqual(topics.filter((t) => t.startsWith('$')), [])
    const named = await client({ ...alice })
    const got = collect(named, 1)
    await named.subscribeAsync('$conf/#', { qos: 1 })
    assert.equal((await got)[0].topic, '$conf/kept')
    await pub.publishAsync('$conf/kept', '', { qos: 1, retain: true })
    await pub.publishAsync('conf/kept', '', { qos: 1, retain: true })
  })

  test('a persistent session subscribed to # does not get $conf messages queued while it was offline', async () => {
    const opts = { username: h.config['service.username'] as string, password: h.servicePassword, clientId: 'dollar-offline', clean: false }
    const first = await client(opts)
    await first.subscribeAsync('#', { qos: 1 })
    await first.endAsync()
    const pub = await client({ ...alice })
    await pub.publishAsync('$conf/queued', 'not for #', { qos: 1 })
    await pub.publishAsync('conf/queued', 'for #', { qos: 1 })
    const { default: mqtt } = await import('mqtt')
    const again = mqtt.connect(h.mqttUrl, { reconnectPeriod: 0, ...opts })
    open.push(again)
    const topics = (await gather(again, 700)).map((m) => m.topic)
    assert.ok(topics.includes('conf/queued'), topics.join())
    assert.deepEqual(topics.filter((t) => t.startsWith('$')), [])
  })

  test("mosquitto_sub -t '#' gets retained conf/mosq but not $conf/mosq; -t '$conf/#' gets it", requireService(hasMosquittoClients, 'mosquitto-clients'), async () => {
    const pub = await client({ ...alice })
    await pub.publishAsync('$conf/mosq', 'dollar', { qos: 1, retain: true })
    await pub.publishAsync('conf/mosq', 'plain', { qos: 1, retain: true })
    const svc = ['-p', String(h.ports.mqtt), '-u', h.config['service.username'] as string, '-P', h.servicePassword, '-v']
    try {
      // -W 1: collect for one second (exits non-zero on the timeout)
      const all = await mosquitto('mosquitto_sub', [...svc, '-t', '#', '-W', '1'])
      const lines = all.out.trim().split('\n')
      assert.ok(lines.includes('conf/mosq plain'), all.out + all.err)
      assert.deepEqual(lines.filter((l) => l.startsWith('$')), [])
      const named = await mosquitto('mosquitto_sub', [...svc, '-t', '$conf/#', '-C', '1', '-W', '5'])
      assert.equal(named.out.trim(), '$conf/mosq dollar', named.err)
    } finally {
      await pub.publishAsync('$conf/mosq', '', { qos: 1, retain: true })
      await pub.publishAsync('conf/mosq', '', { qos: 1, retain: true })
    }
  })

  test('a client PUBLISH to $SYS/… is acknowledged and dropped: nobody gets it, counted as reserved', async () => {
    const svc = await service()
    await svc.subscribeAsync('$SYS/conformance/#', { qos: 1 })
    const before = await deniedTotal('reserved')
    const c = await client({ ...alice })
    const quiet = silence(svc, 400)
    await c.publishAsync('$SYS/conformance/forged', 'forged', { qos: 1 })
    assert.equal(await quiet, true)
    assert.ok(c.connected)
    assert.equal(await deniedTotal('reserved'), before + 1)
  })

  test('a $ topic the client may not publish to (Paho test_dollar_topics) is acknowledged, reaches nobody', async () => {
    const sharp = await service()
    await sharp.subscribeAsync('+/#', { qos: 2 })
    const c = await client({ ...bob })
    const quiet = silence(sharp, 400)
    await c.publishAsync('$TopicA/B', '', { qos: 1 })
    assert.equal(await quiet, true)
    assert.ok(c.connected)
  })
})

describe('a denied PUBLISH is acknowledged and dropped (MQTT 3.1.1 §3.3.5, MQTT-3.3.5-2)', () => {
  test('QoS 0, 1 and 2 on raw packets: no delivery, PUBACK, PUBREC/PUBCOMP, the connection stays open', async () => {
    const watcher = await service()
    await watcher.subscribeAsync('conf/denied/#', { qos: 2 })
    const before = await deniedTotal('denied')
    const quiet = silence(watcher, 600)
    const r = await rawConn()
    r.socket.write(connectPacket({ clientId: 'bob-denied', ...bob }))
    assert.deepEqual(await next(r, 0, 4), [0x20, 2, 0, 0])
    r.socket.write(Buffer.concat([packet(0x30, Buffer.concat([Buffer.from([0, 13]), Buffer.from('conf/denied/0')]))]))
    r.socket.write(publishQoSPacket('conf/denied/1', 'q1', 1, 7))
    assert.deepEqual(await next(r, 4, 4), [0x40, 2, 0, 7])
    r.socket.write(publishQoSPacket('conf/denied/2', 'q2', 2, 8))
    assert.deepEqual(await next(r, 8, 4), [0x50, 2, 0, 8])
    r.socket.write(packet(0x62, Buffer.from([0, 8])))
    assert.deepEqual(await next(r, 12, 4), [0x70, 2, 0, 8])
    // still connected: PINGREQ gets PINGRESP
    r.socket.write(Buffer.from([0xc0, 0]))
    assert.deepEqual(await next(r, 16, 2), [0xd0, 0])
    assert.equal(await quiet, true)
    assert.equal(await deniedTotal('denied'), before + 3)
  })

  test('mqtt.js: a QoS 1 publish to a denied topic resolves once, the client stays connected and keeps publishing', async () => {
    const watcher = await service()
    await watcher.subscribeAsync(['conf/denied/js', 'home/bob/ok'], { qos: 1 })
    const b = await client({ ...bob })
    let closed = false
    b.on('close', () => { closed = true })
    const quiet = silence(watcher, 400)
    await b.publishAsync('conf/denied/js', 'no', { qos: 1 })
    await b.publishAsync('conf/denied/js', 'no', { qos: 2 })
    assert.equal(await quiet, true)
    const got = collect(watcher, 1)
    await b.publishAsync('home/bob/ok', 'fine', { qos: 1 })
    assert.equal((await got)[0].topic, 'home/bob/ok')
    assert.equal(closed, false)
  })

  test('mosquitto_pub -q 1 to a denied topic exits 0, as against Mosquitto; nothing is delivered', requireService(hasMosquittoClients, 'mosquitto-clients'), async () => {
    const watcher = await service()
    await watcher.subscribeAsync('conf/denied/cli', { qos: 1 })
    const quiet = silence(watcher, 1500)
    const r = await mosquitto('mosquitto_pub', ['-p', String(h.ports.mqtt), '-u', bob.username, '-P', bob.password, '-t', 'conf/denied/cli', '-m', 'x', '-q', '1'])
    assert.equal(r.code, 0, r.err)
    assert.equal(await quiet, true)
  })

  test('a denied retained publish is not stored', async () => {
    const b = await client({ ...bob })
    await b.publishAsync('conf/denied-retained', 'forged', { qos: 1, retain: true })
    const a = await client({ ...alice })
    const seen = gather(a, 400)
    await a.subscribeAsync('conf/denied-retained', { qos: 1 })
    assert.deepEqual(await seen, [])
  })
})

describe('overlapping subscriptions, retained messages and wills', () => {
  // 3.1.1 allows one copy per matching subscription or one in all; Aedes sends one (it dedupes per client)
  test('conf/# (QoS 0) and conf/+ (QoS 1) on one client: a message on conf/b arrives once, at QoS 1 (MQTT-3.3.5-1)', async () => {
    const c = await client({ ...alice })
    await c.subscribeAsync({ 'conf/#': { qos: 0 }, 'conf/+': { qos: 1 } })
    const pub = await client({ ...alice })
    const seen = gather(c, 500)
    await pub.publishAsync('conf/b', 'overlap', { qos: 1 })
    assert.deepEqual((await seen).map((m) => [m.topic, m.qos]), [['conf/b', 1]])
  })

  test('a wildcard subscription gets at most its granted QoS (MQTT 3.1.1 §3.8.4)', async () => {
    const c = await client({ ...alice })
    await c.subscribeAsync('conf/q/+', { qos: 1 })
    const pub = await client({ ...alice })
    const got = collect(c, 1)
    await pub.publishAsync('conf/q/two', 'q2', { qos: 2 })
    assert.equal((await got)[0].qos, 1)
  })

  test('a retained message is sent at SUBSCRIBE with the retain flag at min(its QoS, the subscription QoS); a live one has retain 0 (MQTT-3.3.1-9)', async () => {
    const pub = await client({ ...alice })
    await pub.publishAsync('conf/r/one', 'kept', { qos: 1, retain: true })
    const c = await client({ ...alice })
    const got = collect(c, 1)
    await c.subscribeAsync('conf/r/#', { qos: 0 })
    const [m] = await got
    assert.deepEqual([m.topic, m.retain, m.qos], ['conf/r/one', true, 0])
    const live = collect(c, 1)
    await pub.publishAsync('conf/r/one', 'live', { qos: 1, retain: true })
    const [l] = await live
    assert.deepEqual([l.payload.toString(), l.retain], ['live', false])
    await pub.publishAsync('conf/r/one', '', { qos: 1, retain: true })
  })

  test('one SUBSCRIBE with overlapping filters: the retained message is sent for each filter that matches it (MQTT-3.8.4-4)', async () => {
    const pub = await client({ ...alice })
    await pub.publishAsync('conf/o/r', 'kept', { qos: 1, retain: true })
    const c = await client({ ...alice })
    const seen = gather(c, 500)
    await c.subscribeAsync({ 'conf/o/#': { qos: 1 }, 'conf/o/+': { qos: 1 } })
    const got = await seen
    assert.deepEqual(got.map((m) => [m.topic, m.retain]), [['conf/o/r', true], ['conf/o/r', true]])
    await pub.publishAsync('conf/o/r', '', { qos: 1, retain: true })
  })

  test('a will with retain 1 is published when the client vanishes and kept as the retained message (MQTT-3.1.2-8, -17)', async () => {
    const w = await client({ ...alice, will: { topic: 'conf/will/w', payload: Buffer.from('gone'), qos: 1, retain: true } })
    w.stream.destroy()
    await sleep(300)
    const later = await client({ ...alice })
    const got = collect(later, 1)
    await later.subscribeAsync('conf/will/#', { qos: 1 })
    const [m] = await got
    assert.deepEqual([m.topic, m.payload.toString(), m.retain, m.qos], ['conf/will/w', 'gone', true, 1])
    const pub = await client({ ...alice })
    await pub.publishAsync('conf/will/w', '', { qos: 1, retain: true })
  })

  test('a will is not published after DISCONNECT, and a will to a denied topic is not published (MQTT-3.1.2-10)', async () => {
    const watcher = await service()
    await watcher.subscribeAsync('conf/will2/#', { qos: 1 })
    const quiet = silence(watcher, 500)
    const polite = await client({ ...alice, will: { topic: 'conf/will2/polite', payload: Buffer.from('x'), qos: 1, retain: false } })
    await polite.endAsync()
    const forged = await client({ ...bob, will: { topic: 'conf/will2/forged', payload: Buffer.from('x'), qos: 1, retain: false } })
    forged.stream.destroy()
    assert.equal(await quiet, true)
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

describe('HERALD_MQTT_DENIED_PUBLISH=disconnect', () => {
  let d: TestHerald
  before(async () => {
    const acl = join(process.env.TMPDIR ?? '/tmp', `herald-conformance-acl-dc-${process.pid}.conf`)
    writeFileSync(acl, ACL)
    d = await startTestHerald({ overrides: { 'auth.aclFile': acl, 'mqtt.deniedPublish': 'disconnect' } })
    await d.users.add(bob.username, bob.password)
  })
  after(() => d.close())

  test('a denied PUBLISH closes the connection (the operator chose it); an allowed one does not', async () => {
    const b = await connect(d.mqttUrl, { ...bob, clientId: `dc-${process.pid}` })
    await b.publishAsync('home/bob/ok', 'fine', { qos: 1 })
    assert.equal(b.connected, true)
    const closed = new Promise<void>((r) => b.once('close', () => r()))
    b.publish('conf/denied/dc', 'no', { qos: 1 })
    await closed
    b.end(true)
  })

  test('another value stops the start naming the setting', async () => {
    await assert.rejects(startTestHerald({ overrides: { 'mqtt.deniedPublish': 'ignore' } }), /HERALD_MQTT_DENIED_PUBLISH/)
  })
})
