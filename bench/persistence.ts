// Durable MQTT sessions benchmark (issue 11 item 3): `herald serve` as a child process on a SQLite file (and on
// PostgreSQL with --pg). (1) restart to serving with N retained messages (default 100,000): spawn to /readyz, and spawn
// to the first retained message delivered to a new subscriber, beside the same restart with no retained message;
// then the time to stream every retained message to a `#` subscriber. (2) the write cost of a QoS 1 PUBLISH queued for
// an offline persistent session: broker CPU per publish and publishes/s, HERALD_MQTT_PERSISTENCE=store vs memory.
// Prints figures only; exits non-zero only when it cannot run.
// Usage: node --import tsx bench/persistence.ts [--retained 100000 --publishes 5000 --rounds 3 --pg]
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import mqtt, { type MqttClient } from 'mqtt'
import pg from 'pg'
import { coreSettings, loadConfig } from '../src/config.ts'
import { migrate, openStore } from '../src/core/store/db.ts'
import { startHerald } from '../src/server.ts'
import { coreMigrations } from '../src/core/store/users.ts'
import { StorePersistence } from '../src/transport/persistence.ts'
import { cpuMs, freePort } from './lib/proc.ts'
import { fmt, median, table } from './lib/stats.ts'

const { values: args } = parseArgs({
  options: {
    retained: { type: 'string', default: '100000' },
    publishes: { type: 'string', default: '5000' },
    rounds: { type: 'string', default: '3' },
    pg: { type: 'boolean', default: false },
  },
})
const RETAINED = Number(args.retained)
const PUBLISHES = Number(args.publishes)
const ROUNDS = Math.max(1, Number(args.rounds))
const PASSWORD = 'bench-pw'
const PG_URL = process.env.HERALD_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test'

interface Server { child: ChildProcess; mqttPort: number; exited: Promise<void> }

async function serve(env: NodeJS.ProcessEnv): Promise<{ server: Server; readyMs: number; t0: number }> {
  const httpPort = await freePort()
  const mqttPort = await freePort()
  const t0 = performance.now()
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'serve'], {
    env: {
      PATH: process.env.PATH, HOME: process.env.HOME, HERALD_HOST: '127.0.0.1', HERALD_DIALECTS: ',', HERALD_SERVICE_PASSWORD: PASSWORD,
      HERALD_HTTP_PORT: String(httpPort), HERALD_MQTT_PORT: String(mqttPort), HERALD_HTTPS_PORT: 'off', HERALD_MQTTS_PORT: 'off',
      HERALD_METRICS_PORT: 'off', HERALD_LOG_LEVEL: 'warn', ...env,
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  })
  const exited = new Promise<void>((r) => child.once('exit', () => r()))
  for (;;) {
    if (child.exitCode !== null) throw new Error('herald serve exited')
    if (await fetch(`http://127.0.0.1:${httpPort}/readyz`).then((r) => r.status === 200, () => false)) break
    if (performance.now() - t0 > 60_000) throw new Error('herald serve not ready in 60 s')
    await new Promise((r) => setTimeout(r, 5))
  }
  return { server: { child, mqttPort, exited }, readyMs: performance.now() - t0, t0 }
}

async function stop(s: Server): Promise<void> {
  s.child.kill('SIGKILL')
  await s.exited
}

function client(port: number, o: mqtt.IClientOptions = {}): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const c = mqtt.connect(`mqtt://127.0.0.1:${port}`, { username: 'herald', password: PASSWORD, reconnectPeriod: 0, ...o })
    c.once('connect', () => resolve(c))
    c.once('error', reject)
  })
}

/** Spawn to /readyz, and spawn to the first retained message a new subscriber gets. */
async function restart(env: NodeJS.ProcessEnv, topic: string): Promise<{ readyMs: number; servingMs: number; server: Server }> {
  const { server, readyMs, t0 } = await serve(env)
  const c = await client(server.mqttPort)
  const got = new Promise<void>((r) => c.once('message', () => r()))
  await c.subscribeAsync(topic, { qos: 0 })
  await got
  const servingMs = performance.now() - t0
  c.end(true)
  return { readyMs, servingMs, server }
}

