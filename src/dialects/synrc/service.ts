// The SYNRC request loop (§1.2, §5): every `events/…` PUBLISH is one ETF request of the client named in its
// (rewritten) topic; requests of one client are handled in order, different clients concurrently. A term that does
// not decode or match a record gets `{io,{error,invalid_data},<<>>}` on the sender's actions topic (issue 12 §1).
import type { Principal } from '../../core/access/types.ts'
import type { Bus, BusMessage } from '../../core/bus/types.ts'
import type { SessionInfo } from '../../core/sessions/types.ts'
import { KIND } from './access.ts'
import type { DeviceHooks, Route, Sender, SubscriptionProvider, Synrc } from './context.ts'
import { actionsTopic, clientKind, devicesTopic, EVENTS_FILTER, eventsClientId } from './topics.ts'
import { error, WireError } from './wire.ts'

/** how long a request waits for its client's connect event (other connect listeners, e.g. presence, run first) */
const CONNECT_GRACE_MS = 2000

export class SynrcService {
  /** connected clients by client id: who they are comes from their login */
  private readonly clients = new Map<string, Sender>()
  /** connects whose server-side subscriptions are being made, by the principal of that connection */
  private readonly connecting = new Map<string, Principal>()
  /** each client's requests, one after another */
  private readonly queues = new Map<string, Promise<void>>()
  private readonly providers: SubscriptionProvider[] = []
  private readonly hooks: DeviceHooks[] = []
  private offs: (() => void)[] = []
  private unsubscribe?: () => Promise<void>

  constructor(private readonly s: Synrc, private readonly routes: Record<string, Route>) {}

  addProvider(fn: SubscriptionProvider): void { this.providers.push(fn) }
  addHooks(h: DeviceHooks): void { this.hooks.push(h) }

  /** the connected devices of a phone */
  devicesOf(phone: string): Sender[] {
    return [...this.clients.values()].filter((c) => c.kind === 'device' && c.phone === phone)
  }

  isConnected(clientId: string): boolean { return this.clients.has(clientId) }

  async start(bus: Bus): Promise<void> {
    this.offs = [
      this.s.sessions.on('connect', (info) => this.onConnect(info)),
      this.s.sessions.on('disconnect', (info) => this.onDisconnect(info)),
    ]
    this.unsubscribe = await bus.subscribe(EVENTS_FILTER, (m) => this.onRequest(m), { qos: 2, shared: true, beforeAck: true })
  }

  async stop(): Promise<void> {
    for (const off of this.offs) off()
    await this.unsubscribe?.()
    await Promise.allSettled([...this.queues.values()])
  }

  private senderOf(info: SessionInfo): Sender | undefined {
    const p: Principal = info.principal
    const kind = clientKind(info.clientId)
    if (!kind) return undefined
    if (kind === 'sys') return p.superuser ? { clientId: info.clientId, kind, principal: p } : undefined
    if (p.kind !== KIND) return undefined
    if (kind === 'reg' && p.attrs.role === 'reg') return { clientId: info.clientId, kind, principal: p }
    if (kind === 'device' && p.attrs.role === 'device') return { clientId: info.clientId, kind, principal: p, phone: p.attrs.phone, rosterId: p.attrs.roster }
    return undefined
  }

  private async onConnect(info: SessionInfo): Promise<void> {
    const sender = this.senderOf(info)
    if (!sender) return
    this.connecting.set(info.clientId, info.principal)
    // as n2o_auth: the client's own actions topic at QoS 2, and for a device what it is entitled to
    const filters = [actionsTopic(info.clientId)]
    if (sender.kind === 'device') {
      filters.push(devicesTopic(sender.phone!))
      const device = { clientId: sender.clientId, phone: sender.phone!, rosterId: sender.rosterId! }
      for (const p of this.providers) filters.push(...(await p(device)))
    }
    await this.s.sessions.subscribe(info.clientId, filters.map((filter) => ({ filter, qos: 2 })))
    // a disconnect that came while the subscriptions were being made: the client is gone
    if (this.connecting.get(info.clientId) !== info.principal) return
    this.connecting.delete(info.clientId)
    // requests are answered from here on: the replies' topic is subscribed
    this.clients.set(info.clientId, sender)
    if (sender.kind === 'device') {
      await this.s.stores.auth.seen(sender.clientId, this.s.clock.now())
      for (const h of this.hooks) await h.connected?.(sender)
    }
  }

  private async onDisconnect(info: SessionInfo): Promise<void> {
    if (this.connecting.get(info.clientId) === info.principal) this.connecting.delete(info.clientId)
    const sender = this.clients.get(info.clientId)
    if (!sender || sender.principal !== info.principal) return
    this.clients.delete(info.clientId)
    if (sender.kind === 'device') {
      await this.s.stores.auth.seen(sender.clientId, this.s.clock.now())
      for (const h of this.hooks) await h.disconnected?.(sender)
    }
  }

  /** handled in the client's order; the broker acknowledges the PUBLISH once its handling has settled */
  private onRequest(m: BusMessage): Promise<void> {
    const clientId = eventsClientId(m.topic)
    if (!clientId) return Promise.resolve()
    const prev = this.queues.get(clientId) ?? Promise.resolve()
    const next = prev.then(() => this.handle(clientId, m.payload)).catch((err: unknown) => {
      this.s.log.error({ err, clientId }, 'synrc request failed')
    })
    this.queues.set(clientId, next)
    void next.then(() => { if (this.queues.get(clientId) === next) this.queues.delete(clientId) })
    return next
  }

  /** the sender of a request that came right after its CONNACK, before the connect event reached this dialect */
  private async awaitSender(clientId: string): Promise<Sender | undefined> {
    const end = Date.now() + CONNECT_GRACE_MS
    let from = this.clients.get(clientId)
    while (!from && Date.now() < end) {
      await new Promise((r) => setTimeout(r, 5))
      from = this.clients.get(clientId)
    }
    return from
  }

  private async handle(clientId: string, payload: Buffer): Promise<void> {
    const from = this.clients.get(clientId) ?? (await this.awaitSender(clientId))
    // only a connection Herald knows can be answered (the broker's rules let nobody else publish as it)
    if (!from) return this.s.log.debug({ clientId }, 'synrc request from a client that is not logged in here')
    let rec
    try {
      rec = this.s.wire.decode(payload)
    } catch (err) {
      if (!(err instanceof WireError)) throw err
      this.s.log.debug({ clientId, err: err.message }, 'synrc request refused')
      return this.s.reply(clientId, this.s.wire.io(error('invalid_data')))
    }
    const route = this.routes[rec.$]
    // §5: a record this client kind may not send is `{unknown,…}`: no reply
    if (!route || !route.accept.includes(from.kind)) return this.s.log.debug({ clientId, record: rec.$ }, 'synrc record not accepted from this client')
    await route.handle({ rec, from }, this.s)
  }
}
