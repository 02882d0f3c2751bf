// The brokers a benchmark compares, each in its own process so its RSS and CPU time are its own.
import { randomBytes } from 'node:crypto'
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { freePort, spawnListening, spawnNodeChild, type Child, type SpawnOptions } from './proc.ts'

export interface BrokerUnderTest {
  name: string
  url: string
  /** credentials the load clients log in with (Herald: access control on) */
  username?: string
  password?: string
  pid: number
  stop(): Promise<void>
}

const here = dirname(fileURLToPath(import.meta.url))

function fromChild(name: string, child: Child, port: number, creds: { username?: string; password?: string } = {}): BrokerUnderTest {
  return { name, url: `mqtt://127.0.0.1:${port}`, pid: child.pid, stop: () => child.stop(), ...creds }
}

const root = join(here, '..', '..')

/**
 * Which Herald a benchmark runs: the compiled build (dist/, what `herald serve` runs) when it is built, else the
 * TypeScript sources through tsx (which costs ~30 MB RSS and start-up time of its own). BENCH_HERALD_BUILD=src|dist
 * forces one. `stale` names a source file newer than the build (run `npm run build`).
 */
export function heraldBuild(): { build: 'dist' | 'src'; stale?: string } {
  const forced = process.env.BENCH_HERALD_BUILD
  if (forced && forced !== 'dist' && forced !== 'src') throw new Error(`BENCH_HERALD_BUILD is dist or src, not ${forced}`)
  const built = existsSync(join(root, 'dist', 'server.js'))
  if (forced === 'dist' && !built) throw new Error('BENCH_HERALD_BUILD=dist but dist/ is not built: run `npm run build`')
  if (forced === 'src' || !built) return { build: 'src' }
  // tsc leaves a compiled file whose text did not change as it was: the time of the build is npm run build's stamp
  const stamp = join(root, 'dist', '.built')
  return { build: 'dist', stale: newerThan(join(root, 'src'), existsSync(stamp) ? statSync(stamp).mtimeMs : 0) }
}

function newerThan(dir: string, mtimeMs: number): string | undefined {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name)
    const hit = e.isDirectory() ? newerThan(p, mtimeMs) : statSync(p).mtimeMs > mtimeMs ? p : undefined
    if (hit) return hit
  }
  return undefined
}

/** One line for a benchmark's header: which Herald it runs. */
export function describeHeraldBuild(): string {
  const { build, stale } = heraldBuild()
  if (build === 'src') return 'Herald from source (tsx; dist/ not built or BENCH_HERALD_BUILD=src)'
  return `Herald compiled (dist/, plain node)${stale ? `; WARNING: ${stale.slice(root.length + 1)} is newer than dist/, run npm run build` : ''}`
}

export interface HeraldOptions extends SpawnOptions {
  /** also accept anonymous clients (bench:connections: a CONNECT without the scrypt check), ACL bench/idle/# */
  allowAnonymous?: boolean
}

/** Herald's embedded broker: clients log in as a real (non-superuser) account; every hook runs. */
export async function startHeraldBroker(opts: HeraldOptions = {}): Promise<BrokerUnderTest> {
  const username = 'bench'
  const password = randomBytes(12).toString('hex')
  const { build } = heraldBuild()
  const { child, ready } = await spawnNodeChild<{ port: number }>('herald', join(here, 'herald-broker.mjs'), {
    BENCH_USER: username, BENCH_PASSWORD: password, BENCH_ALLOW_ANONYMOUS: opts.allowAnonymous ? '1' : '', BENCH_HERALD_BUILD: build,
  }, 30_000, { ...opts, tsx: build === 'src' })
  return fromChild('herald', child, ready.port, { username, password })
}

/** Stock Aedes with no hooks, the same version Herald embeds, on plain node. */
export async function startAedesBroker(opts: SpawnOptions = {}): Promise<BrokerUnderTest> {
  const { child, ready } = await spawnNodeChild<{ port: number }>('aedes', join(here, 'aedes-broker.mjs'), {}, 30_000, { ...opts, tsx: false })
  return fromChild('aedes', child, ready.port)
}

/** Stock Aedes plus the libraries `herald serve` starts, without Herald's code (bench/lib/stack-floor.mjs): bench:memory's floor. */
export async function startStackFloor(opts: SpawnOptions = {}): Promise<BrokerUnderTest> {
  const { child, ready } = await spawnNodeChild<{ port: number }>('floor', join(here, 'stack-floor.mjs'), {}, 30_000, { ...opts, tsx: false })
  return fromChild('floor', child, ready.port)
}

export const MOSQUITTO = process.env.BENCH_MOSQUITTO ?? '/usr/sbin/mosquitto'

export function mosquittoAvailable(): boolean {
  return existsSync(MOSQUITTO)
}

/** A throw-away Mosquitto on a free loopback port: anonymous, no persistence, no logging. */
export async function startMosquittoBroker(opts: SpawnOptions = {}): Promise<BrokerUnderTest> {
  const port = await freePort()
  const dir = mkdtempSync(join(tmpdir(), 'mosquitto-bench-'))
  const conf = join(dir, 'mosquitto.conf')
  writeFileSync(conf, [
    `listener ${port} 127.0.0.1`,
    'allow_anonymous true',
    'persistence false',
    'log_dest none',
    // Nagle off, like the load's own sockets: with it on, a PUBACK waits for the load's delayed ACK (40 ms on
    // Linux loopback) and the persistent scenario's publisher measured that stall, 2,100 publishes/s
    'set_tcp_nodelay true',
    // the persistent scenario queues M messages per offline subscriber (Mosquitto's default keeps 1000)
    'max_queued_messages 1000000',
    'max_connections -1',
    '',
  ].join('\n'))
  const child = await spawnListening('mosquitto', MOSQUITTO, ['-c', conf], port, 10_000, opts)
  return {
    name: 'mosquitto', url: `mqtt://127.0.0.1:${port}`, pid: child.pid,
    async stop() {
      await child.stop()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
