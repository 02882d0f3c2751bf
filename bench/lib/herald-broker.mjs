// Benchmark child: Herald's embedded broker with access control on (a real user, an ACL file, SQLite in a temp dir).
// Env: BENCH_USER, BENCH_PASSWORD; BENCH_ALLOW_ANONYMOUS=1 also lets anonymous clients in (ACL: bench/idle/#);
// BENCH_HERALD_CONFIG: a JSON object of further settings. Prints {"ready":{"port":…}} when MQTT listens; exits on SIGTERM.
// Plain JavaScript so that it runs on plain node against the compiled build (dist/, BENCH_HERALD_BUILD=dist, the
// default) like `herald serve` does; BENCH_HERALD_BUILD=src imports the TypeScript sources (the parent adds tsx).
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const fromSource = process.env.BENCH_HERALD_BUILD === 'src'
const module = (name) => new URL(fromSource ? `../../src/${name}.ts` : `../../dist/${name}.js`, import.meta.url).href
/** @type {typeof import('../../src/config.ts')} */
const { coreSettings, loadConfig } = await import(module('config'))
/** @type {typeof import('../../src/server.ts')} */
const { startHerald } = await import(module('server'))

const user = process.env.BENCH_USER ?? 'bench'
const password = process.env.BENCH_PASSWORD ?? 'bench'
const dataDir = mkdtempSync(join(tmpdir(), 'herald-bench-'))
const aclFile = join(dataDir, 'acl')
const anonymous = process.env.BENCH_ALLOW_ANONYMOUS === '1'
// mosquitto.conf(5) acl_file: the bench user may use bench/#, and a per-user pattern like a real deployment has;
// rules before the first `user` line are the anonymous clients'
writeFileSync(aclFile, [
  'pattern readwrite users/%u/#',
  'topic deny $SYS/#',
  ...(anonymous ? ['topic readwrite bench/idle/#'] : []),
  `user ${user}`,
  'topic read status/#',
  'topic readwrite bench/#',
  '',
].join('\n'))

// the load opens many connections from few loopback addresses: connection limits of the day (per address, in total,
// CONNECT rate) are lifted whatever they are named, so the benchmark measures the broker, not its guard rails
const known = new Set(coreSettings.map((x) => x.key))
const limits = Object.fromEntries(coreSettings
  .filter((x) => x.type === 'int' && /^mqtt\.(max)?(connections|connects|connectRate)/i.test(x.key))
  .map((x) => [x.key, 10_000_000]))
const extra = JSON.parse(process.env.BENCH_HERALD_CONFIG || '{}')
for (const k of Object.keys(extra)) if (!known.has(k)) throw new Error(`BENCH_HERALD_CONFIG: unknown setting ${k}`)

const config = loadConfig({
  env: {},
  overrides: {
    mode: 'production', dataDir, databaseUrl: '', host: '127.0.0.1', logLevel: 'warn',
    'http.port': 0, 'https.port': 'off', 'mqtt.port': 0, 'mqtts.port': 'off', 'metrics.port': 'off',
    // the load logs every client in with one account
    ...limits,
    'mqtt.maxConnectionsPerPrincipal': 1_000_000,
    'auth.aclFile': aclFile, 'service.password': randomBytes(12).toString('hex'),
    ...(anonymous ? { 'auth.allowAnonymous': true } : {}),
    ...extra,
  },
})
const herald = await startHerald({ config, dialects: [] })
await herald.users.add(user, password)

let stopping = false
const stop = async () => {
  if (stopping) return
  stopping = true
  await herald.stop().catch(() => {})
  rmSync(dataDir, { recursive: true, force: true })
  process.exit(0)
}
process.on('SIGTERM', () => void stop())
process.on('SIGINT', () => void stop())
process.stdout.write(JSON.stringify({ ready: { port: herald.ports.mqtt } }) + '\n')
