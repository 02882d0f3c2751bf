// The chat21 dialect (specs/chat21.md): the inbox routing engine ("observer"), its REST API
// (chat21-http-server), JWT login and issuance, webhooks.
import { randomBytes } from 'node:crypto'
import type { Logger } from 'pino'
import { bool, list, num, port, str } from '../../config.ts'
import type { Dialect, DialectContext } from '../types.ts'
import { jwtAuthenticator } from './access.ts'
import { Tokens } from './jwt.ts'
import { Chat21Metrics } from './metrics.ts'
import { chat21Migrations } from './migrations.ts'
import { Flow } from './observer/context.ts'
import { Observer } from './observer/index.ts'
import { restApi, rootRoutes } from './rest/index.ts'
import { checkPushWebhook } from './rest/push.ts'
import { chat21Settings } from './settings.ts'
import { Chat21Store } from './store.ts'
import { validId } from './topics.ts'
import { Webhooks } from './webhooks.ts'

/** The secret of the original's development issuer (§13.1); accepted only in development mode. */
const DEV_TOKEN_KEY = 'tokenKey'

function jwtSecret(ctx: DialectContext, log: Logger): string {
  const configured = str(ctx.config, 'chat21.jwtSecret')
  if (configured) return configured
  if (ctx.development) return DEV_TOKEN_KEY
  log.warn('HERALD_CHAT21_JWT_SECRET is not set: chat21 tokens from other issuers will be refused (random secret for this run)')
  return randomBytes(32).toString('hex')
}

export interface Chat21 extends Dialect {
  /** the routing engine, for tests and benchmarks */
  flow?: Flow
  tokens?: Tokens
  webhooks?: Webhooks
}

export function createChat21(): Chat21 {
  let observer: Observer | undefined
  const d: Chat21 = {
    name: 'chat21',
    settings: chat21Settings,
    migrations: chat21Migrations,

    async setup(ctx) {
      const cfg = ctx.config
      const log = ctx.log.child({ dialect: 'chat21' })
      const app = str(cfg, 'chat21.appId')
      if (!validId(app)) throw new Error(`chat21.appId (HERALD_CHAT21_APP_ID) must not contain . / + # *: ${app}`)
      const tokens = new Tokens(jwtSecret(ctx, log), app, num(cfg, 'chat21.jwtExpiry'))
      const store = new Chat21Store(ctx.store.db)
      const webhooks = new Webhooks({
        enabled: bool(cfg, 'chat21.webhooks.enabled'),
        endpoints: list(cfg, 'chat21.webhooks.endpoints'),
        events: list(cfg, 'chat21.webhooks.events'),
        retryBaseMs: num(cfg, 'chat21.webhooks.retryBaseMs'),
        retryMaxMs: num(cfg, 'chat21.webhooks.retryMaxMs'),
        timeoutMs: num(cfg, 'chat21.webhooks.timeoutMs'),
      }, store, log)
      const flow = new Flow(app, store, () => ctx.bus, webhooks, log, {
        presence: bool(cfg, 'chat21.presence'), historyLimit: num(cfg, 'chat21.historyLimit'),
        json: { maxDepth: num(cfg, 'chat21.json.maxDepth'), maxBytes: num(cfg, 'chat21.json.maxBytes') },
      }, new Chat21Metrics(ctx.metrics.registry, { originalLabels: bool(cfg, 'chat21.metrics.originalLabels') }))
      Object.assign(d, { flow, tokens, webhooks })
      ctx.access.addAuthenticator(jwtAuthenticator(tokens))
      // issue 9 §3: chat21's topics (`apps/<app>/…`) are its own; an ACL-file or anonymous grant does not reach them
      ctx.access.ownTopics(['apps/#'])

      const prefix = str(cfg, 'chat21.http.prefix').replace(/\/+$/, '')
      const httpPort = port(cfg, 'chat21.http.port')
      const target = httpPort === null ? ctx.http : (await ctx.extraHttp('chat21', httpPort)).app
      const pushWebhook = {
        token: str(cfg, 'chat21.pushWebhook.token'), adminToken: str(cfg, 'chat21.pushWebhook.adminToken'),
        notifyUrl: str(cfg, 'chat21.pushWebhook.notifyUrl'), timeoutMs: num(cfg, 'chat21.pushWebhook.timeoutMs'),
      }
      checkPushWebhook(pushWebhook)
      await target.register(restApi(flow, tokens, ctx.access, { syncTimeoutMs: num(cfg, 'chat21.http.syncTimeoutMs'), pushWebhook }), { prefix })
      if (httpPort !== null) await target.register(rootRoutes(tokens))

      const wsPort = port(cfg, 'chat21.ws.port')
      if (wsPort !== null) await ctx.extraWebSocket(wsPort, [str(cfg, 'chat21.ws.path')])
    },

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

export const chat21: Dialect = createChat21()