/** The same start in this process (modules already loaded): startHerald to the first retained message delivered. */
async function restartInProcess(env: NodeJS.ProcessEnv, topic: string): Promise<number> {
  const config = loadConfig({
    settings: coreSettings, env: {},
    overrides: {
      dataDir: env.HERALD_DATA_DIR, databaseUrl: env.HERALD_DATABASE_URL ?? '', host: '127.0.0.1', logLevel: 'silent', 'service.password': PASSWORD,
      'http.port': 0, 'https.port': null, 'mqtt.port': 0, 'mqtts.port': null, 'metrics.port': null,
    },
  })
  const t0 = performance.now()
  const h = await startHerald({ config, dialects: [] })
  const c = await client(h.ports.mqtt)
  const got = new Promise<void>((r) => c.once('message', () => r()))
  await c.subscribeAsync(topic, { qos: 0 })
  await got
  const ms = performance.now() - t0
  c.end(true)
  await h.stop()
  return ms
}

async function fillRetained(env: NodeJS.ProcessEnv, dataDir: string, n: number): Promise<void> {
  const store = openStore({ dataDir, databaseUrl: env.HERALD_DATABASE_URL })
  await migrate(store.db, 'core', coreMigrations)
  const p = new StorePersistence({ db: store.db, kind: store.kind, maxQueued: 0, queuedExpiryMs: 0 })
  const payload = Buffer.alloc(64, 'x')
  const batch: Promise<void>[] = []
  for (let i = 0; i < n; i++) {
    batch.push(p.storeRetained({ cmd: 'publish', topic: `bench/r/${i % 1000}/${i}`, payload, qos: 0, retain: true }))
    if (batch.length === 1000) await Promise.all(batch.splice(0))
  }
  await Promise.all(batch)
  await store.close()
}

async function pgSchema(): Promise<{ url: string; drop(): Promise<void> }> {
  const schema = `bench_${process.pid}_${Date.now()}`
  const c = new pg.Client({ connectionString: PG_URL })
  await c.connect()
  await c.query(`CREATE SCHEMA ${schema}`)
  await c.end()
  return {
    url: `${PG_URL}?options=${encodeURIComponent(`-c search_path=${schema}`)}`,
    async drop() { const d = new pg.Client({ connectionString: PG_URL }); await d.connect(); await d.query(`DROP SCHEMA ${schema} CASCADE`); await d.end() },
  }
}

async function restartBench(db: 'sqlite' | 'postgres'): Promise<string[][]> {
  const rows: string[][] = []
  for (const n of [0, RETAINED]) {
    const dataDir = mkdtempSync(join(tmpdir(), 'herald-bench-persist-'))
    const schema = db === 'postgres' ? await pgSchema() : undefined
    const env = { HERALD_DATA_DIR: dataDir, ...(schema ? { HERALD_DATABASE_URL: schema.url } : {}) }
    try {
      await fillRetained(env, dataDir, Math.max(n, 1))
      const ready: number[] = []
      const serving: number[] = []
      const inProcess: number[] = []
      await restartInProcess(env, 'bench/r/0/0')
      for (let r = 0; r < ROUNDS; r++) inProcess.push(await restartInProcess(env, 'bench/r/0/0'))
      let all = NaN
      for (let r = 0; r < ROUNDS; r++) {
        const x = await restart(env, 'bench/r/0/0')
        ready.push(x.readyMs)
        serving.push(x.servingMs)
        if (r === ROUNDS - 1 && n > 1) {
          // every retained message to one `#` subscriber
          const c = await client(x.server.mqttPort)
          let count = 0
          const t = performance.now()
          const done = new Promise<void>((res) => c.on('message', () => { if (++count === n) res() }))
          await c.subscribeAsync('bench/#', { qos: 0 })
          await done
          all = performance.now() - t
          c.end(true)
        }
        await stop(x.server)
      }
      rows.push([db, fmt(Math.max(n, 1)), fmt(median(inProcess)), fmt(median(ready)), fmt(median(serving)), Number.isNaN(all) ? '-' : `${fmt(all)} (${fmt(n / (all / 1000))}/s)`])
    } finally {
      rmSync(dataDir, { recursive: true, force: true })
      await schema?.drop()
    }
  }
  return rows
}

