// PUSH (§6.13): `#push{}` payloads for the devices of a user none of whose devices is connected, one outbox job per
// device with a push token (from Auth/push) on `synrc.push`. Delivery to APNs/FCM is the push dispatcher's (the push
// issue): until it consumes this queue the jobs stay queued, counted in synrc_push_queued_total{os}.
import { Counter, type Registry } from 'prom-client'
import type { Outbox } from '../../core/queue/outbox.ts'
import type { Synrc } from './context.ts'
import { encode } from './etf/codec.ts'
import type { Term } from './etf/term.ts'
import type { Rec, Wire } from './wire.ts'

export const PUSH_QUEUE = 'synrc.push'

/** one job of synrc.push: the provider request body for one device */
export interface PushJob { device: string; os: 'ios' | 'android' | 'web'; token: string; body: string }

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
  /** queue `push` for every device of `phone` with a token when none of them is connected; how many jobs */
  notify(phone: string, push: Rec): Promise<number>
}

export class PushOutbox implements PushNotifier {
  private readonly queued: Counter<'os'>

  constructor(private readonly s: Synrc, private readonly outbox: Outbox, registry: Registry, private readonly apns: ApnsOptions = {}) {
    const name = 'synrc_push_queued_total'
    this.queued = (registry.getSingleMetric(name) as Counter<'os'> | undefined) ??
      new Counter({ name, help: 'SYNRC #push{} jobs queued for offline devices (§6.13), by device os', labelNames: ['os'], registers: [registry] })
  }

  async notify(phone: string, push: Rec): Promise<number> {
    if (this.s.connectedDevices(phone).length > 0) return 0
    const jobs: { queue: string; payload: PushJob }[] = []
    for (const d of await this.s.stores.auth.devices(phone)) {
      if (!d.push) continue
      const body = this.body(d.os, d.push, push)
      // a token saved without an os (Auth/push os = []) names no provider: nothing to queue
      if (body === undefined) continue
      jobs.push({ queue: PUSH_QUEUE, payload: { device: d.client_id, os: d.os as PushJob['os'], token: d.push, body } })
    }
    if (jobs.length === 0) return 0
    await this.outbox.enqueueMany(jobs)
    for (const j of jobs) this.queued.inc({ os: j.payload.os })
    return jobs.length
  }

  private body(os: string | null, token: string, push: Rec): string | undefined {
    if (os === 'ios') return apnsBody(this.s.wire, push, this.apns)
    if (os === 'android') return androidBody(this.s.wire, token, push)
    // §6.13 names no web encoding: the Android data (base64 ETF of #push{}) for a Web Push provider to carry
    if (os === 'web') return androidData(this.s.wire, push)
    return undefined
  }
}
