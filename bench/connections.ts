// Connection benchmark (issue 11 item 6): N idle MQTT clients (each with one QoS 1 subscription) held by Herald's
// embedded broker and by a throw-away Mosquitto, one after the other in the same run: connect rate, RSS per
// connection, and CPU at idle over a window. Clients are raw sockets in holder child processes
// (bench/lib/conn-holder.ts), bound to loopback source addresses 127.B.0.1, 127.B.0.2, … (`--per-address` each), so
// 100,000 is reachable where the open-file limits allow it; the limits got are printed, and N is capped to them.
// Herald's bulk clients are anonymous (its ACL still runs): every password login costs one scrypt, so a sample of
// `--auth-sample` password logins is measured on its own. Exits non-zero only when it cannot run.
// Usage: npm run bench:connections [-- --clients 50000 --brokers herald,mosquitto --idle-seconds 20 --holders 1 --json out.json]
import { spawn, type ChildProcess } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { cpus, loadavg } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { createInterface } from 'node:readline'
import { describeHeraldBuild, mosquittoAvailable, startHeraldBroker, startMosquittoBroker, type BrokerUnderTest } from './lib/brokers.ts'
import { cpuMs, openFileLimit, procStats, withNofile } from './lib/proc.ts'
import { endpointOf } from './lib/raw-load.ts'
import { fmt, mb, table } from './lib/stats.ts'

const { values: args } = parseArgs({
  options: {
    clients: { type: 'string', default: process.env.BENCH_CLIENTS ?? '50000' },
    brokers: { type: 'string', default: process.env.BENCH_BROKERS ?? 'herald,mosquitto' },
    'idle-seconds': { type: 'string', default: '20' },
    concurrency: { type: 'string', default: '200' },
    holders: { type: 'string', default: '1' },
    'per-address': { type: 'string', default: '25000' },
    'time-limit': { type: 'string', default: '300' },
    'auth-sample': { type: 'string', default: '200' },
    protocol: { type: 'string', default: '4' },
    nofile: { type: 'string', default: '1048576' },
    json: { type: 'string' },
  },
})
const want = Math.max(1, Math.floor(Number(args.clients) || 1))
const idleSeconds = Math.max(1, Number(args['idle-seconds']) || 20)
const concurrency = Math.max(1, Number(args.concurrency) || 200)
/** holder processes (each on the load's CPU; more than one helps where the load has more than one core) */
const holderCount = Math.max(1, Math.floor(Number(args.holders) || 1))
const perAddress = Math.max(1, Math.min(28_000, Number(args['per-address']) || 25_000))
const timeLimitMs = Math.max(10, Number(args['time-limit']) || 300) * 1000
const authSample = Math.max(0, Number(args['auth-sample']) || 0)
const protocol = args.protocol === '5' ? 5 : 4
/** descriptors a broker process needs besides its clients (listeners, SQLite, logs, node internals) */
const BROKER_RESERVE = 256
const HOLDER_RESERVE = 64

const here = dirname(fileURLToPath(import.meta.url))
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

interface Holder { proc: ChildProcess; next(key: string): Promise<unknown>; send(msg: unknown): void }
const holders: Holder[] = []
process.once('exit', () => { for (const h of holders) h.proc.kill('SIGKILL') })

function startHolder(nofile: number): Promise<Holder> {
  const proc = spawn(...withNofile(nofile, process.execPath, ['--import', 'tsx', join(here, 'lib/conn-holder.ts')]), { stdio: ['pipe', 'pipe', 'inherit'] })
  const waiting = new Map<string, (v: unknown) => void>()
  const h: Holder = {
    proc,
    next: (key) => new Promise((resolve) => waiting.set(key, resolve)),
    send: (msg) => proc.stdin!.write(JSON.stringify(msg) + '\n'),
  }
  holders.push(h)
  createInterface({ input: proc.stdout! }).on('line', (line) => {
    let msg: Record<string, unknown>
    try { msg = JSON.parse(line) } catch { process.stderr.write(`[holder] ${line}\n`); return }
    if ('error' in msg) { console.error(`holder failed: ${msg.error}`); process.exit(1) }
    for (const [k, v] of Object.entries(msg)) {
      if (k === 'progress') continue
      const w = waiting.get(k)
      waiting.delete(k)
      w?.(v)
    }
  })
  proc.once('exit', (code) => { if (!quitting) { console.error(`holder exited (${code})`); process.exit(1) } })
  return h.next('ready').then(() => h)
}
let quitting = false

interface Connected { ok: number; failed: number; errors: Record<string, number>; ms: number }

