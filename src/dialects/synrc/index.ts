// The SYNRC CHAT dialect (specs/synrc.md, issue 12): ETF records over MQTT. Clients publish requests to
// `events/…`; Herald answers on `actions/1/api/<clientId>` and fans out on devices/, contacts/, private/, room/,
// subscribing the entitled devices server-side (sessions seam).
import { settingsOf } from '../../config.ts'
import { systemClock } from '../../core/clock.ts'
import type { Dialect } from '../types.ts'
import { KIND, rewrite, rules, synrcAuthenticator } from './access.ts'
import type { Synrc as SynrcCtx } from './context.ts'
import { MODULES, routesOf } from './handlers/index.ts'
import { synrcMigrations } from './migrations.ts'
import { SynrcPush } from './push.ts'
import { SynrcService } from './service.ts'
import { synrcSettings } from './settings.ts'
import { signatureCheck } from './signatures.ts'
import { smsSender, type SmsSender } from './sms.ts'
import { AuthStore } from './store/auth.ts'
import { DeliveryStore } from './store/deliveries.ts'
import { FriendStore } from './store/friends.ts'
import { MessageStore } from './store/messages.ts'
import { RoomStore } from './store/rooms.ts'
import { RosterStore } from './store/rosters.ts'
import { actionsTopic, EVENTS_FILTER, OWNED_TOPICS, roomTopic } from './topics.ts'
import { Wire } from './wire.ts'

export interface SynrcDialect extends Dialect {
  /** the request loop and the handlers' context, for tests and benchmarks */
  service?: SynrcService
  synrc?: SynrcCtx
}

export function createSynrc(): SynrcDialect {
  let sms: SmsSender | undefined
  const d: SynrcDialect = {
    name: 'synrc',
    // devices are subscribed to their actions topic before they subscribe to anything themselves (RabbitMQ cannot)
    needs: ['events', 'subscriptions', 'sessionWithoutSubscription'],
    settings: synrcSettings,
    migrations: synrcMigrations,

    async setup(ctx) {
      const settings = settingsOf(ctx.config, synrcSettings, 'synrc')
      if (settings.layout !== 'a' && settings.layout !== 'legacy') throw new Error(`synrc.layout (HERALD_SYNRC_LAYOUT) is a or legacy, not ${settings.layout}`)
      if (settings.retention !== 'keep' && settings.retention !== 'delete-delivered') {
        throw new Error(`synrc.retention (HERALD_SYNRC_RETENTION) is keep or delete-delivered, not ${settings.retention}`)
      }
      const log = ctx.log.child({ dialect: 'synrc' })
      const db = ctx.store.db
      const stores = {
        auth: new AuthStore(db), rosters: new RosterStore(db), friends: new FriendStore(db), rooms: new RoomStore(db),
        messages: new MessageStore(db), deliveries: new DeliveryStore(db),
      }
      ctx.access.addAuthenticator(synrcAuthenticator(stores.auth, stores.rosters))
      ctx.access.addRules(rules.map((r) => ({ ...r, kind: KIND })))
      ctx.access.ownTopics(OWNED_TOPICS)
      ctx.access.rewritePublish(EVENTS_FILTER, rewrite)
      sms = smsSender({ webhook: settings.smsWebhook, development: ctx.development, outbox: ctx.outbox, log })
      if (!sms.available) log.warn('synrc: no SMS gateway (HERALD_SYNRC_SMS_WEBHOOK): registrations are refused')
      const wire = new Wire({ layout: settings.layout, maxBytes: settings.maxPayloadBytes })
      const bus = () => ctx.bus
      const s: SynrcCtx = {
        wire, stores, settings, log, clock: systemClock, sessions: ctx.sessions, sms, development: ctx.development,
        dataDir: String(ctx.config.dataDir),
        reply: (clientId, rec) => bus().publish(actionsTopic(clientId), wire.encode(rec), { qos: 2 }),
        publish: (topic, rec) => bus().publish(topic, wire.encode(rec), { qos: 2 }),
        addSubscriptionProvider: (fn) => d.service!.addProvider(fn),
        subscribePhone: async (phone, filters) => {
          for (const row of await stores.auth.devices(phone)) {
            // an offline device without a persistent session gets them from the providers at its next connect
            await ctx.sessions.subscribe(row.client_id, filters.map((filter) => ({ filter, qos: 2 }))).catch(() => {})
          }
        },
        unsubscribePhone: async (phone, filters) => {
          for (const row of await stores.auth.devices(phone)) await ctx.sessions.unsubscribe(row.client_id, filters).catch(() => {})
        },
        addDeviceHooks: (h) => d.service!.addHooks(h),
        connectedDevices: (phone) => d.service!.devicesOf(phone).map((c) => c.clientId),
        systemMessage: (roomId, text) => s.publish(roomTopic(roomId), {
          $: 'Message', feed_id: { $: 'muc', name: Buffer.from(roomId) }, created: systemClock.now(), type: ['sys'],
          files: [{ $: 'Desc', mime: Buffer.from('text'), payload: Buffer.from(text) }],
        }),
      }
      s.push = new SynrcPush(s, ctx.push, ctx.metrics.registry)
      if (settings.verifySignatures) s.verifySignatures = signatureCheck(ctx.config, log)
      d.synrc = s
      d.service = new SynrcService(s, routesOf(MODULES))
      // issue 15: the console's synrc section counts the devices connected now
      const connected = new Set<string>()
      d.service.addHooks({
        connected: async (dev) => { connected.add(dev.clientId) },
        disconnected: async (dev) => { connected.delete(dev.clientId) },
      })
      d.summary = async () => ({ ...await stores.auth.summaryCounts(), rooms: await stores.rooms.count(), connectedDevices: connected.size, layout: settings.layout })
    },

    async start(ctx) {
      for (const m of MODULES) await m.start?.(d.synrc!)
      await d.service!.start(ctx.bus)
      sms!.start()
    },

    async stop() {
      await d.service?.stop()
      await sms?.stop()
    },
  }
  return d
}
