// SYNRC p2p benchmark (issue 12 §6): P pairs of friends; each sender device publishes ETF Messages on its events
// topic (QoS 2, as mq.js) and a message is done when the sender has its {'Ack','Message',MsgId} and the peer's two
// devices have it on private/<a>/<b>. Run at a fixed offered rate and at saturation (a window per pair), with p50/p99
// send → last delivery, then the raw pass-through of the same payloads: a plain mqtt.js publish to a topic the peer
// devices are subscribed to (server-side), through the same broker. Herald runs in a child (this file with --serve)
// on SQLite; the CPU of both processes is printed (the load generator's share matters on a 2-core machine).
// Usage: npm run bench:synrc [-- --pairs 20 --rate 400 --seconds 5 --messages 300 --window 4]
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { createInterface } from 'node:readline'
import { parseArgs } from 'node:util'
import mqtt, { type MqttClient } from 'mqtt'
import { coreSettings, loadConfig } from '../src/config.ts'
import { createSynrc } from '../src/dialects/synrc/index.ts'
import { synrcSettings } from '../src/dialects/synrc/settings.ts'
import { rosterIdOf } from '../src/dialects/synrc/store/rosters.ts'
import { privateTopic } from '../src/dialects/synrc/topics.ts'
import { Wire, type Rec } from '../src/dialects/synrc/wire.ts'
import { startHerald } from '../src/server.ts'
import { cpuMs } from './lib/proc.ts'
import { fmt, percentileOf as pct, table } from './lib/stats.ts'

const { values: args } = parseArgs({ options: {
  pairs: { type: 'string', default: '20' }, rate: { type: 'string', default: '400' }, seconds: { type: 'string', default: '5' },
  messages: { type: 'string', default: '300' }, window: { type: 'string', default: '4' }, serve: { type: 'boolean', default: false },
} })
const P = Number(args.pairs), RATE = Number(args.rate), SECONDS = Number(args.seconds), N = Number(args.messages), W = Number(args.window)
const TIME_LIMIT_MS = Number(process.env.BENCH_TIME_LIMIT_MS ?? 120_000)
const wire = new Wire({ layout: 'a', maxBytes: 1 << 20 })

interface Dev { clientId: string; token: string }
interface Pair { a: string; b: string; a1: Dev; b1: Dev; b2: Dev }
interface Result { messages: number; lost: number; seconds: number; p50: number; p99: number; timedOut: boolean; serverCpuMs: number; loadCpuMs: number }

const phoneOf = (i: number, side: 'a' | 'b') => `38063${side === 'a' ? 8 : 9}${String(i).padStart(6, '0')}`

/** Child: Herald with the SYNRC dialect; devices, friendships and the raw user made straight in the stores. */
async function serve(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'herald-bench-synrc-'))
  const aclFile = join(dataDir, 'acl')
  writeFileSync(aclFile, 'user raw\ntopic readwrite raw/#\n')
  const synrc = createSynrc()
  const config = loadConfig({ settings: [...coreSettings, ...synrcSettings], env: {}, overrides: {
    mode: 'development', dataDir, host: '127.0.0.1', logLevel: 'warn', 'auth.aclFile': aclFile,
    'http.port': 0, 'https.port': 'off', 'mqtt.port': 0, 'mqtts.port': 'off', 'metrics.port': 'off', 'mqtt.maxConnectionsPerPrincipal': 1_000_000,
  } })
  const herald = await startHerald({ config, dialects: [synrc] })
  await herald.users.add('raw', 'raw')
  const s = synrc.synrc!
  const now = Date.now()
  const pairs: Pair[] = []
  const rawOf = new Map<string, string>()
  const device = async (phone: string, key: string): Promise<Dev> => {
    const d = { clientId: `emqttd_${phone}_${key}`, token: `bench-${phone}-${key}` }
    await s.stores.auth.verified(`reg_${phone}_${key}`, { client_id: d.clientId, token: d.token, phone, dev_key: key, created: now })
    await s.stores.rosters.ensure(phone, now)
    return d
  }
  for (let i = 0; i < P; i++) {
    const pa = phoneOf(i, 'a'), pb = phoneOf(i, 'b')
    const p: Pair = { a: rosterIdOf(pa), b: rosterIdOf(pb), a1: await device(pa, 'd1'), b1: await device(pb, 'd1'), b2: await device(pb, 'd2') }
    await s.stores.friends.set(p.a, p.b, 'friend', now)
    await s.stores.friends.set(p.b, p.a, 'friend', now)
    rawOf.set(p.b, `raw/${i}`)
    pairs.push(p)
  }
  // what the FRIEND module subscribes at connect, plus the raw run's topic for the peer devices
  s.addSubscriptionProvider(async (d) => [
    ...(await s.stores.friends.of(d.rosterId, 'friend')).map((f) => privateTopic(d.rosterId, f.friend_id)),
    ...(rawOf.has(d.rosterId) ? [rawOf.get(d.rosterId)!] : []),
  ])
  console.log(JSON.stringify({ ready: { port: herald.ports.mqtt, pairs } }))
  const stop = async () => {
    await herald.stop().catch(() => {})
    rmSync(dataDir, { recursive: true, force: true })
    process.exit(0)
  }
  process.on('SIGTERM', stop)
  process.stdin.on('end', stop)
  process.stdin.resume()
}

