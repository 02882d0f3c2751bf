// HeartSMS benchmark (issue 3, item 8): C concurrent HTTP clients add messages and conversations (one item per
// request) for several accounts, each account with a live MQTT subscriber; then a read-heavy mix. Herald runs in a
// child process. Prints writes/s, p50/p99 HTTP latency, p50/p99 response→stream delay and lost stream messages,
// for SQLite and PostgreSQL. Figures only: it never fails on a threshold.
// Usage: npm run bench:heartsms [-- --db sqlite,postgres --clients 32 --seconds 10 --accounts 8 --phases noop,write,read --qos 2 --rate 4000 --profile <dir> --loop]
// --rate adds an open-loop write phase at that offered rate (latency from the scheduled send time).
// --profile writes the server's CPU profile there; --loop prints its event-loop delay and GC pauses per phase.
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import http from 'node:http'
import net, { type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks'
import { parseArgs } from 'node:util'
import mqtt, { type MqttClient } from 'mqtt'
import pg from 'pg'
import { cpuMs } from './lib/proc.ts'

const { values: args } = parseArgs({
  options: {
    db: { type: 'string', default: 'sqlite,postgres' },
    clients: { type: 'string', default: '32' },
    seconds: { type: 'string', default: '10' },
    accounts: { type: 'string', default: '8' },
    serve: { type: 'string' },
    profile: { type: 'string' },
    loop: { type: 'boolean', default: false },
    phases: { type: 'string', default: 'write,read' },
    qos: { type: 'string', default: '2' },
    rate: { type: 'string', default: '0' },
    pg: { type: 'string', default: process.env.HERALD_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test' },
  },
})

// ---- server side (child process) ----
async function serve(databaseUrl: string): Promise<void> {
  const { coreSettings, loadConfig } = await import('../src/config.ts')
  const { startHerald } = await import('../src/server.ts')
  const { createHeartsms } = await import('../src/dialects/heartsms/index.ts')
  const dialect = createHeartsms()
  const dataDir = mkdtempSync(join(tmpdir(), 'herald-bench-'))
  const config = loadConfig({
    settings: [...coreSettings, ...(dialect.settings ?? [])],
    env: { NODE_ENV: 'test', HEART_ALLOWED_USERS: '*' },
    overrides: { mode: 'development', dataDir, databaseUrl, host: '127.0.0.1', logLevel: 'warn', 'http.port': 0, 'https.port': 'off', 'mqtt.port': 0, 'mqtts.port': 'off', 'metrics.port': 'off' },
  })
  const h = await startHerald({ config, dialects: [dialect] })
  process.stdout.write(JSON.stringify(h.ports) + '\n')
  // --loop: per-phase event-loop delay and GC pauses of the server, to stderr (the load side asks with a line)
  if (args.loop) {
    const loop = monitorEventLoopDelay({ resolution: 1 })
    loop.enable()
    const gc = { n: 0, ms: 0, max: 0 }
    new PerformanceObserver((l) => { for (const e of l.getEntries()) { gc.n++; gc.ms += e.duration; gc.max = Math.max(gc.max, e.duration) } }).observe({ entryTypes: ['gc'] })
    let line = ''
    process.stdin.on('data', (d) => {
      line += d
      for (let i = line.indexOf('\n'); i >= 0; i = line.indexOf('\n')) {
        const cmd = line.slice(0, i)
        line = line.slice(i + 1)
        if (cmd === 'report') {
          const ms = (x: number) => (x / 1e6).toFixed(2)
          process.stderr.write(`  server: loop delay p50 ${ms(loop.percentile(50))} p99 ${ms(loop.percentile(99))} max ${ms(loop.max)} ms; GC ${gc.n} pauses, ${gc.ms.toFixed(0)} ms total, max ${gc.max.toFixed(1)} ms\n`)
        }
        loop.reset(); gc.n = 0; gc.ms = 0; gc.max = 0
      }
    })
  }
  process.stdin.on('end', () => { h.stop().finally(() => { rmSync(dataDir, { recursive: true, force: true }); process.exit(0) }) })
  process.stdin.resume()
}

// ---- load side ----
// A minimal keep-alive HTTP/1.1 client (one socket per worker, one request at a time, Content-Length responses):
// on a small machine the load generator must leave the CPU to the server under test.
class RawClient {
  private sock: Socket
  private buf = Buffer.alloc(0)
  private waiting: ((r: { status: number; text: string }) => void) | undefined

  constructor(port: number) {
    this.sock = net.connect(port, '127.0.0.1')
    this.sock.setNoDelay(true)
    this.sock.on('data', (d) => { this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d; this.parse() })
    this.sock.on('error', () => {})
  }

  private parse(): void {
    const end = this.buf.indexOf('\r\n\r\n')
    if (end < 0 || !this.waiting) return
    const head = this.buf.subarray(0, end).toString('latin1')
    const m = /\r\ncontent-length: *(\d+)/i.exec(head)
    const len = m ? Number(m[1]) : 0
    if (this.buf.length < end + 4 + len) return
    const text = this.buf.subarray(end + 4, end + 4 + len).toString()
    this.buf = this.buf.subarray(end + 4 + len)
    const done = this.waiting
    this.waiting = undefined
    done({ status: Number(head.slice(9, 12)), text })
  }

  request(method: string, path: string, body?: object): Promise<{ status: number; text: string }> {
    const payload = body ? JSON.stringify(body) : ''
    const headers = body ? `content-type: application/json\r\ncontent-length: ${Buffer.byteLength(payload)}\r\n` : ''
    return new Promise((resolve) => {
      this.waiting = resolve
      this.sock.write(`${method} ${path} HTTP/1.1\r\nhost: 127.0.0.1\r\n${headers}\r\n${payload}`)
    })
  }

  close(): void { this.sock.destroy() }
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 8 })

function request(port: number, method: string, path: string, body?: object): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const payload = body ? JSON.stringify(body) : undefined
    const req = http.request({ host: '127.0.0.1', port, method, path, agent, headers: payload ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {} }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }))
    })
    req.on('error', reject)
    req.end(payload)
  })
}

