// The push dialect (issue 14, specs/uwpx-push.md): the UWPX registration server (§3) on its own implicit-TLS port.
// Devices register a WNS channel URI and their accounts, and get one node and secret per (device, account) for
// their XMPP servers to publish to; records expire unless refreshed (§5.1). The XMPP side (§6, §12.1 item 7) takes
// the publishes, as a client with PEP nodes or as a component, and queues a WNS push on Herald's push service.
import { readFileSync } from 'node:fs'
import { ConfigError, settingHint, settingsOf } from '../../config.ts'
import { systemClock, type Clock } from '../../core/clock.ts'
import { Counter, Gauge, type Registry } from 'prom-client'
import type { PushService } from '../../core/push/service.ts'
import type { Logger } from 'pino'
import type { Dialect, DialectContext } from '../types.ts'
import { UwpxListener } from './listener.ts'
import { pushMigrations } from './migrations.ts'
import { noXmpp, type PushNodes } from './nodes.ts'
import { pushSettings } from './settings.ts'
import { PushStore } from './store.ts'
import { UwpxService } from './uwpx.ts'
import { XmppClientMode } from './xmpp-client.ts'
import { XmppComponentMode } from './xmpp-component.ts'
import { PushDelivery } from './xmpp-deliver.ts'

const DAY_MS = 86_400_000
/** expired records are deleted this often (they read as absent from the moment they expire) */
const SWEEP_EVERY_MS = 3_600_000

export interface PushOptions {
  /** time for record expiry (tests pass a ManualClock) */
  clock?: Clock
  /** the XMPP side; default from HERALD_PUSH_XMPP_MODE */
  nodes?: PushNodes
  /** where publishes are delivered; default Herald's push service (ctx.push) */
  push?: PushService
}

/** the XMPP side of client or component mode: its nodes, and a connection kept up */
type XmppSide = (XmppClientMode | XmppComponentMode)

export interface PushDialect extends Dialect {
  service?: UwpxService
  store?: PushStore
  listener?: UwpxListener
  /** the UWPX port actually listened on (HERALD_PUSH_PORT; 0 picks a free one) */
  port?: number
  /** client or component mode's XMPP side */
  xmpp?: XmppSide
}

export function createPush(o: PushOptions = {}): PushDialect {
  const clock = o.clock ?? systemClock
  let stopped = false
  let sweeping: Promise<unknown> | undefined
  const d: PushDialect = {
    name: 'push',
    settings: pushSettings,
    migrations: pushMigrations,

    async setup(ctx) {
      const s = settingsOf(ctx.config, pushSettings, 'push')
      const log = ctx.log.child({ dialect: 'push' })
      d.store = new PushStore(ctx.store.db, ctx.store.kind)
      let nodes = o.nodes
      if (!nodes) {
        d.xmpp = xmppSide(ctx, d.store, o.push, clock, log)
        nodes = d.xmpp ?? noXmpp(s.xmpp.jid || s.xmpp.component)
      }
      if (d.xmpp) {
        const xmpp = d.xmpp
        ctx.metrics.registry.removeSingleMetric('push_xmpp_up')
        new Gauge({
          name: 'push_xmpp_up', help: 'whether the XMPP session (client mode) or component connection is up', labelNames: ['mode'],
          registers: [ctx.metrics.registry], collect() { this.set({ mode: s.xmpp.mode }, xmpp.up ? 1 : 0) },
        })
      }
      // issue 15: the console's push section; the queue per provider is the dispatcher's gauge on Herald's registry
      const store = d.store
      d.summary = async () => {
        const depth = ctx.metrics.registry.getSingleMetric('herald_push_queue_depth')
        const queue: Record<string, number> = {}
        for (const v of depth ? (await depth.get()).values : []) queue[String(v.labels.provider)] = v.value
        return {
          ...await store.summaryCounts(clock.now()),
          xmpp: { mode: s.xmpp.mode, up: d.xmpp ? d.xmpp.up : null },
          uwpxPort: d.port ?? null, queue,
        }
      }
      d.service = new UwpxService({ store: d.store, nodes, push: ctx.push, clock, ttlMs: s.ttlDays * DAY_MS, log })
      const service = d.service
      // §12.2: a channel WNS reports gone (404/410) is dropped with its devices
      ctx.push.onEndpointGone('push', async (t) => { if (t.provider === 'wns') await service.channelGone(t.channelUri) })
      if (s.port === null) return
      const requests = counter(ctx.metrics.registry, 'push_uwpx_requests_total', 'UWPX registration requests (§3.3), by action and reply status', ['action', 'status'])
      const refused = counter(ctx.metrics.registry, 'push_uwpx_connections_refused_total', 'UWPX connections closed by the per-address limit', [])
      const tlsMaterial = ctx.tls()
      d.listener = new UwpxListener({
        cert: tlsMaterial.cert, key: tlsMaterial.key,
        maxMessageBytes: s.maxMessageBytes, maxConnectionsPerAddress: s.maxConnectionsPerAddress, idleTimeoutMs: s.idleTimeoutMs,
        log,
        onRefused: () => refused.inc(),
        handle: async (bytes) => {
          const r = await service.handle(bytes)
          requests.inc({ action: r.action, status: String(r.status) })
          return r.reply
        },
      })
    },

    ready: () => !d.xmpp || d.xmpp.up,

    async start(ctx) {
      const s = settingsOf(ctx.config, pushSettings, 'push')
      d.xmpp?.start()
      if (d.listener && s.port !== null) d.port = await ctx.listen('push', d.listener.server, s.port, settingHint('push.port', pushSettings))
      const log = ctx.log.child({ dialect: 'push' })
      const sweep = () => (sweeping = d.service!.sweep().catch((err) => log.warn({ err }, 'push: sweeping expired registrations failed')))
      // not awaited at stop: a manual clock's sleep may never end; a sweep under way is
      void (async () => {
        await sweep()
        while (!stopped) {
          await clock.sleep(SWEEP_EVERY_MS)
          if (!stopped) await sweep()
        }
      })()
    },

    async stop() {
      stopped = true
      d.listener?.server.close()
      d.listener?.destroyAll()
      await d.xmpp?.stop()
      await sweeping
    },
  }
  return d
}

