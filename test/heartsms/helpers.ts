// Shared setup for the HeartSMS tests: a Herald with the dialect, accounts made the way the web client makes them.
import { createHash } from 'node:crypto'
import type { MqttClient } from 'mqtt'
import { createHeartsms, type HeartsmsHooks } from '../../src/dialects/heartsms/index.ts'
import { connect, startTestHerald, type TestHerald } from '../helpers.ts'

export const DBS = ['sqlite', 'postgres'] as const
export type DbKind = (typeof DBS)[number]

export async function startHeart(db: DbKind = 'sqlite', o: { env?: NodeJS.ProcessEnv; overrides?: Record<string, unknown>; hooks?: HeartsmsHooks } = {}): Promise<TestHerald> {
  const h = createHeartsms(o.hooks)
  return startTestHerald({
    db, dialects: [h], settings: h.settings,
    env: { NODE_ENV: 'test', HEART_ALLOWED_USERS: '*', ...o.env },
    overrides: o.overrides,
  })
}

export interface Reply { status: number; body: any; text: string; headers: Headers }

/** POST when `body` is given (JSON), GET otherwise; `query` goes into the URL. */
export async function api(h: TestHerald, path: string, o: { body?: unknown; query?: Record<string, unknown>; method?: string; raw?: string; type?: string } = {}): Promise<Reply> {
  const url = new URL(`/api/v1/${path}`, h.httpUrl)
  for (const [k, v] of Object.entries(o.query ?? {})) url.searchParams.set(k, String(v))
  const method = o.method ?? (o.body !== undefined || o.raw !== undefined ? 'POST' : 'GET')
  const payload = o.raw ?? (o.body !== undefined ? JSON.stringify(o.body) : undefined)
  const res = await fetch(url, { method, body: payload, headers: payload !== undefined ? { 'content-type': o.type ?? 'application/json' } : {} })
  const text = await res.text()
  let body: unknown
  try { body = JSON.parse(text) } catch { body = undefined }
  return { status: res.status, body, text, headers: res.headers }
}

export const sha256 = (s: string) => createHash('sha256').update(s).digest('hex')

export interface Account { username: string; account_id: string; salt1: string; salt2: string }

let seq = 0
export async function newAccount(h: TestHerald, username = `user${++seq}-${process.pid}@example.com`): Promise<Account> {
  const r = await api(h, 'accounts/signup', { body: { name: username, password: sha256('tester'), phone_number: '5555555555', real_name: 'Test User' } })
  if (r.status !== 200) throw new Error(`signup failed: ${r.status} ${r.text}`)
  return { username, ...r.body }
}

/** A subscriber on the account's stream, as the web client connects (MQTT over WebSocket at /api/v1/stream). */
export async function subscriber(h: TestHerald, a: Account, qos: 0 | 1 | 2 = 2): Promise<MqttClient> {
  const c = await connect(`${h.wsUrl}/api/v1/stream`, { username: a.username, password: a.account_id, clientId: `web-${Math.floor(Math.random() * 10000)}` })
  await c.subscribeAsync(`heartsms/${a.account_id}`, { qos })
  return c
}

/** Stream messages as parsed JSON, keeping the raw text to check key order. */
export const parsed = (msgs: { payload: Buffer }[]) => msgs.map((m) => JSON.parse(m.payload.toString()))