const pct = (xs: number[], p: number) => {
  if (xs.length === 0) return NaN
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]
}

let serverLine: (cmd: string) => void = () => {}

interface Account { username: string; account_id: string; sub: MqttClient }

async function startServer(db: string): Promise<{ child: ChildProcess; ports: Record<string, number>; cleanup: () => Promise<void> }> {
  let databaseUrl = ''
  let schema = ''
  if (db === 'postgres') {
    schema = `bench_${process.pid}_${Date.now()}`
    const c = new pg.Client({ connectionString: args.pg })
    await c.connect(); await c.query(`CREATE SCHEMA ${schema}`); await c.end()
    databaseUrl = `${args.pg}?options=${encodeURIComponent(`-c search_path=${schema}`)}`
  }
  const child = spawn(process.execPath, [...(args.profile ? ['--cpu-prof', `--cpu-prof-dir=${args.profile}`] : []), '--import', 'tsx', process.argv[1], ...(args.loop ? ['--loop'] : []), '--serve', databaseUrl || 'sqlite'], { stdio: ['pipe', 'pipe', 'inherit'] })
  const ports = await new Promise<Record<string, number>>((resolve, reject) => {
    let buf = ''
    child.stdout!.on('data', (d) => { buf += d; const i = buf.indexOf('\n'); if (i >= 0) resolve(JSON.parse(buf.slice(0, i))) })
    child.on('exit', (code) => reject(new Error(`server exited with ${code}`)))
  })
  const cleanup = async () => {
    const exited = new Promise((r) => child.once('exit', r))
    child.stdin!.end()
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))])
    if (schema) { const c = new pg.Client({ connectionString: args.pg }); await c.connect(); await c.query(`DROP SCHEMA ${schema} CASCADE`); await c.end() }
  }
  return { child, ports, cleanup }
}

interface Phase { cpuMs: number; loadCpuMs: number; writes: number; reads: number; seconds: number; http: number[]; delays: number[]; expected: number; received: number }

