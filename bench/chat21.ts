// chat21 benchmark (issue 4, item 9): P pairs exchanging direct messages and G groups of 10 members, through the
// embedded broker with persistence on (SQLite, or PostgreSQL with --db postgres); prints routed messages/s and
// p50/p99 end-to-end latency (sender publish → recipient receive), then the raw pass-through of the same broker
// (the same streams client to client, no routing), and the ratio routed/raw. Herald runs in a child process
// (this file with --serve), the clients here, so the two do not share one event loop.
// Usage: npm run bench:chat21 [-- --pairs 50 --groups 10 --messages 200 --window 10 --db sqlite --qos 0]
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { parseArgs } from 'node:util'
import mqtt, { type MqttClient } from 'mqtt'
import { coreSettings, loadConfig } from '../src/config.ts'
import { createChat21 } from '../src/dialects/chat21/index.ts'
import { Tokens } from '../src/dialects/chat21/jwt.ts'
import { chat21Settings } from '../src/dialects/chat21/settings.ts'
import { startHerald } from '../src/server.ts'
import { createPgSchema, dropPgSchema, pgUrlForSchema } from '../test/helpers.ts'
import { cpuMs } from './lib/proc.ts'
import { fmt, percentileOf as pct, table } from './lib/stats.ts'

const { values: args } = parseArgs({ options: {
  pairs: { type: 'string', default: '50' }, groups: { type: 'string', default: '10' },
  messages: { type: 'string', default: '200' }, window: { type: 'string', default: '10' },
  db: { type: 'string', default: 'sqlite' }, serve: { type: 'boolean', default: false },
  // chat21 clients publish QoS 0; with 1, each outgoing message is PUBACKed only once stored (what that costs)
  qos: { type: 'string', default: '0' },
} })
const P = Number(args.pairs), G = Number(args.groups), N = Number(args.messages), W = Number(args.window)
const QOS = Number(args.qos) === 1 ? 1 : 0
const GROUP_SIZE = 10
const TIME_LIMIT_MS = Number(process.env.BENCH_TIME_LIMIT_MS ?? 120_000)

interface Stream { sender: MqttClient; topic: string; receivers: number; sent: number; done: number; seen: Map<number, number> }
interface Result { messages: number; deliveries: number; seconds: number; p50: number; p99: number; timedOut: boolean; serverCpuMs?: number; loadCpuMs?: number }

/** Run `fn`, adding the server's and this process's CPU time over it (the server's cost per message, whatever the load). */
async function measured(pid: number, fn: () => Promise<Result>): Promise<Result> {
  const server0 = cpuMs(pid)
  const load0 = process.cpuUsage()
  const r = await fn()
  const load = process.cpuUsage(load0)
  return { ...r, serverCpuMs: cpuMs(pid) - server0, loadCpuMs: (load.user + load.system) / 1000 }
}

function client(url: string, username: string, password: string): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const c = mqtt.connect(url, { username, password, reconnectPeriod: 0, connectTimeout: 30_000, keepalive: 120 })
    c.once('connect', () => resolve(c))
    c.once('error', reject)
  })
}

/** Each stream keeps at most W messages outstanding; a message is done when every receiver has it. */
async function drive(streams: Stream[], receive: (on: (stream: number, seq: number, sentAt: number) => void) => void,
  payload: (stream: number, seq: number) => string): Promise<Result> {
  const latencies: number[] = []
  let deliveries = 0
  let finished = 0
  let resolveAll!: () => void
  const all = new Promise<void>((r) => { resolveAll = r })
  const send = (i: number) => {
    const s = streams[i]
    if (s.sent >= N) return
    s.sender.publish(s.topic, payload(i, s.sent++), { qos: QOS })
  }
  receive((i, seq, sentAt) => {
    const s = streams[i]
    latencies.push(performance.now() - sentAt)
    deliveries++
    const n = (s.seen.get(seq) ?? 0) + 1
    if (n < s.receivers) { s.seen.set(seq, n); return }
    s.seen.delete(seq)
    s.done++
    if (s.done === N) { if (++finished === streams.length) resolveAll() } else send(i)
  })
  const t0 = performance.now()
  for (let i = 0; i < streams.length; i++) for (let k = 0; k < W; k++) send(i)
  let timer: NodeJS.Timeout | undefined
  const timedOut = await Promise.race([all.then(() => false), new Promise<boolean>((r) => { timer = setTimeout(() => r(true), TIME_LIMIT_MS) })])
  clearTimeout(timer)
  const seconds = (performance.now() - t0) / 1000
  return { messages: streams.reduce((a, s) => a + s.done, 0), deliveries, seconds, p50: pct(latencies, 50), p99: pct(latencies, 99), timedOut }
}