/** Spread `count` clients over the holders (each at most `perHolder`); resolves when every holder is done. */
async function connectAll(b: BrokerUnderTest, count: number, perHolder: number, addresses: string[], o: { auth: boolean; idPrefix: string; concurrency: number }) {
  const to = endpointOf(b)
  const parts: Promise<Connected>[] = []
  for (let i = 0, from = 0; from < count; i++, from += perHolder) {
    const h = holders[i]
    const p = h.next('connected') as Promise<Connected>
    h.send({ connect: {
      ...to, addresses, perAddress, from, count: Math.min(perHolder, count - from), concurrency: Math.ceil(o.concurrency / Math.ceil(count / perHolder)),
      protocol, subscribe: true, idPrefix: o.idPrefix, timeLimitMs,
      ...(o.auth ? { username: b.username, password: b.password } : {}),
    } })
    parts.push(p)
  }
  const rs = await Promise.all(parts)
  const errors: Record<string, number> = {}
  for (const r of rs) for (const [k, v] of Object.entries(r.errors)) errors[k] = (errors[k] ?? 0) + v
  return { ok: rs.reduce((a, r) => a + r.ok, 0), failed: rs.reduce((a, r) => a + r.failed, 0), errors, seconds: Math.max(...rs.map((r) => r.ms)) / 1000 }
}

async function closeAll(): Promise<void> {
  await Promise.all(holders.map((h) => { const p = h.next('closed'); h.send({ close: true }); return p }))
}

const holderCpuMs = () => holders.reduce((a, h) => a + cpuMs(h.proc.pid!), 0)

interface Result {
  broker: string; fdLimit: number; asked: number; connected: number; failed: number; errors: Record<string, number>
  connectSeconds: number; connectRate: number; connectCpuUs: number; holderConnectCpu: number; idleRss: number; heldRss: number; rssPerConnection: number
  idleCpu: number; idleCpuUsPerConnSec: number; holderIdleCpu: number; authRate?: number; authCpuMs?: number
}

async function measure(b: BrokerUnderTest, index: number, n: number, perHolder: number): Promise<Result> {
  const addresses = Array.from({ length: Math.ceil(n / perAddress) + 1 }, (_, k) => `127.${10 + index}.0.${k + 1}`)
  await sleep(1000)
  const idleRss = procStats(b.pid)?.rss ?? NaN
  const fdLimit = openFileLimit(b.pid)?.soft ?? NaN
  let authRate: number | undefined, authCpuMs: number | undefined
  if (b.username && authSample > 0) {
    // password logins (one scrypt each), on addresses of their own
    const c0 = cpuMs(b.pid)
    const r = await connectAll(b, authSample, authSample, [`127.${10 + index}.1.1`], { auth: true, idPrefix: `bench-auth-${index}-`, concurrency: 20 })
    authCpuMs = (cpuMs(b.pid) - c0) / Math.max(1, r.ok)
    authRate = r.ok / r.seconds
    console.error(`${b.name}: ${r.ok} password logins at ${fmt(authRate)}/s, ${fmt(authCpuMs, 1)} ms broker CPU each${r.failed ? `, ${r.failed} failed ${JSON.stringify(r.errors)}` : ''}`)
    await closeAll()
    await sleep(1000)
  }
  const cpu0 = cpuMs(b.pid), hc0 = holderCpuMs()
  const progress = setInterval(() => console.error(`${b.name}: RSS ${mb(procStats(b.pid)?.rss ?? NaN)} MB, connecting…`), 5000)
  const r = await connectAll(b, n, perHolder, addresses, { auth: false, idPrefix: `bench-idle-${index}-`, concurrency })
  clearInterval(progress)
  const connectCpuUs = ((cpuMs(b.pid) - cpu0) * 1000) / Math.max(1, r.ok)
  const holderConnectCpu = (holderCpuMs() - hc0) / (r.seconds * 1000)
  console.error(`${b.name}: ${r.ok} connected in ${fmt(r.seconds, 1)} s${r.failed ? `, ${r.failed} failed ${JSON.stringify(r.errors)}` : ''}`)
  await sleep(2000)
  const heldRss = procStats(b.pid)?.rss ?? NaN
  const i0 = cpuMs(b.pid), h0 = holderCpuMs()
  await sleep(idleSeconds * 1000)
  const idleMs = cpuMs(b.pid) - i0, holderMs = holderCpuMs() - h0
  await closeAll()
  return {
    broker: b.name, fdLimit, asked: n, connected: r.ok, failed: r.failed, errors: r.errors,
    connectSeconds: r.seconds, connectRate: r.ok / r.seconds, connectCpuUs, holderConnectCpu, idleRss, heldRss,
    rssPerConnection: (heldRss - idleRss) / Math.max(1, r.ok),
    idleCpu: idleMs / (idleSeconds * 1000), idleCpuUsPerConnSec: (idleMs * 1000) / idleSeconds / Math.max(1, r.ok),
    holderIdleCpu: holderMs / (idleSeconds * 1000), authRate, authCpuMs,
  }
}