/** `readShare` of the requests are reads; -1: every request is the no-op `purchases/record` (the stack's floor) */
async function phase(pid: number, port: number, accounts: Account[], clients: number, seconds: number, readShare: number, seq: { n: number }, rate = 0): Promise<Phase> {
  const sent = new Map<string, number>()
  const delays: number[] = []
  let received = 0
  const onMessage = (_t: string, payload: Buffer) => {
    const now = performance.now()
    const m = JSON.parse(payload.toString())
    const key = m.operation === 'added_message' ? `m${m.content.id}` : `c${m.content.device_id}`
    received++
    const t = sent.get(key)
    if (t !== undefined) { delays.push(Math.max(0, now - t)); sent.delete(key) } else sent.set(key, -now)
  }
  for (const a of accounts) a.sub.on('message', onMessage)
  const lat: number[] = []
  let writes = 0, reads = 0, expected = 0
  const until = performance.now() + seconds * 1000
  const worker = async (w: number) => {
    const conn = new RawClient(port)
    const request = (_port: number, method: string, path: string, body?: object) => conn.request(method, path, body)
    let i = 0
    // open loop (--rate): each worker sends on a fixed schedule and latency counts from the scheduled time
    const interval = rate > 0 ? (clients * 1000) / rate : 0
    const start = performance.now() + (interval * w) / clients
    while (performance.now() < until) {
      const a = accounts[(w + i++) % accounts.length]
      let t0 = performance.now()
      if (interval > 0) {
        const due = start + (i - 1) * interval
        // timers have whole-millisecond resolution: round up so a request never leaves before its time
        if (due > t0) await new Promise((r) => setTimeout(r, Math.ceil(due - t0)))
        t0 = due
      }
      if (readShare < 0) {
        const r = await request(port, 'POST', '/api/v1/purchases/record', {})
        if (r.status !== 200) throw new Error(`no-op failed: ${r.status} ${r.text}`)
        reads++
      } else if (Math.random() < readShare) {
        const path = i % 2 ? `/api/v1/messages?account_id=${a.account_id}&limit=70` : `/api/v1/conversations/index_public_unarchived?account_id=${a.account_id}&limit=20`
        const r = await request(port, 'GET', path)
        if (r.status !== 200) throw new Error(`read failed: ${r.status} ${r.text}`)
        reads++
      } else {
        const id = ++seq.n
        const isMsg = id % 2 === 0
        const body = isMsg
          ? { account_id: a.account_id, messages: [{ device_id: id, device_conversation_id: id % 50, message_type: 0, data: 'iv-:-ct', timestamp: Date.now(), mime_type: 'iv-:-ct', read: false, seen: false, sent_device: 1 }] }
          : { account_id: a.account_id, conversations: [{ device_id: id, folder_id: -1, color: 1, color_dark: 2, color_light: 3, color_accent: 4, led_color: 5, pinned: false, read: false, timestamp: Date.now(), title: 't', phone_numbers: 'p', snippet: 's', id_matcher: 'm', mute: false, archive: false, private_notifications: false }] }
        expected++
        const r = await request(port, 'POST', isMsg ? '/api/v1/messages/add' : '/api/v1/conversations/add', body)
        const now = performance.now()
        if (r.status !== 200) throw new Error(`write failed: ${r.status} ${r.text}`)
        writes++
        const key = isMsg ? `m${id}` : `c${id}`
        const early = sent.get(key)
        if (early !== undefined && early < 0) { delays.push(0); sent.delete(key) } else sent.set(key, now)
      }
      lat.push(performance.now() - t0)
    }
    conn.close()
  }
  serverLine('reset')
  const t0 = performance.now()
  const cpu0 = cpuMs(pid)
  const load0 = process.cpuUsage()
  await Promise.all(Array.from({ length: clients }, (_, w) => worker(w)))
  const elapsed = (performance.now() - t0) / 1000
  serverLine('report')
  const cpu = cpuMs(pid) - cpu0
  const load = process.cpuUsage(load0)
  const loadCpuMs = (load.user + load.system) / 1000
  for (let i = 0; i < 50 && received < expected; i++) await new Promise((r) => setTimeout(r, 100))
  for (const a of accounts) a.sub.off('message', onMessage)
  return { cpuMs: cpu, loadCpuMs, writes, reads, seconds: elapsed, http: lat, delays, expected, received }
}