function counter<L extends string>(registry: Registry, name: string, help: string, labelNames: L[]): Counter<L> {
  return (registry.getSingleMetric(name) as Counter<L> | undefined) ?? new Counter({ name, help, labelNames, registers: [registry] })
}

/** HERALD_PUSH_XMPP_MODE: the XMPP side it names, its settings checked (off: none) */
function xmppSide(ctx: DialectContext, store: PushStore, push: PushService | undefined, clock: Clock, log: Logger): XmppSide | undefined {
  const x = settingsOf(ctx.config, pushSettings, 'push').xmpp
  const hint = (key: string) => settingHint(`push.xmpp.${key}`, pushSettings)
  const bad = (why: string) => new ConfigError(`push.xmpp.mode ${x.mode}: ${why}`)
  if (x.mode === 'off') return undefined
  if (x.mode !== 'client' && x.mode !== 'component') throw bad(`is client, component or off (${hint('mode')})`)
  const delivery = new PushDelivery({ store, push: push ?? ctx.push, clock, log, registry: ctx.metrics.registry, mode: x.mode })
  const common = { timeoutMs: x.timeoutMs, readyWaitMs: x.readyWaitMs, reconnectMs: x.reconnectMs, reconnectMaxMs: x.reconnectMaxMs, delivery, log }
  if (x.mode === 'client') {
    if (!/^[^@/\s]+@[^@/\s]+$/.test(x.jid)) throw bad(`the push account's bare JID (user@domain) is required (${hint('jid')}), got ${JSON.stringify(x.jid)}`)
    if (!x.password) throw bad(`the push account's password is required (${hint('password')})`)
    return new XmppClientMode({
      ...common, jid: x.jid, password: x.password, service: serviceOf(x.service, x.jid.split('@')[1]!, 5222, hint('service')),
      tlsInsecure: x.tlsInsecure, ca: x.caFile ? readCa(x.caFile, hint('caFile')) : undefined,
    })
  }
  if (!/^[^@/\s]+$/.test(x.component)) throw bad(`the component's JID (push.example.org) is required (${hint('component')}), got ${JSON.stringify(x.component)}`)
  if (!x.componentSecret) throw bad(`the component secret is required (${hint('componentSecret')})`)
  return new XmppComponentMode({ ...common, domain: x.component, secret: x.componentSecret, service: serviceOf(x.service, 'localhost', 5347, hint('service')) })
}

/** xmpp://host[:port]; empty: the default host and port */
function serviceOf(service: string, host: string, port: number, hint: string): string {
  if (!service) return `xmpp://${host}:${port}`
  let u: URL
  try { u = new URL(service) } catch { throw new ConfigError(`push.xmpp.service (${hint}): not a URL, got ${JSON.stringify(service)}`) }
  if (u.protocol !== 'xmpp:' || !u.hostname) throw new ConfigError(`push.xmpp.service (${hint}): xmpp://host:port (STARTTLS in client mode), got ${JSON.stringify(service)}`)
  return `xmpp://${u.host}${u.port ? '' : `:${port}`}`
}

function readCa(file: string, hint: string): string {
  try {
    return readFileSync(file, 'utf8')
  } catch (err) {
    throw new ConfigError(`push.xmpp.caFile (${hint}): cannot read ${file}: ${(err as Error).message}`)
  }
}
