// Issue 11 item 3 bar: Herald as a real child process is killed with SIGKILL while a publisher sends QoS 1 to a
// persistent offline subscriber; started again on the same database, the subscriber gets every PUBACKed message.
// Subscriptions, retained messages and QoS 2 in-flight state (incoming awaiting PUBREL, outgoing PUBREL awaiting
// PUBCOMP) survive the same way. On SQLite (a file) and PostgreSQL.
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import mqtt, { type MqttClient } from 'mqtt'
import mqttPacket from 'mqtt-packet'
import { createPgSchema, dropPgSchema, eventually, freePort, pgAvailable, PG_URL, pgUrlForSchema, requireService } from '../helpers.ts'

const PASSWORD = 'crash-test-pw'
const tmp = mkdtempSync(join(tmpdir(), 'herald-crash-'))
after(() => rmSync(tmp, { recursive: true, force: true }))

interface Server { child: ChildProcess; out: () => string; exited: Promise<void> }

/** `herald serve` from the sources, on fixed ports, no dialects; resolves once /readyz answers 200. */
async function serve(env: NodeJS.ProcessEnv, httpPort: number): Promise<Server> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'serve'], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env }, stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  child.stdout!.on('data', (d) => { out += d })
  child.stderr!.on('data', (d) => { out += d })
  const exited = new Promise<void>((r) => child.once('exit', () => r()))
  const end = Date.now() + 60_000
  for (;;) {
    if (child.exitCode !== null) throw new Error(`herald serve exited: ${out}`)
    if (await fetch(`http://127.0.0.1:${httpPort}/readyz`).then((r) => r.status === 200, () => false)) break
    if (Date.now() > end) { child.kill('SIGKILL'); throw new Error(`herald serve not ready: ${out}`) }
    await new Promise((r) => setTimeout(r, 50))
  }
  return { child, out: () => out, exited }
}

async function kill9(s: Server): Promise<void> {
  s.child.kill('SIGKILL')
  await s.exited
}

function client(port: number, clientId: string, clean: boolean): Promise<{ c: MqttClient; sessionPresent: boolean }> {
  return new Promise((resolve, reject) => {
    const c = mqtt.connect(`mqtt://127.0.0.1:${port}`, { clientId, clean, username: 'herald', password: PASSWORD, reconnectPeriod: 0, connectTimeout: 5000 })
    c.once('connect', (ack) => resolve({ c, sessionPresent: ack.sessionPresent }))
    c.once('error', (err) => { c.end(true); reject(err) })
  })
}

/** A raw MQTT 3.1.1 connection: packets written as objects, packets read parsed. */
async function rawClient(port: number, clientId: string): Promise<{ send(p: object): void; next(cmd: string): Promise<mqttPacket.Packet>; close(): void }> {
  const socket = net.connect(port, '127.0.0.1')
  await new Promise<void>((r, j) => { socket.once('connect', () => r()); socket.once('error', j) })
  const parser = mqttPacket.parser({ protocolVersion: 4 })
  const got: mqttPacket.Packet[] = []
  const waiting: (() => void)[] = []
  parser.on('packet', (p) => { got.push(p); for (const w of waiting.splice(0)) w() })
  socket.on('data', (d) => parser.parse(d))
  const send = (p: object) => socket.write(mqttPacket.generate(p as mqttPacket.Packet))
  const next = async (cmd: string): Promise<mqttPacket.Packet> => {
    const end = Date.now() + 10_000
    for (;;) {
      const i = got.findIndex((p) => p.cmd === cmd)
      if (i >= 0) return got.splice(i, 1)[0]
      if (Date.now() > end) throw new Error(`no ${cmd}: got ${got.map((p) => p.cmd).join(',')}`)
      await new Promise<void>((r) => { waiting.push(r); setTimeout(r, 100) })
    }
  }
  send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: false, clientId, keepalive: 30, username: 'herald', password: Buffer.from(PASSWORD) })
  const ack = await next('connack') as mqttPacket.IConnackPacket
  assert.equal(ack.returnCode, 0)
  return { send, next, close: () => socket.destroy() }
}

