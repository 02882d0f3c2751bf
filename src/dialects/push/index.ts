// The push dialect (issue 14, specs/uwpx-push.md): the UWPX registration server (§3) on its own implicit-TLS port.
// Devices register a WNS channel URI and their accounts, and get one node and secret per (device, account) for
// their XMPP servers to publish to; records expire unless refreshed (§5.1).
import { settingHint, settingsOf } from '../../config.ts'
import { systemClock, type Clock } from '../../core/clock.ts'
import { Counter, type Registry } from 'prom-client'
import type { Dialect } from '../types.ts'
import { UwpxListener } from './listener.ts'
import { pushMigrations } from './migrations.ts'
import { noXmpp, type PushNodes } from './nodes.ts'
import { pushSettings } from './settings.ts'
import { PushStore } from './store.ts'
import { UwpxService } from './uwpx.ts'

const DAY_MS = 86_400_000
/** expired records are deleted this often (they read as absent from the moment they expire) */
const SWEEP_EVERY_MS = 3_600_000

export interface PushOptions {
  /** time for record expiry (tests pass a ManualClock) */
  clock?: Clock
  /** the XMPP side; default from HERALD_PUSH_XMPP_MODE */
  nodes?: PushNodes
}

export interface PushDialect extends Dialect {
  service?: UwpxService
  store?: PushStore
  listener?: UwpxListener
  /** the UWPX port actually listened on (HERALD_PUSH_PORT; 0 picks a free one) */
  port?: number
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
      let nodes = o.nodes
      if (!nodes) {
        if (s.xmpp.mode !== 'off') throw new Error(`push.xmpp.mode (HERALD_PUSH_XMPP_MODE) ${s.xmpp.mode}: only off is built so far (client and component: issue 14 item 2)`)
        nodes = noXmpp(s.xmpp.jid || s.xmpp.component)
      }
      d.store = new PushStore(ctx.store.db, ctx.store.kind)
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

    async start(ctx) {
      const s = settingsOf(ctx.config, pushSettings, 'push')
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
      await sweeping
    },
  }
  return d
}

function counter<L extends string>(registry: Registry, name: string, help: string, labelNames: L[]): Counter<L> {
  return (registry.getSingleMetric(name) as Counter<L> | undefined) ?? new Counter({ name, help, labelNames, registers: [registry] })
}
