// The HeartSMS dialect (heartsms spec): the REST API under /api/v1, the account-sync stream on
// heartsms/<account_id>, and broker access for HeartSMS users and the heart-sms-backend service account.
import type { FastifyError, FastifyInstance } from 'fastify'
import { defineSettings, settingsOf } from '../../config.ts'
import { systemClock } from '../../core/clock.ts'
import { bodyError, expressJsonBodies } from '../../core/http/express-body.ts'
import type { Dialect, DialectContext, DialectRoutes } from '../types.ts'
import { authenticator, rules, SERVICE_USERNAME, servicePassword } from './access.ts'
import { ArticleFetcher, type ArticleOptions } from './article.ts'
import { LoginLimits, type Derive } from './limits.ts'
import { migrations } from './migrations.ts'
import { HeartPush } from './push.ts'
import { HeartPushStore } from './push-store.ts'
import { accountRoutes, hashPassword } from './routes/accounts.ts'
import { autoReplyRoutes } from './routes/auto_replies.ts'
import { blacklistRoutes } from './routes/blacklists.ts'
import { register, type HeartContext } from './routes/common.ts'
import { contactRoutes } from './routes/contacts.ts'
import { conversationRoutes } from './routes/conversations.ts'
import { deviceRoutes } from './routes/devices.ts'
import { draftRoutes } from './routes/drafts.ts'
import { folderRoutes } from './routes/folders.ts'
import { mediaRoutes } from './routes/media.ts'
import { pushRoutes } from './routes/push.ts'
import { messageRoutes } from './routes/messages.ts'
import { scheduledRoutes } from './routes/scheduled_messages.ts'
import { templateRoutes } from './routes/templates.ts'
import { DbError, HeartStore } from './store.ts'
import { Stream } from './stream.ts'

export const settings = defineSettings([
  { key: 'heartsms.nodeEnv', env: ['NODE_ENV'], type: 'string', default: 'production', description: 'HeartSMS: dev or test fixes the heart-sms-backend password to testpassword' },
  { key: 'heartsms.allowedUsers', env: ['HEART_ALLOWED_USERS'], type: 'string', default: '', description: 'HeartSMS signup allow-list: * (everyone) or a comma list of usernames; empty: nobody' },
  { key: 'heartsms.article.fetch', env: ['HERALD_HEARTSMS_ARTICLE_FETCH'], type: 'bool', default: true, description: 'GET /api/v1/article fetches the page for its preview; false: only domain and web_url' },
  { key: 'heartsms.article.allowPrivate', env: ['HERALD_HEARTSMS_ARTICLE_ALLOW_PRIVATE'], type: 'bool', default: false, description: 'GET /api/v1/article may fetch loopback, private and link-local addresses (refused by default)' },
  { key: 'heartsms.article.timeoutMs', env: ['HERALD_HEARTSMS_ARTICLE_TIMEOUT_MS'], type: 'int', default: 8000, description: 'GET /api/v1/article: deadline of one page fetch, redirects included' },
  { key: 'heartsms.login.failLimit', env: ['HERALD_HEARTSMS_LOGIN_FAIL_LIMIT'], type: 'int', default: 10, description: 'POST /api/v1/accounts/login: failed logins per username within the window before it answers 429 (0: no limit)' },
  { key: 'heartsms.login.failLimitPerAddress', env: ['HERALD_HEARTSMS_LOGIN_FAIL_LIMIT_PER_ADDRESS'], type: 'int', default: 100, description: 'POST /api/v1/accounts/login: failed logins per client address (IPv6: per /64) within the window before it answers 429 (0: no limit)' },
  { key: 'heartsms.login.failWindowMs', env: ['HERALD_HEARTSMS_LOGIN_FAIL_WINDOW_MS'], type: 'int', default: 900_000, description: 'window of the HeartSMS failed-login limits, in milliseconds' },
  { key: 'heartsms.kdf.concurrency', env: ['HERALD_HEARTSMS_KDF_CONCURRENCY'], type: 'int', default: 2, description: 'HeartSMS login and signup: PBKDF2 derivations (100 000 rounds each) run at once' },
  { key: 'heartsms.kdf.queue', env: ['HERALD_HEARTSMS_KDF_QUEUE'], type: 'int', default: 64, description: 'HeartSMS login and signup: derivations waiting for their turn; beyond, 503 at once' },
  { key: 'heartsms.push.enabled', env: ['HERALD_HEARTSMS_PUSH_ENABLED'], type: 'bool', default: true, description: 'push a write to the Web Push / UnifiedPush subscriptions of an account with no stream client connected (issue 14 item 5)' },
  { key: 'heartsms.push.includeContent', env: ['HERALD_HEARTSMS_PUSH_INCLUDE_CONTENT'], type: 'bool', default: false, description: 'put the write\'s content (≤ 3000 bytes) in HeartSMS pushes; off: the operation and a count only' },
  { key: 'heartsms.push.coalesceMs', env: ['HERALD_HEARTSMS_PUSH_COALESCE_MS'], type: 'int', default: 2000, description: 'an account\'s writes within this many milliseconds of its first one make one push' },
  { key: 'heartsms.servicePassword', env: ['HERALD_HEARTSMS_SERVICE_PASSWORD'], type: 'string', default: '', description: 'password of heart-sms-backend outside NODE_ENV dev/test; empty: random at every start, printed once', secret: true },
])