const kinds = [
  { kind: 'sqlite' as const, available: true },
  { kind: 'postgres' as const, available: await pgAvailable() },
]

for (const { kind, available } of kinds) {
  describe(`durable MQTT sessions across kill -9 (${kind})`, { ...requireService(available, `PostgreSQL at ${PG_URL}`) }, () => {
    let env: NodeJS.ProcessEnv
    let mqttPort = 0
    let httpPort = 0
    let server: Server | undefined
    let schema: string | undefined
    const start = async () => { server = await serve(env, httpPort) }
    after(async () => {
      if (server && server.child.exitCode === null) await kill9(server)
      if (schema) await dropPgSchema(schema)
    })

    test('setup: Herald on its own database', async () => {
      ;[mqttPort, httpPort] = [await freePort(), await freePort()]
      const dataDir = join(tmp, kind)
      if (kind === 'postgres') schema = await createPgSchema()
      env = {
        HERALD_DATA_DIR: dataDir, HERALD_HOST: '127.0.0.1', HERALD_DIALECTS: ',', HERALD_SERVICE_PASSWORD: PASSWORD,
        HERALD_HTTP_PORT: String(httpPort), HERALD_MQTT_PORT: String(mqttPort), HERALD_HTTPS_PORT: 'off', HERALD_MQTTS_PORT: 'off',
        HERALD_METRICS_PORT: 'off', HERALD_LOG_LEVEL: 'warn',
        ...(schema ? { HERALD_DATABASE_URL: pgUrlForSchema(schema) } : {}),
      }
      await start()
    })

    test('every QoS 1 message PUBACKed before the kill reaches the persistent subscriber after the restart', async () => {
      const sub = await client(mqttPort, 'crash-sub', false)
      await sub.c.subscribeAsync('crash/q1/#', { qos: 1 })
      await sub.c.endAsync()

      const pub = await client(mqttPort, 'crash-pub', true)
      const N = 400
      const acked = new Set<string>()
      let killed: Promise<void> | undefined
      const sent: Promise<void>[] = []
      // all in flight at once: the kill lands while PUBLISHes are still being taken
      for (let i = 0; i < N; i++) {
        const payload = `m${i}`
        sent.push(pub.c.publishAsync(`crash/q1/${i % 7}`, payload, { qos: 1 }).then(() => {
          acked.add(payload)
          if (acked.size === N / 2 && !killed) killed = kill9(server!)
        }, () => {}))
      }
      await eventually(() => killed !== undefined, 'half the PUBACKs', 30_000)
      await killed
      const ackedBeforeKill = new Set(acked)
      pub.c.end(true)
      assert.ok(ackedBeforeKill.size >= N / 2, `acknowledged before the kill: ${ackedBeforeKill.size}`)

      await start()
      const got = new Set<string>()
      const c = mqtt.connect(`mqtt://127.0.0.1:${mqttPort}`, { clientId: 'crash-sub', clean: false, username: 'herald', password: PASSWORD, reconnectPeriod: 0 })
      c.on('message', (_t, p) => got.add(p.toString()))
      const ack = await new Promise<mqttPacket.IConnackPacket>((r, j) => { c.once('connect', r); c.once('error', j) })
      assert.equal(ack.sessionPresent, true, 'the session (its subscription) survived')
      await eventually(() => [...ackedBeforeKill].every((m) => got.has(m)), `all ${ackedBeforeKill.size} acknowledged messages`, 20_000)
        .catch(() => assert.fail(`missing after restart: ${[...ackedBeforeKill].filter((m) => !got.has(m)).length} of ${ackedBeforeKill.size}`))

      // the subscription itself was restored: a new message reaches it without a new SUBSCRIBE
      const pub2 = await client(mqttPort, 'crash-pub', true)
      await pub2.c.publishAsync('crash/q1/after', 'after-restart', { qos: 1 })
      await eventually(() => got.has('after-restart'), 'a message published after the restart')
      await pub2.c.endAsync()
      await c.endAsync()
    })

    test('a retained message and an offline QoS 1 subscription survive kill -9', async () => {
      const sub = await client(mqttPort, 'crash-sub-2', false)
      await sub.c.subscribeAsync('crash/r/#', { qos: 1 })
      await sub.c.endAsync()
      const pub = await client(mqttPort, 'crash-pub', true)
      await pub.c.publishAsync('crash/r/state', 'retained-1', { qos: 1, retain: true })
      await pub.c.endAsync()
      await kill9(server!)
      await start()

      const fresh = await client(mqttPort, 'crash-fresh', true)
      const retained = new Promise<{ payload: string; retain: boolean }>((r) => fresh.c.once('message', (_t, p, pk) => r({ payload: p.toString(), retain: pk.retain })))
      await fresh.c.subscribeAsync('crash/r/#', { qos: 1 })
      assert.deepEqual(await retained, { payload: 'retained-1', retain: true })
      await fresh.c.endAsync()

      const back = mqtt.connect(`mqtt://127.0.0.1:${mqttPort}`, { clientId: 'crash-sub-2', clean: false, username: 'herald', password: PASSWORD, reconnectPeriod: 0 })
      const queued = new Promise<string>((r) => back.once('message', (_t, p) => r(p.toString())))
      assert.equal(await queued, 'retained-1', 'queued for the offline session before the kill')
      await back.endAsync()
    })

    test('QoS 2 in flight across kill -9: a PUBLISH awaiting PUBREL is taken once; a PUBREL awaiting PUBCOMP is sent again', async () => {
      // the receiver: a persistent QoS 2 subscriber that stops after PUBREC
      const rx = await rawClient(mqttPort, 'crash-q2-rx')
      rx.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'crash/q2', qos: 2 }] })
      await rx.next('suback')
      // the sender: PUBLISH QoS 2, gets PUBREC (stored), never sends PUBREL before the kill
      const tx = await rawClient(mqttPort, 'crash-q2-tx')
      tx.send({ cmd: 'publish', topic: 'crash/q2', payload: Buffer.from('exactly-once'), qos: 2, messageId: 7, retain: false, dup: false })
      await tx.next('pubrec')
      const first = await rx.next('publish') as mqttPacket.IPublishPacket
      assert.equal(first.payload.toString(), 'exactly-once')
      rx.send({ cmd: 'pubrec', messageId: first.messageId })
      // the broker stores its PUBREL before writing it
      await rx.next('pubrel')
      rx.close()
      tx.close()
      await kill9(server!)
      await start()

      const rx2 = await rawClient(mqttPort, 'crash-q2-rx')
      // MQTT-4.4.0-1: on reconnect the broker resends the unacknowledged PUBREL, and not the PUBLISH again
      const rel = await rx2.next('pubrel') as mqttPacket.IPubrelPacket
      assert.equal(rel.messageId, first.messageId)
      rx2.send({ cmd: 'pubcomp', messageId: rel.messageId })

      const tx2 = await rawClient(mqttPort, 'crash-q2-tx')
      // the sender did not see the PUBREC for all it knows: it sends the PUBLISH again (DUP), then PUBREL
      tx2.send({ cmd: 'publish', topic: 'crash/q2', payload: Buffer.from('exactly-once'), qos: 2, messageId: 7, retain: false, dup: true })
      await tx2.next('pubrec')
      tx2.send({ cmd: 'pubrel', messageId: 7 })
      const comp = await tx2.next('pubcomp') as mqttPacket.IPubcompPacket
      assert.equal(comp.messageId, 7)
      // a marker after it: when it arrives, a second copy of the QoS 2 message would have arrived before it
      tx2.send({ cmd: 'publish', topic: 'crash/q2', payload: Buffer.from('marker'), qos: 2, messageId: 8, retain: false, dup: false })
      await tx2.next('pubrec')
      tx2.send({ cmd: 'pubrel', messageId: 8 })
      await tx2.next('pubcomp')
      const next = await rx2.next('publish') as mqttPacket.IPublishPacket
      assert.equal(next.payload.toString(), 'marker', 'the QoS 2 message was not delivered a second time')
      rx2.close()
      tx2.close()
    })

    test('stop', async () => {
      await kill9(server!)
    })
  })
}