/** What `ulimit -n` a child gets when it asks for `nofile` (it falls back to the hard limit). */
function probeNofile(nofile: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const p = spawn(...withNofile(nofile, 'sh', ['-c', 'ulimit -n']), { stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    p.stdout!.on('data', (d) => { out += d })
    p.once('error', reject)
    p.once('exit', () => resolve(Number(out.trim())))
  })
}

async function main(): Promise<void> {
  const wanted = args.brokers.split(',').map((x) => x.trim()).filter(Boolean)
  for (const w of wanted) if (w !== 'herald' && w !== 'mosquitto') throw new Error(`unknown broker ${w} (herald, mosquitto)`)
  const self = openFileLimit()
  const got = await probeNofile(Number(args.nofile) || 1_048_576)
  const cap = Math.max(1, got - BROKER_RESERVE)
  const n = Math.min(want, cap)
  const perHolder = Math.max(1, Math.min(got - HOLDER_RESERVE, Math.ceil(n / holderCount)))
  console.log(`connection benchmark: ${fmt(want)} idle clients asked${n < want ? `, CAPPED AT ${fmt(n)}` : ''}; ` +
    `open files: this process ${self?.soft}/${self?.hard} (soft/hard), children asked ${args.nofile} and got ${got}` +
    `${n < want ? ` (a broker holds one descriptor per client: it cannot hold more than ${fmt(got)} - ${BROKER_RESERVE} here)` : ''}; ` +
    `${Math.ceil(n / perHolder)} holder process(es), ${fmt(perAddress)} clients per source address; MQTT ${protocol === 5 ? '5' : '3.1.1'}, one QoS 1 subscription each; ` +
    `node ${process.version}; ${cpus().length} CPUs; load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}; ${describeHeraldBuild()}\n`)
  const results: Result[] = []
  for (const [index, name] of wanted.entries()) {
    if (name === 'mosquitto' && !mosquittoAvailable()) { console.error('mosquitto: not installed, skipped'); continue }
    const b = name === 'herald' ? await startHeraldBroker({ nofile: got, allowAnonymous: true }) : await startMosquittoBroker({ nofile: got })
    try {
      // holders start after the first broker, so they inherit this process's CPU (proc.ts pins it then)
      while (holders.length < Math.ceil(n / perHolder)) await startHolder(got)
      results.push(await measure(b, index, n, perHolder))
    } finally {
      await b.stop()
    }
  }
  quitting = true
  console.log(table(
    ['broker', 'fd limit', 'connected', 'failed', 'connect/s', 'broker CPU us/connect', 'holders CPU connecting', 'idle RSS MB', 'RSS held MB', 'KB/connection',
      `idle CPU (${idleSeconds} s)`, 'us CPU per conn-s', 'holders idle CPU', 'password logins/s'],
    results.map((r) => [
      r.broker, fmt(r.fdLimit), fmt(r.connected), String(r.failed), fmt(r.connectRate), fmt(r.connectCpuUs, 1),
      `${fmt(r.holderConnectCpu * 100)}%`, mb(r.idleRss), mb(r.heldRss),
      fmt(r.rssPerConnection / 1024, 2), `${fmt(r.idleCpu * 100, 2)}%`, fmt(r.idleCpuUsPerConnSec, 3), `${fmt(r.holderIdleCpu * 100, 2)}%`,
      r.authRate === undefined ? '-' : `${fmt(r.authRate)} (${fmt(r.authCpuMs ?? NaN, 1)} ms CPU)`,
    ]),
  ))
  for (const r of results) if (r.failed) console.log(`${r.broker}: ${r.failed} clients failed: ${JSON.stringify(r.errors)}`)
  const h = results.find((r) => r.broker === 'herald'), m = results.find((r) => r.broker === 'mosquitto')
  if (h && m) {
    const x = (a: number, b: number, d: number) => (Number.isFinite(a / b) ? `${fmt(a / b, d)}x` : 'n/a (below the clock tick)')
    console.log(`\nHerald/Mosquitto: connect rate ${x(h.connectRate, m.connectRate, 2)}, RSS per connection ` +
      `${x(h.rssPerConnection, m.rssPerConnection, 1)}, idle CPU ${x(h.idleCpu, m.idleCpu, 1)}`)
  }
  console.log(`load average at the end: ${loadavg().map((x) => x.toFixed(2)).join(' ')}`)
  if (args.json) writeFileSync(args.json, JSON.stringify({ at: new Date().toISOString(), asked: want, clients: n, nofile: got, results }, null, 2))
  for (const x of holders) x.proc.stdin!.end()
}

main().then(() => process.exit(0), (err) => {
  console.error(`connection benchmark failed: ${(err as Error).stack ?? err}`)
  process.exit(1)
})