function report(db: string, name: string, p: Phase): void {
  const f = (x: number) => x.toFixed(2)
  console.log(`${db.padEnd(9)} ${name.padEnd(11)} writes/s ${(p.writes / p.seconds).toFixed(0).padStart(6)}  reads/s ${(p.reads / p.seconds).toFixed(0).padStart(6)}  ` +
    `http p50 ${f(pct(p.http, 50))} ms p99 ${f(pct(p.http, 99))} ms  stream delay p50 ${f(pct(p.delays, 50))} ms p99 ${f(pct(p.delays, 99))} ms  ` +
    `lost ${p.expected - p.received}/${p.expected}  server CPU ${((p.cpuMs * 1000) / (p.writes + p.reads)).toFixed(0)} µs/request (${(p.cpuMs / 10 / p.seconds).toFixed(0)}% of a core; load generator ${(p.loadCpuMs / 10 / p.seconds).toFixed(0)}%)`)
  if (name.startsWith('write')) console.log(`${''.padEnd(21)} ${target(p)}`)
}

/**
 * Issue 3's target at 32 clients, one item per write: at least 4,000 writes/s (an open-loop phase at 4000/s counts
 * when it kept up within 1%), HTTP p99 under 15 ms, stream delay p99 under 5 ms, nothing lost.
 */
function target(p: Phase): string {
  const misses = [
    p.writes / p.seconds >= 3960 ? '' : 'writes/s',
    pct(p.http, 99) < 15 ? '' : 'HTTP p99',
    pct(p.delays, 99) < 5 ? '' : 'stream p99',
    p.received >= p.expected ? '' : 'lost messages',
  ].filter(Boolean)
  return `target (≥4000 writes/s, HTTP p99 < 15 ms, stream p99 < 5 ms, none lost): ${misses.length ? `not met (${misses.join(', ')})` : 'met'}`
}

async function bench(db: string): Promise<void> {
  const { child, ports, cleanup } = await startServer(db)
  const pid = child.pid!
  if (args.loop) serverLine = (cmd) => { child.stdin!.write(cmd + '\n') }
  try {
    const accounts: Account[] = []
    for (let i = 0; i < Number(args.accounts); i++) {
      const username = `bench${i}@example.com`
      const r = await request(ports.http, 'POST', '/api/v1/accounts/signup', { name: username, password: 'x', phone_number: '1', real_name: 'B' })
      const { account_id } = JSON.parse(r.text)
      const sub = await mqtt.connectAsync(`mqtt://127.0.0.1:${ports.mqtt}`, { username, password: account_id, clientId: `web-${i}`, reconnectPeriod: 0 })
      // small QoS 2 acknowledgements must not wait for Nagle's algorithm
      ;(sub.stream as Partial<Socket>).setNoDelay?.(true)
      await sub.subscribeAsync(`heartsms/${account_id}`, { qos: Number(args.qos) as 0 | 1 | 2 })
      accounts.push({ username, account_id, sub })
    }
    const clients = Number(args.clients), seconds = Number(args.seconds)
    const seq = { n: 0 }
    await phase(pid, ports.http, accounts, clients, Math.min(2, seconds), 0, seq) // warm-up
    const phases = args.phases.split(',')
    if (phases.includes('write')) report(db, 'write', await phase(pid, ports.http, accounts, clients, seconds, 0, seq))
    const rate = Number(args.rate)
    if (rate > 0) report(db, `write@${rate}`, await phase(pid, ports.http, accounts, clients, seconds, 0, seq, rate))
    if (phases.includes('noop')) report(db, 'no-op', await phase(pid, ports.http, accounts, clients, seconds, -1, seq))
    if (phases.includes('read')) report(db, 'read-heavy', await phase(pid, ports.http, accounts, clients, seconds, 0.9, seq))
    for (const a of accounts) a.sub.end(true)
  } finally {
    await cleanup()
  }
}

if (args.serve) {
  await serve(args.serve === 'sqlite' ? '' : args.serve)
} else {
  console.log(`heartsms bench: ${args.clients} clients, ${args.accounts} accounts with a live QoS ${args.qos} subscriber each, ${args.seconds} s per phase, one item per write`)
  for (const db of args.db.split(',')) await bench(db.trim())
  agent.destroy()
}
