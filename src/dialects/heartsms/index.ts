// The HeartSMS dialect (heartsms spec): the REST API under /api/v1, the account-sync stream on
// heartsms/<account_id>, and broker access for HeartSMS users and the heart-sms-backend service account.
import type { FastifyError, FastifyInstance } from 'fastify'
import { settingsOf } from '../../config.ts'
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
import { settings } from './settings.ts'
import { Stream } from './stream.ts'

export { settings }

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