/** QoS 1 publishes queued for one offline persistent session: broker CPU per publish, publishes/s (window 1 and 50). */
async function writeBench(db: 'sqlite' | 'postgres', persistence: 'store' | 'memory'): Promise<string[]> {
  const dataDir = mkdtempSync(join(tmpdir(), 'herald-bench-persist-'))
  const schema = db === 'postgres' ? await pgSchema() : undefined
  const env = { HERALD_DATA_DIR: dataDir, HERALD_MQTT_PERSISTENCE: persistence, HERALD_MQTT_MAX_QUEUED: '0', ...(schema ? { HERALD_DATABASE_URL: schema.url } : {}) }
  const { server } = await serve(env)
  try {
    const sub = await client(server.mqttPort, { clientId: 'bench-offline', clean: false })
    await sub.subscribeAsync('bench/q/#', { qos: 1 })
    await sub.endAsync()
    const pub = await client(server.mqttPort)
    const payload = Buffer.alloc(64, 'y')
    const run = async (window: number, count: number) => {
      const cpu0 = cpuMs(server.child.pid!)
      const t = performance.now()
      let next = 0
      await Promise.all(Array.from({ length: window }, async () => {
        while (next < count) { next++; await pub.publishAsync('bench/q/t', payload, { qos: 1 }) }
      }))
      const ms = performance.now() - t
      return { perS: count / (ms / 1000), cpuUs: ((cpuMs(server.child.pid!) - cpu0) * 1000) / count, latencyUs: (ms * 1000 * window) / count }
    }
    await run(10, Math.min(500, PUBLISHES))
    const w1 = await run(1, PUBLISHES)
    const w50 = await run(50, PUBLISHES)
    await pub.endAsync()
    // the queue drains to the returning session
    const back = mqtt.connect(`mqtt://127.0.0.1:${server.mqttPort}`, { clientId: 'bench-offline', clean: false, username: 'herald', password: PASSWORD, reconnectPeriod: 0 })
    const total = Math.min(500, PUBLISHES) + 2 * PUBLISHES
    let got = 0
    const t = performance.now()
    await new Promise<void>((r) => back.on('message', () => { if (++got === total) r() }))
    const drainPerS = total / ((performance.now() - t) / 1000)
    back.end(true)
    return [db, persistence, fmt(w1.latencyUs), fmt(w1.cpuUs, 1), fmt(w50.perS), fmt(w50.cpuUs, 1), fmt(drainPerS)]
  } finally {
    await stop(server)
    rmSync(dataDir, { recursive: true, force: true })
    await schema?.drop()
  }
}

const dbs: ('sqlite' | 'postgres')[] = args.pg ? ['sqlite', 'postgres'] : ['sqlite']
console.log(`restart to serving (median of ${ROUNDS}): startHerald in this process with its modules loaded, and a spawned \`node --import tsx src/cli.ts serve\` (includes Node start and compiling the sources)`)
const restartRows: string[][] = []
for (const db of dbs) restartRows.push(...await restartBench(db))
console.log(table(['database', 'retained', 'in process: start→first retained delivered ms', 'spawn→/readyz ms', 'spawn→first retained delivered ms', 'all retained to a # subscriber ms'], restartRows))
console.log()
console.log(`QoS 1 PUBLISH queued for an offline persistent session (${PUBLISHES} per run; broker CPU per publish from /proc)`)
const writeRows: string[][] = []
for (const db of dbs) for (const p of ['memory', 'store'] as const) writeRows.push(await writeBench(db, p))
console.log(table(['database', 'persistence', 'window 1: µs per PUBACK', 'window 1: broker CPU µs', 'window 50: publishes/s', 'window 50: broker CPU µs', 'drain to the session: msg/s'], writeRows))
