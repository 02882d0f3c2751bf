// Idle memory (issue 11 item 7): Herald's compiled build and stock Aedes, each in its own plain-node process (no tsx,
// which costs ~30 MB of its own), started in the same run; VmRSS read from /proc at fixed times after each is ready.
// Beside them the libraries floor: stock Aedes plus the libraries every `herald serve` starts, without Herald's code
// (bench/lib/stack-floor.mjs), the least Herald's stack can cost. Then what each heavy dependency and Herald module
// costs to import in a fresh plain-node process.
//
//   npm run build && npm run bench:memory [-- --rounds 2 --at 10,30 --modules=false]
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { cpus, loadavg, tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { describeHeraldBuild, heraldBuild, startAedesBroker, startHeraldBroker, startStackFloor, type BrokerUnderTest } from './lib/brokers.ts'
import { procStats } from './lib/proc.ts'
import { table } from './lib/stats.ts'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '2' },
    /** seconds after ready at which RSS is read */
    at: { type: 'string', default: '10,30' },
    modules: { type: 'string', default: 'true' },
  },
})
const rounds = Math.max(1, Number(args.rounds))
const at = args.at.split(',').map(Number).filter((x) => x > 0).sort((a, b) => a - b)
const mb = (bytes: number) => bytes / 1048576
const fmt = (x: number, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : '-')

/**
 * `herald serve` as a user runs it (bin/herald.js, the default dialects and listeners), every port on a free one
 * (0) so it runs beside Mosquitto on 1883; SQLite in a temp data directory. Ready at its "herald ready" log line.
 */
async function startHeraldServe(): Promise<BrokerUnderTest> {
  const dataDir = mkdtempSync(join(tmpdir(), 'herald-memory-'))
  const ports = ['HTTP', 'HTTPS', 'MQTT', 'MQTTS', 'METRICS', 'PUSH'].map((p) => [`HERALD_${p}_PORT`, '0'])
  const proc = spawn(process.execPath, [join(root, 'bin', 'herald.js'), 'serve'], {
    env: {
      ...process.env, ...Object.fromEntries(ports), HERALD_HOST: '127.0.0.1', HERALD_DATA_DIR: dataDir,
      HERALD_LOG_FORMAT: 'json', HERALD_SERVICE_PASSWORD: 'bench-memory',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const exited = new Promise<void>((r) => proc.once('exit', () => r()))
  process.once('exit', () => proc.kill('SIGKILL'))
  const stop = async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGTERM')
      const t = setTimeout(() => proc.kill('SIGKILL'), 5000)
      await exited
      clearTimeout(t)
    }
    rmSync(dataDir, { recursive: true, force: true })
  }
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('herald serve did not start within 60 s')), 60_000)
    proc.once('exit', (code, signal) => { clearTimeout(timer); reject(new Error(`herald serve exited (${signal ?? code})`)) })
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      let msg: { msg?: string; level?: number } | undefined
      try { msg = JSON.parse(line) } catch { return }
      if (msg?.msg === 'herald ready') { clearTimeout(timer); resolve() }
      else if ((msg?.level ?? 0) >= 40) process.stderr.write(`[herald serve] ${line}\n`)
    })
  })
  return { name: 'herald serve', url: '', pid: proc.pid!, stop }
}

const starters: Record<string, () => Promise<BrokerUnderTest>> = {
  'herald default': startHeraldServe,
  'herald broker-only': () => startHeraldBroker(),
  aedes: () => startAedesBroker(),
  // Aedes + Fastify + better-sqlite3/Kysely + pino + prom-client, no Herald code: the least Herald's stack can cost
  'libraries floor': () => startStackFloor(),
}

/** RSS (MB) of each broker at each time in `at`, all started in this round and sampled side by side. */
async function round(): Promise<Record<string, number[]>> {
  const out: Record<string, number[]> = {}
  const running: { name: string; b: BrokerUnderTest; ready: number }[] = []
  try {
    // one after the other, so that one's start-up does not slow another's; the waits below overlap
    for (const [name, start] of Object.entries(starters)) running.push({ name, b: await start(), ready: Date.now() })
    const samples = running.map(async ({ name, b, ready }) => {
      out[name] = []
      for (const s of at) {
        await new Promise((r) => setTimeout(r, Math.max(0, ready + s * 1000 - Date.now())))
        out[name].push(mb(procStats(b.pid)?.rss ?? NaN))
      }
    })
    await Promise.all(samples)
  } finally {
    await Promise.all(running.map(({ b }) => b.stop()))
  }
  return out
}