/** Child: Herald with chat21 and persistence; prints {"ready":{port}} and creates the benchmark groups. */
async function serve(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'herald-bench-chat21-'))
  const aclFile = join(dataDir, 'acl')
  writeFileSync(aclFile, 'user raw\ntopic readwrite raw/#\n')
  const chat21 = createChat21()
  const schema = args.db === 'postgres' ? await createPgSchema() : undefined
  const config = loadConfig({ settings: [...coreSettings, ...chat21Settings], env: {}, overrides: {
    mode: 'development', dataDir, host: '127.0.0.1', logLevel: 'warn', 'auth.aclFile': aclFile,
    // PostgreSQL: a throw-away schema in the test database (HERALD_TEST_PG_URL)
    databaseUrl: schema ? pgUrlForSchema(schema) : '',
    'http.port': 0, 'https.port': 'off', 'mqtt.port': 'off', 'mqtts.port': 'off', 'chat21.webhooks.enabled': false,
    'metrics.port': 'off', 'mqtt.maxConnectionsPerPrincipal': 1_000_000, // the raw pass-through logs every client in as one account
  } })
  const herald = await startHerald({ config, dialects: [chat21] })
  await herald.users.add('raw', 'raw')
  for (let g = 0; g < G; g++) {
    const members = Array.from({ length: GROUP_SIZE }, (_, k) => `bg${g}m${k}`)
    const now = Date.now()
    await chat21.flow!.store.saveGroup({ uid: `group-bench${g}`, name: `bench ${g}`, appId: 'tilechat', owner: members[0], members: Object.fromEntries(members.map((m) => [m, 1])), createdOn: now, updatedOn: now })
  }
  console.log(JSON.stringify({ ready: { port: herald.ports.http, db: herald.store.kind } }))
  const stop = async () => {
    await herald.stop().catch(() => {})
    rmSync(dataDir, { recursive: true, force: true })
    if (schema) await dropPgSchema(schema).catch(() => {})
    process.exit(0)
  }
  process.on('SIGTERM', stop)
  process.stdin.on('end', stop)
  process.stdin.resume()
}

function startChild(): Promise<{ port: number; db: string; pid: number; stop: () => void }> {
  const child = spawn(process.execPath, [...(process.env.BENCH_PROF ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_PROF] : []), '--import', 'tsx', process.argv[1], '--serve', '--groups', String(G), '--db', String(args.db)], { stdio: ['pipe', 'pipe', 'inherit'] })
  return new Promise((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      try {
        const m = JSON.parse(line)
        if (m.ready) resolve({ ...m.ready, pid: child.pid!, stop: () => child.kill('SIGTERM') })
      } catch { /* a log line */ }
    })
    child.once('exit', (code) => reject(new Error(`herald child exited with ${code}`)))
  })
}

