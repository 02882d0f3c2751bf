// Several embedded nodes while their Redis emitter is down: two nodes on one PostgreSQL and a throw-away redis-server
// of this test's own (a free loopback port, a temp directory, stopped by its pid), killed and started again on the same
// port. Neither node crashes; a QoS 1 PUBLISH while Redis is away is not acknowledged (Redis pub/sub keeps nothing: a
// message taken then reached no node) and its connection ends, so the client sends it again once Redis is back, and
// it is delivered across the nodes once; traffic then flows as before.
import assert from 'node:assert/strict'
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import mqtt, { type MqttClient } from 'mqtt'
import { createPgSchema, dropPgSchema, eventually, freePort, pgAvailable, pgUrlForSchema, requireService, startTestHerald, type TestHerald } from '../helpers.ts'

const REDIS_SERVER = '/usr/bin/redis-server'
const hasRedisServer = spawnSync(REDIS_SERVER, ['--version']).status === 0
const skip = requireService((await pgAvailable()) && hasRedisServer, `PostgreSQL and ${REDIS_SERVER}`)
const user = { username: 'redis-down-user', password: 'pw-redis-down' }

/** +PONG from the Redis on `port` */
function pong(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1')
    s.setTimeout(1000, () => { s.destroy(); resolve(false) })
    s.once('connect', () => s.write('PING\r\n'))
    s.once('data', (d) => { s.destroy(); resolve(d.toString().startsWith('+PONG')) })
    s.once('error', () => resolve(false))
  })
}

/** a redis-server on `port`, keeping nothing on disk; resolves once it answers */
async function startRedis(port: number, dir: string): Promise<{ proc: ChildProcess; exited: Promise<void> }> {
  const proc = spawn(REDIS_SERVER, ['--bind', '127.0.0.1', '--port', String(port), '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: 'ignore' })
  const exited = new Promise<void>((r) => proc.once('exit', () => r()))
  await eventually(() => pong(port), 'redis-server up', 10_000)
  return { proc, exited }
}

describe('several nodes: the Redis emitter goes down and comes back', skip, () => {
  let a: TestHerald
  let b: TestHerald
  let schema: string
  let redis: { proc: ChildProcess; exited: Promise<void> } | undefined
  let port = 0
  const dir = mkdtempSync(join(tmpdir(), 'herald-redis-down-'))
  const clients: MqttClient[] = []
  const client = async (h: TestHerald, o: mqtt.IClientOptions = {}) => {
    const c = await new Promise<MqttClient>((resolve, reject) => {
      const c = mqtt.connect(h.mqttUrl, { ...user, clientId: `rd-${randomUUID()}`, reconnectPeriod: 0, connectTimeout: 5000, ...o })
      c.once('connect', () => resolve(c))
      c.once('error', (err) => { c.end(true); reject(err) })
    })
    clients.push(c)
    return c
  }

  before(async () => {
    port = await freePort()
    redis = await startRedis(port, dir)
    schema = await createPgSchema()
    const overrides = { databaseUrl: pgUrlForSchema(schema), 'mqtt.emitter': 'redis', 'mqtt.redisUrl': `redis://127.0.0.1:${port}`, 'mqtt.emitterPrefix': `herald-test:${randomUUID()}:` }
    a = await startTestHerald({ overrides })
    b = await startTestHerald({ overrides })
    await a.users.add(user.username, user.password, true)
  })

  after(async () => {
    for (const c of clients) c.end(true)
    await a?.close()
    await b?.close()
    if (redis && redis.proc.exitCode === null && redis.proc.signalCode === null) { redis.proc.kill('SIGKILL'); await redis.exited }
    if (schema) await dropPgSchema(schema)
    rmSync(dir, { recursive: true, force: true })
  })

  test('a QoS 1 message published while Redis is down is held, then delivered across the nodes; traffic goes on', async () => {
    const sub = await client(b)
    const got: string[] = []
    sub.on('message', (_t, p) => got.push(p.toString()))
    await sub.subscribeAsync('down/#', { qos: 1 })
    // a persistent session that reconnects by itself: mqtt.js sends an unacknowledged QoS 1 PUBLISH again then
    const pub = await client(a, { clean: false, reconnectPeriod: 300 })
    await eventually(async () => { await pub.publishAsync('down/probe', 'probe', { qos: 0 }); return got.includes('probe') }, 'A and B linked', 10_000)

    redis!.proc.kill('SIGKILL')
    await redis!.exited
    let closed = 0
    pub.on('close', () => closed++)
    let acked = false
    const held = pub.publishAsync('down/q1', 'while-down', { qos: 1 }).then(() => { acked = true })
    await eventually(() => closed > 0, 'the connection of a QoS 1 PUBLISH while Redis is down ends', 5_000)
    await new Promise((r) => setTimeout(r, 1000))
    assert.equal(acked, false, 'no PUBACK while Redis is down')
    assert.ok(!got.includes('while-down'), 'nothing crosses the nodes while Redis is down')

    redis = await startRedis(port, dir)
    await held
    await eventually(() => got.includes('while-down'), 'the held message delivered after Redis came back', 20_000)
    await pub.publishAsync('down/q1', 'after', { qos: 1 })
    await eventually(() => got.includes('after'), 'traffic after Redis came back', 10_000)
    assert.equal(got.filter((m) => m === 'while-down').length, 1)
    // both nodes still serve: a fresh client on each connects and round-trips
    const fresh = await client(a)
    await fresh.publishAsync('down/q1', 'fresh', { qos: 1 })
    await eventually(() => got.includes('fresh'), 'a fresh client on A', 10_000)
  })
})