function startChild(): Promise<{ port: number; pairs: Pair[]; pid: number; stop: () => void }> {
  const child = spawn(process.execPath, ['--import', 'tsx', process.argv[1], '--serve', '--pairs', String(P)], { stdio: ['pipe', 'pipe', 'inherit'] })
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

function connect(url: string, o: mqtt.IClientOptions): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const c = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 30_000, keepalive: 120, protocolVersion: 4, ...o })
    c.once('connect', () => resolve(c))
    c.once('error', reject)
  })
}

/** which run is measuring: a late part of an earlier run is not counted */
let RUN = 0
/** the same bytes in both runs: a text Message whose msg_id carries (run, pair, seq, sent at) */
const payloadOf = (p: Pair, i: number, seq: number): Buffer => wire.encode({
  $: 'Message', feed_id: { $: 'p2p', from: Buffer.from(p.a), to: Buffer.from(p.b) }, msg_id: Buffer.from(`${RUN}:${i}:${seq}:${performance.now()}`),
  files: [{ $: 'Desc', mime: Buffer.from('text'), payload: Buffer.from(`message ${seq} of pair ${i}: hello there`) }],
})

interface Run { send(i: number, seq: number): void; needs: number }

/** how long a message may take before it counts as lost (the embedded Aedes drops a QoS 2 delivery now and then) */
const LOSS_MS = Number(process.env.BENCH_LOSS_MS ?? 3000)

/** A message is done when `needs` parts arrived (Ack + two deliveries, or two deliveries); offered at a fixed rate
 *  (rate > 0) or closed-loop with a window per pair (rate 0); one not done within LOSS_MS is counted lost. */
async function drive(pid: number, run: Run, on: (cb: (i: number, seq: number) => void) => void, rate: number, perPair = N): Promise<Result> {
  const latencies: number[] = []
  const out = new Map<string, { i: number; t: number; parts: number }>()
  const sent = new Array(P).fill(0)
  const total = rate > 0 ? Math.round(rate * SECONDS) : P * perPair
  let done = 0, lost = 0, offered = 0, lastDone = 0
  let finish!: () => void
  const all = new Promise<void>((r) => { finish = r })
  const send = (i: number) => {
    const seq = sent[i]++
    out.set(`${i}:${seq}`, { i, t: performance.now(), parts: 0 })
    run.send(i, seq)
  }
  const settled = (i: number) => {
    if (done + lost === total) finish()
    else if (rate === 0 && sent[i] < perPair) send(i)
  }
  on((i, seq) => {
    const key = `${i}:${seq}`
    const m = out.get(key)
    if (!m || ++m.parts < run.needs) return
    out.delete(key)
    lastDone = performance.now()
    latencies.push(lastDone - m.t)
    done++
    settled(i)
  })
  const sweep = setInterval(() => {
    const now = performance.now()
    for (const [key, m] of out) if (now - m.t > LOSS_MS) { out.delete(key); lost++; settled(m.i) }
  }, 100)
  const server0 = cpuMs(pid), load0 = process.cpuUsage(), t0 = performance.now()
  let ticker: NodeJS.Timeout | undefined
  if (rate > 0) {
    // every 5 ms, what the offered rate owes since the start, round-robin over the pairs
    ticker = setInterval(() => {
      const due = Math.min(total, Math.floor(((performance.now() - t0) / 1000) * rate))
      while (offered < due) send(offered++ % P)
      if (offered >= total) clearInterval(ticker)
    }, 5)
  } else {
    for (let i = 0; i < P; i++) for (let k = 0; k < W; k++) if (sent[i] < perPair) send(i)
  }
  let timer: NodeJS.Timeout | undefined
  const timedOut = await Promise.race([all.then(() => false), new Promise<boolean>((r) => { timer = setTimeout(() => r(true), TIME_LIMIT_MS) })])
  clearTimeout(timer); clearInterval(ticker); clearInterval(sweep)
  // up to the last delivery: waiting out a lost message at the end is not time spent delivering
  const seconds = ((lastDone || performance.now()) - t0) / 1000
  const load = process.cpuUsage(load0)
  return { messages: done, lost, seconds, p50: pct(latencies, 50), p99: pct(latencies, 99), timedOut, serverCpuMs: cpuMs(pid) - server0, loadCpuMs: (load.user + load.system) / 1000 }
}

