// PUSH (§6.13): `#push{}` payloads for the devices of a user none of whose devices is connected, one push per
// device with a push token (from Auth/push) on Herald's push service (ctx.push): iOS to APNs with the §6.13 JSON,
// Android to FCM HTTP v1 with the base64 term in data (the legacy form's `data` field), counted in
// synrc_push_queued_total{os}. A device whose provider is not configured, or whose token the provider could never
// take, is skipped (synrc_push_skipped_total{os,why}).
import { Counter, type Registry } from 'prom-client'
import { PushTargetError, type PushNotification, type PushService, type PushTarget } from '../../core/push/service.ts'
import type { Synrc } from './context.ts'
import { encode } from './etf/codec.ts'
import type { Term } from './etf/term.ts'
import type { Rec, Wire } from './wire.ts'

export interface ApnsOptions {
  /** §6.13 `version` inside aps.synrc (the spec names the key, not its value) */
  version?: string
  /** §6.13 `dns`: the server's public name (Auth.settings SERVER_DNS in the original) */
  dns?: string
}

const isRecord = (v: unknown): v is Rec => !!v && typeof v === 'object' && typeof (v as Rec).$ === 'string' && !(v instanceof Uint8Array)
const text = (v: unknown): string | null => (v instanceof Uint8Array ? Buffer.from(v).toString('utf8') : null)

/** term_to_binary of a record object (in the wire's layout) or of a plain term */
export function etfOf(wire: Wire, v: unknown): Buffer {
  return isRecord(v) ? wire.encode(v) : encode((v ?? []) as Term)
}

/**
 * §6.13 iOS: APNS JSON {"aps":{"synrc":{model,type,title,version,dns}}}, model = base64(term_to_binary(Payload));
 * for type <<"calling">> the raw payload (a binary, as text) is used.
 */
export function apnsBody(wire: Wire, push: Rec, o: ApnsOptions = {}): string {
  const type = text(push.type)
  const model = type === 'calling' && push.model instanceof Uint8Array ? text(push.model) : etfOf(wire, push.model).toString('base64')
  return JSON.stringify({ aps: { synrc: { model, type, title: text(push.title), version: o.version ?? '1', dns: o.dns ?? '' } } })
}

/** §6.13 Android: base64(term_to_binary(#push{model=Payload,type,alert,title,badge=1})) */
export function androidData(wire: Wire, push: Rec): string {
  const rec: Rec = { $: 'push', model: push.model ?? null, type: push.type ?? null, title: push.title ?? null, alert: push.alert ?? null, badge: 1, sound: null }
  return wire.encode(rec).toString('base64')
}

/** §6.13 Android: the FCM legacy form body `registration_id=…&data=…` (urlencoded) */
export function androidBody(wire: Wire, token: string, push: Rec): string {
  return `registration_id=${encodeURIComponent(token)}&data=${encodeURIComponent(androidData(wire, push))}`
}

export interface PushNotifier {
  /** push `push` to every device of `phone` with a token when none of them is connected; how many were queued */
  notify(phone: string, push: Rec): Promise<number>
}

/** a Web Push subscription as a browser's PushSubscription.toJSON() gives it, saved as the token of an os=web device */
function webSubscription(token: string): { endpoint: string; p256dh: string; auth: string } | undefined {
  try {
    const j = JSON.parse(token) as { endpoint?: unknown; keys?: { p256dh?: unknown; auth?: unknown } }
    if (typeof j.endpoint === 'string' && typeof j.keys?.p256dh === 'string' && typeof j.keys?.auth === 'string') return { endpoint: j.endpoint, p256dh: j.keys.p256dh, auth: j.keys.auth }
  } catch { /* not JSON */ }
  return undefined
}

export class SynrcPush implements PushNotifier {
  private readonly queued: Counter<'os'>
  private readonly skipped: Counter<'os' | 'why'>

  constructor(private readonly s: Synrc, private readonly push: PushService, registry: Registry, private readonly apns: ApnsOptions = {}) {
    const counter = <L extends string>(name: string, help: string, labelNames: L[]) =>
      (registry.getSingleMetric(name) as Counter<L> | undefined) ?? new Counter({ name, help, labelNames, registers: [registry] })
    this.queued = counter('synrc_push_queued_total', 'SYNRC #push{} pushes queued for offline devices (§6.13), by device os', ['os'])
    this.skipped = counter('synrc_push_skipped_total', 'SYNRC #push{} for offline devices not sent: provider not configured, or a token it cannot take', ['os', 'why'])
    // a token the provider reports gone is forgotten: the device's next Auth/push sets a new one
    push.onEndpointGone('synrc', async (t) => {
      const n = t.provider === 'apns' || t.provider === 'fcm' ? await s.stores.auth.dropPush(t.token)
        : t.provider === 'webpush' ? await s.stores.auth.dropWebPush(t.endpoint) : 0
      s.log.info({ provider: t.provider, devices: n }, 'synrc: push token gone, forgotten')
    })
  }

  async notify(phone: string, push: Rec): Promise<number> {
    if (this.s.connectedDevices(phone).length > 0) return 0
    let n = 0
    for (const d of await this.s.stores.auth.devices(phone)) {
      if (!d.push) continue
      // a token saved without an os (Auth/push os = []) names no provider
      const p = this.pushFor(d.os, d.push, push)
      if (!p) continue
      const os = d.os!
      if (!this.push.enabled(p.target.provider)) { this.skipped.inc({ os, why: 'not-configured' }); continue }
      try {
        await this.push.send(p.target, p.notification, { dialect: 'synrc' })
      } catch (err) {
        if (!(err instanceof PushTargetError)) throw err
        this.skipped.inc({ os, why: 'refused' })
        this.s.log.warn({ err: err.message, device: d.client_id }, 'synrc: push refused')
        continue
      }
      this.queued.inc({ os })
      n++
    }
    return n
  }

  private pushFor(os: string | null, token: string, push: Rec): { target: PushTarget; notification: PushNotification } | undefined {
    if (os === 'ios') return { target: { provider: 'apns', token }, notification: { payload: apnsBody(this.s.wire, push, this.apns) } }
    if (os === 'android') {
      const data = androidData(this.s.wire, push)
      return { target: { provider: 'fcm', token }, notification: { payload: data, fcm: { data: { data } } } }
    }
    // §6.13 names no web encoding: the Android data (base64 ETF of #push{}) as the Web Push payload
    const sub = os === 'web' ? webSubscription(token) : undefined
    if (sub) return { target: { provider: 'webpush', ...sub }, notification: { payload: androidData(this.s.wire, push) } }
    return undefined
  }
}
