// A UWPX client for tests: a real TLS connection to Herald's push port, trusting the development certificate,
// writing bytes as given and reading NUL-terminated replies; and an XMPP side that records what it was asked.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import tls from 'node:tls'
import type { Clock } from '../../src/core/clock.ts'
import { createPush, type PushDialect } from '../../src/dialects/push/index.ts'
import type { PushNodes } from '../../src/dialects/push/nodes.ts'
import { pushSettings } from '../../src/dialects/push/settings.ts'
import { startTestHerald, type TestHerald } from '../helpers.ts'

export const DEV = '5486bd868050a620141f4e81c9f1d2c67ab0de27e5e26d218ca41c9394ee806b'
export const ACC = 'e5397e96c6ff4d629ab9f203eec3ff17c777b2127cf1b41005e54877487ba982'
export const URI = 'https://db5p.notify.windows.com/?token=AwYAAAD%2bAbC_12%3d'

/** Newtonsoft JObject.ToString() on Windows: 2-space indent, CRLF, keys in insertion order (§3.1), then NUL */
export function clientJson(v: unknown): string {
  return JSON.stringify(v, null, 2).replace(/\n/g, '\r\n') + '\0'
}

export class RecordingNodes implements PushNodes {
  created: string[] = []
  removed: string[] = []
  /** what create answers per node; a function may throw */
  answer: (node: string) => boolean = () => true
  constructor(readonly bareJid = 'push@xmpp.uwpx.org') {}
  async create(nodes: string[]): Promise<boolean[]> {
    const r = nodes.map((n) => this.answer(n))
    this.created.push(...nodes.filter((_n, i) => r[i]))
    return r
  }
  async remove(nodes: string[]): Promise<void> { this.removed.push(...nodes) }
}

export interface PushHerald extends TestHerald { push: PushDialect; nodes: RecordingNodes; ca: string }

export async function startPush(o: { clock?: Clock; overrides?: Record<string, unknown>; nodes?: RecordingNodes | null; db?: 'sqlite' | 'postgres' } = {}): Promise<PushHerald> {
  const nodes = o.nodes === undefined ? new RecordingNodes() : o.nodes
  const push = createPush({ clock: o.clock, nodes: nodes ?? undefined })
  const h = await startTestHerald({ dialects: [push], settings: pushSettings, db: o.db, overrides: { 'push.port': 0, ...o.overrides } })
  const ca = readFileSync(join(h.dataDir, 'tls', 'dev-cert.pem'), 'utf8')
  return Object.assign(h, { push, nodes: nodes ?? new RecordingNodes(), ca })
}

export class UwpxClient {
  private buf = Buffer.alloc(0)
  private waiters: (() => void)[] = []
  closed = false
  readonly done: Promise<void>

  private constructor(readonly socket: tls.TLSSocket) {
    socket.on('data', (d: Buffer) => { this.buf = Buffer.concat([this.buf, d]); this.wake() })
    socket.on('error', () => {})
    this.done = new Promise((r) => socket.once('close', () => { this.closed = true; this.wake(); r() }))
  }

  static connect(h: PushHerald, o: tls.ConnectionOptions = {}): Promise<UwpxClient> {
    return new Promise((resolve, reject) => {
      const s = tls.connect({ host: '127.0.0.1', port: h.push.port!, ca: h.ca, servername: 'localhost', ...o })
      s.once('secureConnect', () => resolve(new UwpxClient(s)))
      s.once('error', reject)
      s.once('close', () => reject(new Error('closed before the handshake')))
    })
  }

  private wake(): void { for (const w of this.waiters.splice(0)) w() }

  write(data: string | Buffer): Promise<void> {
    return new Promise((r) => this.socket.write(data, () => r()))
  }

  /** the next reply, with its NUL */
  async reply(ms = 5000): Promise<Buffer> {
    const end = Date.now() + ms
    for (;;) {
      const i = this.buf.indexOf(0)
      if (i !== -1) {
        const r = this.buf.subarray(0, i + 1)
        this.buf = this.buf.subarray(i + 1)
        return r
      }
      if (this.closed) throw new Error(`connection closed; unanswered bytes: ${JSON.stringify(this.buf.toString())}`)
      if (Date.now() > end) throw new Error('no reply')
      await new Promise<void>((r) => { this.waiters.push(r); setTimeout(r, 50) })
    }
  }

  /** send one request, read one reply (as text) */
  async ask(data: string | Buffer): Promise<string> {
    await this.write(data)
    return (await this.reply()).toString('utf8')
  }

  /** bytes received and not yet read as a reply */
  get pending(): Buffer { return this.buf }

  close(): void { this.socket.destroy() }
}
