// A SYNRC client for tests: a real mqtt.js connection speaking ETF records (the codec under test is also the
// client's, so the bytes themselves are checked against Erlang in etf-*.test.ts), and a local SMS gateway.
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { IClientOptions, MqttClient } from 'mqtt'
import mqtt from 'mqtt'
import { synrcSettings } from '../../src/dialects/synrc/settings.ts'
import { createSynrc, type SynrcDialect } from '../../src/dialects/synrc/index.ts'
import type { Layout } from '../../src/dialects/synrc/records/index.ts'
import { Wire, type Rec } from '../../src/dialects/synrc/wire.ts'
import { startTestHerald, type TestHerald } from '../helpers.ts'

export const bin = (s: string): Buffer => Buffer.from(s, 'utf8')
export const str = (v: unknown): string => (v instanceof Uint8Array ? Buffer.from(v).toString('utf8') : String(v))

/** A local SMS gateway: every code Herald sends, by phone. */
export class SmsGateway {
  readonly codes = new Map<string, string[]>()
  private waiters: (() => void)[] = []
  private constructor(private server: Server, readonly url: string) {}

  static async start(): Promise<SmsGateway> {
    const gw: { it?: SmsGateway } = {}
    const server = createServer((req, res) => {
      let body = ''
      req.on('data', (c) => { body += c })
      req.on('end', () => {
        const m = JSON.parse(body) as { phone: string; code: string; client_id: string }
        const g = gw.it!
        g.codes.set(m.phone, [...(g.codes.get(m.phone) ?? []), m.code])
        for (const w of g.waiters.splice(0)) w()
        res.end('ok')
      })
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    gw.it = new SmsGateway(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}/sms`)
    return gw.it
  }

  /** the newest code sent to a phone after `after` codes */
  async code(phone: string, after = 0, ms = 5000): Promise<string> {
    const end = Date.now() + ms
    while ((this.codes.get(phone)?.length ?? 0) <= after) {
      if (Date.now() > end) throw new Error(`no SMS code for ${phone}`)
      await new Promise<void>((r) => { this.waiters.push(r); setTimeout(r, 50) })
    }
    return this.codes.get(phone)!.at(-1)!
  }

  close(): Promise<void> { return new Promise((r) => this.server.close(() => r())) }
}

export interface SynrcHerald extends TestHerald { synrc: SynrcDialect; sms: SmsGateway; layout: Layout }

export async function startSynrc(o: { layout?: Layout; overrides?: Record<string, unknown>; db?: 'sqlite' | 'postgres'; dataDir?: string } = {}): Promise<SynrcHerald> {
  const sms = await SmsGateway.start()
  const synrc = createSynrc()
  const layout = o.layout ?? 'a'
  const h = await startTestHerald({
    dialects: [synrc], settings: synrcSettings, db: o.db,
    overrides: { 'synrc.layout': layout, 'synrc.smsWebhook': sms.url, ...o.overrides },
  })
  const close = h.close.bind(h)
  return Object.assign(h, { synrc, sms, layout, close: async () => { await close(); await sms.close() } })
}

/** One device or registering client on a real MQTT socket. */
export class SynrcClient {
  private inbox: Rec[] = []
  private waiters: (() => void)[] = []
  readonly wire: Wire

  private constructor(readonly mqtt: MqttClient, readonly clientId: string, layout: Layout) {
    this.wire = new Wire({ layout, maxBytes: 16 * 1024 * 1024 })
    mqtt.on('message', (_topic, payload) => {
      this.inbox.push(this.wire.decode(payload))
      for (const w of this.waiters.splice(0)) w()
    })
  }

  static async connect(url: string, clientId: string, layout: Layout, o: IClientOptions = {}): Promise<SynrcClient> {
    const c = mqtt.connect(url, { clientId, username: 'api', password: '', reconnectPeriod: 0, connectTimeout: 5000, protocolVersion: 4, ...o })
    const client = new SynrcClient(c, clientId, layout)
    await new Promise<void>((resolve, reject) => {
      c.once('connect', () => resolve())
      c.once('error', (err) => { c.end(true); reject(err) })
      c.once('close', () => reject(new Error('connection closed before CONNACK')))
    })
    return client
  }

  /** publish one record to this client's events topic (as mq.js: events/1/<node>/api/anon/<clientId>/<token>) */
  async send(rec: Rec, o: { topic?: string } = {}): Promise<void> {
    await this.mqtt.publishAsync(o.topic ?? `events/1/1/api/anon/${this.clientId}/`, this.wire.encode(rec), { qos: 2 })
  }

  sendRaw(payload: Buffer): Promise<unknown> {
    return this.mqtt.publishAsync(`events/1/1/api/anon/${this.clientId}/`, payload, { qos: 2 })
  }

  /** the next record that satisfies `pred` (earlier non-matching ones stay queued) */
  async next(pred: (r: Rec) => boolean = () => true, ms = 5000): Promise<Rec> {
    const end = Date.now() + ms
    for (;;) {
      const i = this.inbox.findIndex(pred)
      if (i >= 0) return this.inbox.splice(i, 1)[0]
      if (Date.now() > end) throw new Error(`${this.clientId}: no matching record; inbox: ${this.inbox.map((r) => r.$).join(', ')}`)
      await new Promise<void>((r) => { this.waiters.push(r); setTimeout(r, 50) })
    }
  }

  /** true when nothing matching arrives within `ms` */
  async quiet(pred: (r: Rec) => boolean = () => true, ms = 300): Promise<boolean> {
    try { await this.next(pred, ms); return false } catch { return true }
  }

  end(): Promise<void> { return this.mqtt.endAsync() }
}

/** §6.1 lifecycle: register as reg_<phone>_<devKey>, verify the SMS code, reconnect as the issued emqttd_ id. */
export async function register(h: SynrcHerald, phone: string, devKey: string): Promise<{ device: SynrcClient; clientId: string; token: string; profile: Rec }> {
  const before = h.sms.codes.get(phone)?.length ?? 0
  const reg = await SynrcClient.connect(h.mqttUrl, `reg_${phone}_${devKey}`, h.layout)
  await reg.send({ $: 'Auth', client_id: bin(reg.clientId), phone: bin(phone), type: 'reg' })
  const sent = await reg.next((r) => r.$ === 'io')
  if (sent.code?.code !== 'sms_sent') throw new Error(`reg answered ${JSON.stringify(sent.code)}`)
  const code = await h.sms.code(phone, before)
  await reg.send({ $: 'Auth', client_id: bin(reg.clientId), sms_code: bin(code), type: 'verify' })
  const login = await reg.next((r) => r.$ === 'io')
  if (login.code?.code !== 'login') throw new Error(`verify answered ${JSON.stringify(login.code)}`)
  const profile = await reg.next((r) => r.$ === 'Profile')
  await reg.end()
  const [clientId, token] = (login.code.src as { elements: Uint8Array[] }).elements.map(str)
  const device = await SynrcClient.connect(h.mqttUrl, clientId, h.layout, { password: token, clean: false })
  return { device, clientId, token, profile }
}