async function main(): Promise<void> {
  const child = await startChild()
  const tokens = new Tokens('tokenKey', 'tilechat', 3600)
  const url = `ws://127.0.0.1:${child.port}/mqtt`
  const clients: MqttClient[] = []
  try {
    // routed: users log in as chat21 clients do and subscribe to their inbox
    const users = new Map<string, MqttClient>()
    const user = async (id: string) => {
      const c = await client(url, 'JWT', await tokens.issue(id))
      await c.subscribeAsync(`apps/tilechat/users/${id}/#`, { qos: 0 })
      users.set(id, c); clients.push(c)
      return c
    }
    const streams: Stream[] = []
    const bench = `b${Date.now()}`
    for (let i = 0; i < P; i++) {
      const [a] = await Promise.all([user(`${bench}pa${i}`), user(`${bench}pb${i}`)])
      streams.push({ sender: a, topic: `apps/tilechat/outgoing/users/${bench}pa${i}/messages/${bench}pb${i}/outgoing`, receivers: 1, sent: 0, done: 0, seen: new Map() })
    }
    for (let g = 0; g < G; g++) {
      const members = Array.from({ length: GROUP_SIZE }, (_, k) => `bg${g}m${k}`)
      const cs = await Promise.all(members.map(user))
      streams.push({ sender: cs[0], topic: `apps/tilechat/outgoing/users/${members[0]}/messages/group-bench${g}/outgoing`, receivers: GROUP_SIZE - 1, sent: 0, done: 0, seen: new Map() })
    }
    const routed = await measured(child.pid, () => drive(streams, (on) => {
      for (const c of users.values()) c.on('message', (topic, payload) => {
        if (!topic.endsWith('/clientadded')) return
        const m = JSON.parse(payload.toString())
        if (m.status === 150 && m.bench && !topic.includes(`/users/${m.sender}/`)) on(m.bench[0], m.bench[1], m.bench[2])
      })
    }, (i, seq) => JSON.stringify({ text: `message ${seq}`, type: 'text', bench: [i, seq, performance.now()] })))

    // raw: the same streams, client to client on plain topics, through the same broker (access control on)
    const rawStreams: Stream[] = []
    const receivers: MqttClient[] = []
    for (let i = 0; i < streams.length; i++) {
      const n = streams[i].receivers
      const pub = await client(url, 'raw', 'raw')
      clients.push(pub)
      for (let k = 0; k < n; k++) {
        const r = await client(url, 'raw', 'raw')
        await r.subscribeAsync(`raw/${i}`, { qos: 0 })
        clients.push(r); receivers.push(r)
      }
      rawStreams.push({ sender: pub, topic: `raw/${i}`, receivers: n, sent: 0, done: 0, seen: new Map() })
    }
    const raw = await measured(child.pid, () => drive(rawStreams, (on) => {
      for (const r of receivers) r.on('message', (_t, payload) => { const m = JSON.parse(payload.toString()); on(m.bench[0], m.bench[1], m.bench[2]) })
    }, (i, seq) => JSON.stringify({ text: `message ${seq}`, type: 'text', bench: [i, seq, performance.now()] })))

    const row = (name: string, r: Result) => [name, fmt(r.messages / r.seconds), fmt(r.deliveries / r.seconds), fmt(r.p50, 2), fmt(r.p99, 2),
      fmt(((r.serverCpuMs ?? NaN) * 1000) / r.messages), `${fmt((r.serverCpuMs ?? NaN) / 10 / r.seconds)}%`, `${fmt((r.loadCpuMs ?? NaN) / 10 / r.seconds)}%`, r.timedOut ? 'TIMED OUT' : 'ok']
    console.log(`chat21 bench: ${P} pairs + ${G} groups of ${GROUP_SIZE}, ${N} messages per stream, window ${W}, store ${child.db}, MQTT over WebSocket, QoS ${QOS}`)
    console.log(table(['run', 'messages/s', 'deliveries/s', 'p50 ms', 'p99 ms', 'server CPU µs/msg', 'server CPU', 'load-gen CPU', 'status'], [row('routed (chat21)', routed), row('raw pass-through', raw)]))
    console.log(`ratio routed/raw: messages/s ${fmt(routed.messages / routed.seconds / (raw.messages / raw.seconds), 3)}, p50 latency ${fmt(routed.p50 / raw.p50, 2)}x`)
  } finally {
    await Promise.allSettled(clients.map((c) => c.endAsync(true)))
    child.stop()
  }
}


(args.serve ? serve() : main()).catch((err) => { console.error(err); process.exit(1) })
