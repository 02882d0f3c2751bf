// The machine's RabbitMQ as a test service (issue 2 §4, §5; chat21 §15): its MQTT listener and its HTTP auth backend.
// scripts/rabbitmq-setup.sh prepares the node; these helpers only check it and repoint the backend at runtime.
// Test files run in parallel: the file that calls pointRabbitAuthAt holds a lock on the setting until resetRabbitAuth.
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import net, { type Socket } from 'node:net'
import { promisify } from 'node:util'

const run = promisify(execFile)

export const RABBIT_HOST = '127.0.0.1'
export const RABBIT_MQTT_PORT = Number(process.env.HERALD_RABBIT_MQTT_PORT ?? 1884)
export const RABBIT_WS_PORT = Number(process.env.HERALD_RABBIT_WS_PORT ?? 15675)
/** MQTT over TCP through RabbitMQ's rabbitmq_mqtt listener */
export const RABBIT_MQTT_URL = `mqtt://${RABBIT_HOST}:${RABBIT_MQTT_PORT}`
/** MQTT over WebSocket through rabbitmq_web_mqtt */
export const RABBIT_WS_URL = `ws://${RABBIT_HOST}:${RABBIT_WS_PORT}/ws`
/** RabbitMQ's internal account (the first auth backend): works whatever the HTTP backend says */
export const RABBIT_GUEST = { username: 'guest', password: 'guest' } as const

/** The four rabbitmq_auth_backend_http paths and where the setup script leaves them (the plugin's defaults) */
const PATHS = ['user', 'vhost', 'resource', 'topic'] as const
const DEFAULT_BASE = 'http://localhost:8000/auth'

/** Evaluate an Erlang expression on the RabbitMQ node; resolves with its printed result. */
export async function rabbitEval(expr: string): Promise<string> {
  const { stdout } = await run('rabbitmqctl', ['-q', 'eval', expr], { timeout: 30_000 })
  return stdout.trim()
}

function portOpen(port: number, ms = 3000): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: RABBIT_HOST, port })
    const done = (ok: boolean) => { clearTimeout(t); s.destroy(); resolve(ok) }
    const t = setTimeout(() => done(false), ms)
    s.once('connect', () => done(true))
    s.once('error', () => done(false))
  })
}

/** RabbitMQ's MQTT listener answers (scripts/rabbitmq-setup.sh has run). */
export function rabbitMqttAvailable(): Promise<boolean> {
  return portOpen(RABBIT_MQTT_PORT)
}

/** The MQTT listener answers, rabbitmqctl can reach the node and the HTTP backend is in the auth chain. */
export async function rabbitAuthAvailable(): Promise<boolean> {
  if (!(await rabbitMqttAvailable())) return false
  try {
    const out = await rabbitEval('application:get_env(rabbit, auth_backends).')
    return out.includes('rabbit_auth_backend_http')
  } catch {
    return false
  }
}

async function setPaths(base: string, query = ''): Promise<void> {
  const sets = PATHS.map((p) => `application:set_env(rabbitmq_auth_backend_http, ${p}_path, "${base}/${p}${query}")`)
  await rabbitEval([
    'application:set_env(rabbitmq_auth_backend_http, http_method, post)',
    ...sets,
    'ok.',
  ].join(', '))
}

/** `flock` holds the lock while its `cat` reads our pipe; the kernel drops it when this process ends, however it ends. */
const AUTH_LOCK = process.env.HERALD_RABBIT_AUTH_LOCK ?? '/tmp/herald-rabbit-auth.lock'
let authLock: ChildProcess | undefined

async function lockAuth(): Promise<void> {
  if (authLock) return
  const child = spawn('flock', [AUTH_LOCK, 'sh', '-c', 'echo locked; exec cat >/dev/null'], { stdio: ['pipe', 'pipe', 'inherit'] })
  const [line] = await Promise.race([once(child.stdout!, 'data'), once(child, 'exit').then(() => [''])])
  if (!String(line).startsWith('locked')) throw new Error(`flock ${AUTH_LOCK} failed`)
  child.unref()
  ;(child.stdin as Socket).unref()
  ;(child.stdout as Socket).unref()
  authLock = child
}

function unlockAuth(): void {
  authLock?.stdin?.end()
  authLock = undefined
}

/**
 * Point rabbitmq_auth_backend_http (POST) at Herald's /api/v1/rabbitmq/{user,vhost,resource,topic}; with `secret`,
 * each path carries Herald's hook secret as `?secret=` (RabbitMQ POSTs its form body to the path as given).
 */
export async function pointRabbitAuthAt(heraldHttpBaseUrl: string, o: { secret?: string } = {}): Promise<void> {
  const base = heraldHttpBaseUrl.replace(/\/+$/, '')
  if (!/^https?:\/\/[\w.:[\]-]+$/.test(base)) throw new Error(`not an http base URL: ${heraldHttpBaseUrl}`)
  if (o.secret !== undefined && !/^[\w-]+$/.test(o.secret)) throw new Error('a test secret is letters, digits, - and _')
  await lockAuth()
  await setPaths(`${base}/api/v1/rabbitmq`, o.secret === undefined ? '' : `?secret=${o.secret}`)
}

/** Put the backend paths back where the setup script left them (nothing listens there: HTTP users are refused). */
export async function resetRabbitAuth(): Promise<void> {
  await lockAuth() // a file whose setup failed before pointRabbitAuthAt must not reset another file's setting
  try { await setPaths(DEFAULT_BASE) } finally { unlockAuth() }
}