export const routes = [
  ...accountRoutes, ...autoReplyRoutes, ...blacklistRoutes, ...contactRoutes, ...conversationRoutes, ...deviceRoutes,
  ...draftRoutes, ...folderRoutes, ...mediaRoutes, ...messageRoutes, ...scheduledRoutes, ...templateRoutes, ...pushRoutes,
]

/** heartsms §2: Express's json parser in strict mode: only objects and arrays; other types are drained unread. */
function bodyParsing(scope: FastifyInstance): void {
  expressJsonBodies(scope, {
    otherTypes: 'drain',
    parse(text) {
      if (text[0] !== '{' && text[0] !== '[') throw bodyError('bad json', 400)
      try { return JSON.parse(text) } catch { throw bodyError('bad json', 400) }
    },
  })
}

/** Seams for tests: the key derivation (to watch how many run at once) and the article fetcher's network. */
export interface HeartsmsHooks {
  derive?: Derive
  article?: Pick<ArticleOptions, 'lookup' | 'connector'>
}

export function createHeartsms(hooks: HeartsmsHooks = {}): Dialect {
  let stream: Stream | undefined
  let article: ArticleFetcher | undefined
  let h: HeartContext | undefined
  let push: HeartPush | undefined
  let store: HeartStore | undefined
  return {
    name: 'heartsms',
    settings,
    migrations,
    async setup(ctx: DialectContext) {
      const s = settingsOf(ctx.config, settings, 'heartsms')
      store = new HeartStore(ctx.store)
      stream = new Stream(ctx.log.child({ dialect: 'heartsms' }))
      article = new ArticleFetcher({ ...s.article, ...hooks.article })
      const limits = new LoginLimits({
        ...s.login, kdfConcurrency: s.kdf.concurrency, kdfQueue: s.kdf.queue,
      }, hooks.derive ?? hashPassword)
      const pushStore = new HeartPushStore(ctx.store)
      push = new HeartPush(pushStore, ctx.presence, ctx.push, systemClock, ctx.log.child({ dialect: 'heartsms' }), s.push)
      stream.onPublish = (account, op, content) => push!.published(account, op, content)
      const service = ctx.push
      h = {
        store, stream, article, access: ctx.access, limits, allowedUsers: s.allowedUsers,
        push: { store: pushStore, service: push, vapidPublicKey: () => service.vapidPublicKey() },
      }
      ctx.access.addServiceAccount(SERVICE_USERNAME, servicePassword(s.nodeEnv, s.servicePassword, ctx.log), 'heartsms-backend')
      ctx.access.addAuthenticator(authenticator(store))
      ctx.access.addRules(rules)
      // issue 9 §3: the stream's topic space is heartsms's; an ACL-file or anonymous grant does not reach it
      ctx.access.ownTopics(['heartsms/#'])
    },
    routes(): DialectRoutes[] {
      const heart = h!
      return [{ prefix: '/api/v1', plugin: async (scope) => {
        bodyParsing(scope)
        // heartsms §2 merges query, body and path before checking, with Express's idea of missing: Ajv cannot say
        // that, so the route schemas document and params.ts validates, with the original's error strings
        scope.setValidatorCompiler(() => () => true)
        scope.setErrorHandler((err: FastifyError, req, reply) => {
          if (err instanceof DbError) {
            req.log.warn({ err: err.message, url: req.url }, 'heartsms query failed')
            return reply.code(500).send({ error: 'could not query database' })
          }
          const status = err.statusCode === 400 || err.statusCode === 413 ? err.statusCode : 500
          if (status === 500) req.log.error({ err }, 'heartsms request failed')
          return reply.code(status).send({ error: 'unexpected error' })
        })
        // heartsms §2: a wrong method or unknown path, with the body parsed as for any route (Express parses first)
        scope.setNotFoundHandler((req, reply) => reply.code(404).send({ error: `unhandled path in request: ${req.url.split('?')[0]}` }))
        register(scope, heart, routes)
      } }]
    },
    async start(ctx: DialectContext) {
      stream!.attach(ctx.bus)
    },
    // issue 15: the console's heartsms section
    summary: async () => (store ? await store.summaryCounts() : {}),
    async stop() {
      stream?.detach()
      await push?.stop()
      await article?.close()
    },
  }
}
