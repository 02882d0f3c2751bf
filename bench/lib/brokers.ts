// The brokers a benchmark compares, each in its own process so its RSS and CPU time are its own.
import { randomBytes } from 'node:crypto'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { freePort, spawnListening, spawnNodeChild, type Child } from './proc.ts'

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

/** Herald's embedded broker: clients log in as a real (non-superuser) account; every hook runs. */
export async function startHeraldBroker(): Promise<BrokerUnderTest> {
  const username = 'bench'
  const password = randomBytes(12).toString('hex')
  const { child, ready } = await spawnNodeChild<{ port: number }>('herald', join(here, 'herald-broker.ts'), {
    BENCH_USER: username, BENCH_PASSWORD: password,
  })
  return fromChild('herald', child, ready.port, { username, password })
}

/** Stock Aedes with no hooks, the same version Herald embeds. */
export async function startAedesBroker(): Promise<BrokerUnderTest> {
  const { child, ready } = await spawnNodeChild<{ port: number }>('aedes', join(here, 'aedes-broker.ts'), {})
  return fromChild('aedes', child, ready.port)
}

export const MOSQUITTO = process.env.BENCH_MOSQUITTO ?? '/usr/sbin/mosquitto'

export function mosquittoAvailable(): boolean {
  return existsSync(MOSQUITTO)
}

/** A throw-away Mosquitto on a free loopback port: anonymous, no persistence, no logging. */
export async function startMosquittoBroker(): Promise<BrokerUnderTest> {
  const port = await freePort()
  const dir = mkdtempSync(join(tmpdir(), 'mosquitto-bench-'))
  const conf = join(dir, 'mosquitto.conf')
  writeFileSync(conf, [
    `listener ${port} 127.0.0.1`,
    'allow_anonymous true',
    'persistence false',
    'log_dest none',
    '',
  ].join('\n'))
  const child = await spawnListening('mosquitto', MOSQUITTO, ['-c', conf], port)
  return {
    name: 'mosquitto', url: `mqtt://127.0.0.1:${port}`, pid: child.pid,
    async stop() {
      await child.stop()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
