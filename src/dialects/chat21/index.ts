// The chat21 dialect (specs/chat21.md): the inbox routing engine ("observer"), its REST API
// (chat21-http-server), JWT login and issuance, webhooks.
import type { Logger } from 'pino'
import { settingsOf } from '../../config.ts'
import { Chat21Push } from './push.ts'
import { secretOrRandom } from '../../core/util/secrets.ts'
import type { Dialect, DialectContext, DialectRoutes } from '../types.ts'
import { jwtAuthenticator } from './access.ts'
import { Tokens } from './jwt.ts'
import { Chat21Metrics } from './metrics.ts'
import { chat21Migrations } from './migrations.ts'
import { Flow } from './observer/context.ts'
import { Observer } from './observer/index.ts'
import { restApi, rootRoutes } from './rest/index.ts'
import { checkPushWebhook } from './rest/push.ts'
import { chat21Settings } from './settings.ts'
import { Chat21Store, WEBHOOK_QUEUE } from './store.ts'
import { validId } from './topics.ts'
import { Webhooks } from './webhooks.ts'

/** The secret of the original's development issuer (§13.1); accepted only in development mode. */
const DEV_TOKEN_KEY = 'tokenKey'

function jwtSecret(ctx: DialectContext, configured: string, log: Logger): string {
  return secretOrRandom({
    configured, fixed: ctx.development ? DEV_TOKEN_KEY : undefined, bytes: 32,
    onRandom: () => log.warn('HERALD_CHAT21_JWT_SECRET is not set: chat21 tokens from other issuers will be refused (random secret for this run)'),
  })
}

export interface Chat21 extends Dialect {
  /** the routing engine, for tests and benchmarks */
  flow?: Flow
  tokens?: Tokens
  webhooks?: Webhooks
}

export function createChat21(): Chat21 {
  let observer: Observer | undefined
  let mounts: DialectRoutes[] = []
  let summary: (() => Promise<Record<string, unknown>>) | undefined
  const d: Chat21 = {
    name: 'chat21',
    settings: chat21Settings,
    migrations: chat21Migrations,

    async setup(ctx) {
      const s = settingsOf(ctx.config, chat21Settings, 'chat21')
      const log = ctx.log.child({ dialect: 'chat21' })
      const app = s.appId
      if (!validId(app)) throw new Error(`chat21.appId (HERALD_CHAT21_APP_ID) must not contain . / + # *: ${app}`)
      const tokens = new Tokens(jwtSecret(ctx, s.jwtSecret, log), app, s.jwtExpiry)
      const store = new Chat21Store(ctx.store.db, ctx.outbox)
      const webhooks = new Webhooks(s.webhooks, ctx.outbox, log)
      const flow = new Flow(app, store, () => ctx.bus, webhooks, log, {
        presence: s.presence, historyLimit: s.historyLimit, json: s.json,
      }, new Chat21Metrics(ctx.metrics.registry, { originalLabels: s.metrics.originalLabels }))
      flow.push = new Chat21Push(app, store, ctx.presence, ctx.push, log, s.push)
      Object.assign(d, { flow, tokens, webhooks })
      // issue 15: the console's chat21 section; webhook delivery state from the outbox queue the webhooks ride on
      summary = async () => ({
        appId: app, ...await store.summaryCounts(),
        webhooks: { queued: await ctx.outbox.depth(WEBHOOK_QUEUE), dead: (await ctx.outbox.dead(WEBHOOK_QUEUE, 10_000)).length },
      })
      ctx.access.addAuthenticator(jwtAuthenticator(tokens))
      // issue 9 §3: chat21's topics (`apps/<app>/…`) are its own; an ACL-file or anonymous grant does not reach them
      ctx.access.ownTopics(['apps/#'])

      checkPushWebhook(s.pushWebhook)
      const rest = restApi(flow, tokens, ctx.access, { syncTimeoutMs: s.http.syncTimeoutMs, pushWebhook: s.pushWebhook })
      const prefix = s.http.prefix.replace(/\/+$/, '')
      // §12: under its prefix on the main port, or on a port of its own together with the routes outside the API base
      mounts = s.http.port === null ? [{ prefix, plugin: rest }]
        : [{ prefix, plugin: rest, port: s.http.port }, { prefix: '', plugin: rootRoutes(tokens), port: s.http.port }]

      if (s.ws.port !== null) await ctx.extraWebSocket(s.ws.port, [s.ws.path])
    },

    routes: () => mounts,

    summary: () => (summary ? summary() : Promise.resolve({})),

    async start() {
      observer = new Observer(d.flow!)
      await observer.start()
      d.webhooks!.start()
    },

    async stop() {
      await observer?.stop()
      await d.webhooks?.stop()
    },
  }
  return d
}
