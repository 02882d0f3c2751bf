// chat21 test helpers: a Herald with the chat21 dialect, and a client that connects as chat21client.js does
// (§14.1): MQTT over WebSocket, username `JWT`, the token as password, presence will, inbox subscription.
import { randomUUID } from 'node:crypto'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import type { MqttClient } from 'mqtt'
import { createChat21, type Chat21 } from '../../src/dialects/chat21/index.ts'
import { chat21Settings } from '../../src/dialects/chat21/settings.ts'
import { connect, startTestHerald, type TestHerald } from '../helpers.ts'

export interface Chat21Herald extends TestHerald { chat21: Chat21; api: string }

export async function startChat21(o: { db?: 'sqlite' | 'postgres'; overrides?: Record<string, unknown>; env?: NodeJS.ProcessEnv } = {}): Promise<Chat21Herald> {
  const chat21 = createChat21()
  const h = await startTestHerald({ dialects: [chat21], settings: chat21Settings, db: o.db, env: o.env, overrides: o.overrides })
  return Object.assign(h, { chat21, api: `${h.httpUrl}${String(h.config['chat21.http.prefix'])}` })
}

export interface Received { topic: string; body: any; retain: boolean }

export interface TestUser {
  id: string
  token: string
  client: MqttClient
  clientId: string
  got: Received[]
  /** wait (bounded) for a message whose topic ends with `suffix` and that passes `pred` */
  waitFor(suffix: string, pred?: (b: any) => boolean, ms?: number): Promise<Received>
  send(recipient: string, payload: Record<string, unknown>): void
  publish(topic: string, payload: unknown): void
  close(): Promise<void>
}

/** Poll `check` until it returns a value (bounded in time). */
export async function until<T>(check: () => T | undefined | Promise<T | undefined>, ms = 5000, what = 'condition'): Promise<T> {
  const end = Date.now() + ms
  for (;;) {
    const v = await check()
    if (v !== undefined && v !== false) return v
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

export async function login(h: Chat21Herald, id: string, o: { url?: string; app?: string; token?: string } = {}): Promise<TestUser> {
  const token = o.token ?? await h.chat21.tokens!.issue(id)
  const app = o.app ?? 'tilechat'
  const clientId = randomUUID()
  const presence = `apps/${app}/users/${id}/presence/${clientId}`
  const client = await connect(o.url ?? `${h.wsUrl}/mqtt`, {
    clientId, username: 'JWT', password: token, keepalive: 10,
    will: { topic: presence, payload: Buffer.from('{"disconnected":true}'), qos: 1, retain: true },
  })
  const got: Received[] = []
  client.on('message', (topic, payload, packet) => {
    let body: unknown
    try { body = JSON.parse(payload.toString()) } catch { body = payload.toString() }
    got.push({ topic, body, retain: packet.retain })
  })
  await client.subscribeAsync(`apps/${app}/users/${id}/#`, { qos: 0 })
  client.publish(presence, '{"connected":true}')
  return {
    id, token, client, clientId, got,
    waitFor: (suffix, pred = () => true, ms = 5000) =>
      until(() => got.find((m) => m.topic.endsWith(suffix) && pred(m.body)), ms, `${id}: …${suffix}`),
    send: (recipient, payload) => client.publish(`apps/${app}/outgoing/users/${id}/messages/${recipient}/outgoing`, JSON.stringify(payload)),
    publish: (topic, payload) => client.publish(topic, typeof payload === 'string' ? payload : JSON.stringify(payload)),
    close: () => client.endAsync(),
  }
}

export async function rest(h: Chat21Herald, method: string, path: string, token?: string, body?: unknown, base = h.api): Promise<{ status: number; body: any }> {
  const headers: Record<string, string> = {}
  if (token) headers.authorization = token
  if (body !== undefined) headers['content-type'] = 'application/json'
  const res = await fetch(base + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) })
  const text = await res.text()
  let parsed: unknown = text
  try { parsed = JSON.parse(text) } catch { /* plain text body */ }
  return { status: res.status, body: parsed }
}

/** A local HTTP endpoint that records webhook POSTs (bodies in `got`, their headers in `headers`); `down` answers 503. */
export async function webhookSink(): Promise<{ url: string; got: any[]; headers: http.IncomingHttpHeaders[]; down: boolean; close(): Promise<void> }> {
  const sink = { url: '', got: [] as any[], headers: [] as http.IncomingHttpHeaders[], down: false, close: async () => {} }
  const server = http.createServer((req, res) => {
    let data = ''
    req.on('data', (c) => { data += c })
    req.on('end', () => {
      if (sink.down) { res.writeHead(503).end(); return }
      try { sink.got.push(JSON.parse(data)) } catch { sink.got.push(data) }
      sink.headers.push(req.headers)
      res.writeHead(200).end('ok')
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()))
  sink.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`
  sink.close = () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()) })
  return sink
}
