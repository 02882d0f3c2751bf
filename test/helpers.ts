// Test helpers: a real Herald on ephemeral ports with a throw-away data directory; real clients.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt'
import pg from 'pg'
import { coreSettings, loadConfig, type Setting } from '../src/config.ts'
import type { Clock } from '../src/core/clock.ts'
import type { Dialect } from '../src/dialects/types.ts'
import { startHerald, type Herald } from '../src/server.ts'

export const PG_URL = process.env.HERALD_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test'

export interface TestHerald extends Herald {
  dataDir: string
  mqttUrl: string
  httpUrl: string
  wsUrl: string
  /** the Prometheus listener (its own port, loopback) */
  metricsUrl: string
  close(): Promise<void>
}

/** Start Herald on free ports; `db: 'postgres'` uses a fresh schema in the test database. */
export async function startTestHerald(o: {
  overrides?: Record<string, unknown>
  dialects?: Dialect[]
  settings?: readonly Setting[]
  env?: NodeJS.ProcessEnv
  db?: 'sqlite' | 'postgres'
  clock?: Clock
} = {}): Promise<TestHerald> {
  const dataDir = mkdtempSync(join(tmpdir(), 'herald-test-'))
  let schema: string | undefined
  let databaseUrl = ''
  if (o.db === 'postgres') {
    schema = await createPgSchema()
    databaseUrl = pgUrlForSchema(schema)
  }
  const config = loadConfig({
    settings: [...coreSettings, ...(o.settings ?? [])],
    env: o.env ?? {},
    overrides: {
      mode: 'development', dataDir, databaseUrl, host: '127.0.0.1', logLevel: process.env.HERALD_TEST_LOG ?? 'silent',
      'http.port': 0, 'https.port': 0, 'mqtt.port': 0, 'mqtts.port': 0, 'metrics.port': 0,
      ...o.overrides,
    },
  })
  const h = await startHerald({ config, dialects: o.dialects ?? [], clock: o.clock })
  return Object.assign(h, {
    dataDir,
    mqttUrl: `mqtt://127.0.0.1:${h.ports.mqtt}`,
    httpUrl: `http://127.0.0.1:${h.ports.http}`,
    wsUrl: `ws://127.0.0.1:${h.ports.http}`,
    metricsUrl: `http://127.0.0.1:${h.ports.metrics}`,
    async close() {
      await h.stop()
      rmSync(dataDir, { recursive: true, force: true })
      if (schema) await dropPgSchema(schema)
    },
  })
}

/** The machine's PostgreSQL answers (tests that need it skip without it, except under CI=true). */
export async function pgAvailable(): Promise<boolean> {
  const c = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 3000 })
  try { await c.connect(); await c.end(); return true } catch { return false }
}

export async function createPgSchema(): Promise<string> {
  const schema = `t_${process.pid}_${Math.random().toString(36).slice(2, 10)}`
  const c = new pg.Client({ connectionString: PG_URL })
  await c.connect()
  try { await c.query(`CREATE SCHEMA ${schema}`) } finally { await c.end() }
  return schema
}

export function pgUrlForSchema(schema: string): string {
  return `${PG_URL}?options=${encodeURIComponent(`-c search_path=${schema}`)}`
}

export async function dropPgSchema(schema: string): Promise<void> {
  const c = new pg.Client({ connectionString: PG_URL })
  await c.connect()
  try { await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`) } finally { await c.end() }
}

/** Connect a real mqtt.js client; rejects with the CONNACK error when refused. */
export function connect(url: string, opts: IClientOptions = {}): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const c = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 5000, ...opts })
    c.once('connect', () => resolve(c))
    c.once('error', (err) => { c.end(true); reject(err) })
    c.once('close', () => reject(new Error('connection closed before CONNACK')))
  })
}

/** Connect and collect from the first packet on: what a persistent session was queued may come with the CONNACK. */
export async function connectCollecting(url: string, opts: IClientOptions, n: number, ms = 5000): Promise<{ client: MqttClient; messages: ReturnType<typeof collect> }> {
  const c = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 5000, ...opts })
  const messages = collect(c, n, ms)
  messages.catch(() => {})
  await new Promise<void>((resolve, reject) => {
    c.once('connect', () => resolve())
    c.once('error', (err) => { c.end(true); reject(err) })
    c.once('close', () => reject(new Error('connection closed before CONNACK')))
  })
  return { client: c, messages }
}

/** Collect messages on a client until `n` arrived (or the time is up, then reject with what came). */
export function collect(c: MqttClient, n: number, ms = 5000): Promise<{ topic: string; payload: Buffer; qos: number; retain: boolean }[]> {
  return new Promise((resolve, reject) => {
    const got: { topic: string; payload: Buffer; qos: number; retain: boolean }[] = []
    const timer = setTimeout(() => { c.off('message', on); reject(new Error(`expected ${n} messages, got ${got.length}: ${got.map((m) => m.topic).join(', ')}`)) }, ms)
    const on = (topic: string, payload: Buffer, packet: { qos: number; retain: boolean }) => {
      got.push({ topic, payload, qos: packet.qos, retain: packet.retain })
      if (got.length >= n) { clearTimeout(timer); c.off('message', on); resolve(got) }
    }
    c.on('message', on)
  })
}

/** Poll `fn` until it answers truthy (asynchronous work: pub/sub, sweeps, queues); bounded, never a fixed sleep. */
export async function eventually<T>(fn: () => T | Promise<T>, what: string, ms = 5_000): Promise<T> {
  const end = Date.now() + ms
  for (;;) {
    const v = await fn()
    if (v) return v
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}

/** True when no message arrives within `ms`. */
export function silence(c: MqttClient, ms = 300): Promise<boolean> {
  return new Promise((resolve) => {
    const on = () => { clearTimeout(t); c.off('message', on); resolve(false) }
    const t = setTimeout(() => { c.off('message', on); resolve(true) }, ms)
    c.on('message', on)
  })
}

/** Tests that need a service on this machine skip without it, except under CI=true where they fail. */
export function requireService(available: boolean, what: string): { skip: string | false } {
  if (available) return { skip: false }
  if (process.env.CI === 'true') throw new Error(`${what} is required under CI=true but is not available`)
  return { skip: `${what} not available` }
}

/** The SUBACK return codes (mqtt.js rejects a SUBACK that contains 0x80; the packet is on the error). */
export async function subackCodes(c: MqttClient, topics: string[], qos: 0 | 1 | 2): Promise<number[]> {
  try {
    return (await c.subscribeAsync(topics, { qos })).map((g) => g.qos)
  } catch (err) {
    const granted = (err as { packet?: { granted?: (number | { qos: number })[] } }).packet?.granted
    if (!granted) throw err
    return granted.map((g) => (typeof g === 'number' ? g : g.qos))
  }
}

/** A free TCP port on loopback (the benchmarks' own, one implementation for both). */
export { freePort } from '../bench/lib/proc.ts'