const parse = (payload: Buffer): [number, number] | undefined => {
  const m: Rec = wire.decode(payload)
  const id = m.$ === 'Message' || m.$ === 'Ack' ? (m.$ === 'Ack' ? m.id : m.msg_id) : undefined
  if (!(id instanceof Uint8Array)) return undefined
  const [run, i, seq] = Buffer.from(id).toString().split(':').map(Number)
  return run === RUN ? [i, seq] : undefined
}

async function main(): Promise<void> {
  const child = await startChild()
  const url = `mqtt://127.0.0.1:${child.port}`
  const clients: MqttClient[] = []
  try {
    const dev = async (d: Dev) => { const c = await connect(url, { clientId: d.clientId, username: 'api', password: d.token, clean: false }); clients.push(c); return c }
    const senders: MqttClient[] = [], peers: MqttClient[][] = []
    for (const p of child.pairs) {
      senders.push(await dev(p.a1))
      peers.push([await dev(p.b1), await dev(p.b2)])
    }
    await new Promise((r) => setTimeout(r, 500)) // the server-side subscriptions of the last connects
    const routed: Run = { needs: 3, send: (i, seq) => { senders[i].publish(`events/1/1/api/anon/${child.pairs[i].a1.clientId}/`, payloadOf(child.pairs[i], i, seq), { qos: 2 }) } }
    let listener: ((i: number, seq: number) => void) | undefined
    for (const s of senders) s.on('message', (topic, payload) => { if (topic.startsWith('actions/')) { const m = parse(payload); if (m) listener?.(...m) } })
    for (const ps of peers) for (const c of ps) c.on('message', (topic, payload) => { if (topic.startsWith('private/') || topic.startsWith('raw/')) { const m = parse(payload); if (m) listener?.(...m) } })
    const on = (cb: typeof listener) => { listener = cb }
    const raws: MqttClient[] = []
    for (let i = 0; i < P; i++) { const c = await connect(url, { username: 'raw', password: 'raw' }); raws.push(c); clients.push(c) }
    const raw: Run = { needs: 2, send: (i, seq) => { raws[i].publish(`raw/${i}`, payloadOf(child.pairs[i], i, seq), { qos: 2 }) } }

    // warm-up, not measured: JIT, SQLite pages, the broker's subscription caches
    for (const r of [routed, raw]) { RUN++; await drive(child.pid, r, on, 0, 30) }
    const results: [string, Result][] = []
    for (const [name, r, rate] of [['synrc, fixed rate', routed, RATE], ['raw, fixed rate', raw, RATE], ['synrc, saturation', routed, 0], ['raw, saturation', raw, 0]] as const) {
      RUN++
      results.push([name, await drive(child.pid, r, on, rate)])
      listener = undefined
      await new Promise((res) => setTimeout(res, 300))
    }
    const row = (name: string, r: Result) => [name, fmt(r.messages / r.seconds), String(r.lost), fmt(r.p50, 2), fmt(r.p99, 2), fmt((r.serverCpuMs * 1000) / r.messages),
      `${fmt(r.serverCpuMs / 10 / r.seconds)}%`, `${fmt(r.loadCpuMs / 10 / r.seconds)}%`, r.timedOut ? 'TIMED OUT' : 'ok']
    console.log(`synrc bench: ${P} pairs (sender device → peer's 2 devices), QoS 2, layout a, SQLite; fixed rate ${RATE}/s for ${SECONDS}s; saturation ${N} per pair, window ${W}`)
    console.log(table(['run', 'messages/s', 'lost', 'p50 ms', 'p99 ms', 'server CPU µs/msg', 'server CPU', 'load-gen CPU', 'status'], results.map(([n, r]) => row(n, r))))
    const sat = (n: string) => results.find(([k]) => k === n)![1]
    const rs = sat('synrc, saturation'), rr = sat('raw, saturation')
    console.log(`ratio synrc/raw at saturation: messages/s ${fmt(rs.messages / rs.seconds / (rr.messages / rr.seconds), 3)}, p50 ${fmt(rs.p50 / rr.p50, 2)}x`)
  } finally {
    await Promise.allSettled(clients.map((c) => c.endAsync(true)))
    child.stop()
  }
}

(args.serve ? serve() : main()).catch((err) => { console.error(err); process.exit(1) })