/** Herald modules and dependencies whose import cost is listed (dist/ paths need the build). */
const MODULES = [
  'fastify', 'aedes', 'mqtt-packet', 'better-sqlite3', 'kysely', 'pino', 'prom-client', 'ws', '@fastify/websocket',
  '@fastify/swagger', '@fastify/swagger-ui', '@fastify/cors', '@fastify/formbody', 'commander', 'jose',
  '@peculiar/x509', 'pkijs', 'asn1js', 'undici', 'web-push', 'htmlparser2', '@xmpp/client',
  '@xmpp/component', 'selfsigned', 'mqtt', 'pg', 'ioredis', 'amqplib', 'ldapts',
  'dist/config.js', 'dist/server.js', 'dist/cli.js', 'dist/dialects/index.js', 'dist/transport/broker.js',
  'dist/core/http/server.js', 'dist/core/store/db.js', 'dist/core/identity/index.js', 'dist/core/identity/x509.js',
  'dist/core/push/create.js', 'dist/core/admin/index.js', 'dist/dialects/heartsms/index.js', 'dist/dialects/chat21/index.js',
  'dist/dialects/synrc/index.js', 'dist/dialects/push/index.js',
]

interface Cost { module: string; rss: number; heap: number; error?: string }

/** RSS and heap growth of importing `module` in a fresh plain-node process, less that of importing an empty module. */
function importCost(module: string): Promise<Cost> {
  return new Promise((resolve) => {
    const proc = spawn(process.execPath, ['--expose-gc', join(root, 'bench', 'lib', 'import-cost.mjs'), module], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    proc.stdout.on('data', (d) => { out += d })
    proc.stderr.on('data', (d) => { err += d })
    proc.once('exit', () => {
      try {
        const r = JSON.parse(out.trim().split('\n').pop()!) as { rss: number; heap: number }
        resolve({ module, rss: r.rss, heap: r.heap })
      } catch {
        resolve({ module, rss: NaN, heap: NaN, error: /Error[^\n]*/.exec(err)?.[0] ?? 'failed' })
      }
    })
  })
}

const median = (xs: number[]) => {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b)
  return s.length ? (s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2) : NaN
}

async function main() {
  const { build } = heraldBuild()
  if (build !== 'dist') throw new Error('bench:memory measures the compiled build: run `npm run build` first')
  console.log(`memory benchmark: ${rounds} round(s), RSS (VmRSS, MB) at ${at.join(' s, ')} s after ready; node ${process.version}; ` +
    `${cpus().length} CPUs; load average ${loadavg().map((x) => fmt(x, 2)).join(' ')}; ${describeHeraldBuild()}; Aedes on plain node\n`)
  const all: Record<string, number[][]> = {}
  for (let r = 0; r < rounds; r++) {
    const got = await round()
    for (const [name, xs] of Object.entries(got)) (all[name] ??= []).push(xs)
  }
  const names = Object.keys(starters)
  const med = (name: string, i: number) => median(all[name].map((xs) => xs[i]))
  console.log(table(['broker', ...at.map((s) => `RSS MB at ${s} s (median; rounds)`)], names.map((n) => [
    n, ...at.map((_s, i) => `${fmt(med(n, i))} (${all[n].map((xs) => fmt(xs[i])).join(', ')})`),
  ])))
  // same-round ratios, so that the machine's other work weighs on both sides alike
  console.log('\nHerald / Aedes idle RSS (median of same-round ratios); the bar is <= 1.00:')
  for (const n of names.filter((x) => x !== 'aedes')) {
    const ratios = at.map((_s, i) => median(all[n].map((xs, r) => xs[i] / all.aedes[r][i])))
    console.log(`  ${n}: ${at.map((s, i) => `${fmt(ratios[i], 2)}x at ${s} s`).join(', ')}`)
  }
  // what Herald's own code costs above the libraries it is built on
  console.log('\nHerald / libraries floor (Aedes + Fastify + better-sqlite3/Kysely + pino + prom-client, no Herald code):')
  for (const n of names.filter((x) => x.startsWith('herald'))) {
    const ratios = at.map((_s, i) => median(all[n].map((xs, r) => xs[i] / all['libraries floor'][r][i])))
    const extra = at.map((_s, i) => median(all[n].map((xs, r) => xs[i] - all['libraries floor'][r][i])))
    console.log(`  ${n}: ${at.map((s, i) => `${fmt(ratios[i], 2)}x (+${fmt(extra[i])} MB) at ${s} s`).join(', ')}`)
  }

  if (args.modules === 'false') return
  const empty = await importCost('node:path')
  const costs: Cost[] = []
  // one at a time, after the brokers are gone: each figure is its own process's growth
  for (const m of MODULES) {
    const c = await importCost(m.startsWith('dist/') ? join(root, m) : m)
    costs.push({ ...c, module: m, rss: c.rss - empty.rss })
  }
  costs.sort((a, b) => (b.rss || -1) - (a.rss || -1))
  console.log(`\nImport cost in a fresh plain-node process (RSS and heapUsed growth after gc, MB; RSS less an empty import's ${fmt(empty.rss)} MB). ` +
    'A module\'s figure includes everything it imports, so rows overlap; dist/ rows are Herald\'s own modules with their imports:')
  console.log(table(['module', 'RSS MB', 'heap MB'], costs.map((c) => [c.module, c.error ? c.error.slice(0, 60) : fmt(c.rss), fmt(c.heap)])))
}

await main()
