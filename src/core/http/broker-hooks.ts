// External-broker hook endpoints. Both contracts ask the same access layer as the embedded broker.
// - mosquitto-go-auth HTTP backend (heartsms §6): POST /api/v1/mqtt/login | acl | superuser, JSON or form.
// - RabbitMQ rabbitmq_auth_backend_http (chat21 §15): /api/v1/rabbitmq/user | vhost | resource | topic.
// - EMQX 5 HTTP authentication and authorization (issue 11 item 5): /api/v1/emqx/authn | authz, JSON, form or query,
//   with EMQX's placeholder names (username, password, clientid, peerhost; topic, action, qos, retain); answers
//   `{"result":"allow"|"deny"|"ignore","is_superuser":…}`.
import { BlockList, isIP } from 'node:net'
import formbody from '@fastify/formbody'
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { AccessControl } from '../access/access.ts'
import { sameSecret } from '../access/passwords.ts'
import type { Action, Principal } from '../access/types.ts'
import type { HookPresenceFeed } from '../presence/feed.ts'
import { bindingKeyToFilter } from '../util/routing-keys.ts'
import type { Metrics } from './metrics.ts'
import * as S from './openapi-hooks.ts'

type Params = Record<string, unknown>

function params(req: FastifyRequest): Params {
  const body = req.body && typeof req.body === 'object' ? (req.body as Params) : {}
  return { ...(req.query as Params), ...body }
}

const present = (v: unknown) => v !== undefined && v !== null && v !== ''

function missing(p: Params, names: string[]): string | undefined {
  return names.find((n) => !present(p[n]))
}

/** mosquitto `acc`: 1 read (delivery), 2 write (publish), 3 both, 4 subscribe; absent means a subscribe check */
function accActions(acc: unknown): Action[] {
  switch (Number(acc)) {
    case 1: return ['read']
    case 2: return ['publish']
    case 3: return ['read', 'publish']
    default: return ['subscribe']
  }
}

export interface HookOptions {
  /** every call must carry it (Basic password, `X-Herald-Hooks-Secret`, or `?secret=`) when set */
  secret?: string
  /** addresses / CIDR ranges that may call; empty: loopback only, or anyone with the secret */
  allow?: string[]
  /** hook logins and ACL calls with a client id keep it online (the hooks hear of no disconnect) */
  presence?: Pick<HookPresenceFeed, 'login' | 'acl'>
}

export class HookConfigError extends Error {}

/** The addresses that may call the hooks, as a BlockList (IPv4-mapped IPv6 callers are judged by their IPv4). */
export function hookCallers(allow: string[] | undefined, secret: string | undefined): BlockList | null {
  const list = new BlockList()
  const entries = allow && allow.length > 0 ? allow : secret ? [] : ['127.0.0.0/8', '::1']
  if (entries.length === 0) return null
  for (const e of entries) {
    const [addr, bits] = e.split('/')
    const family = isIP(addr)
    if (family === 0 || (bits !== undefined && !/^\d+$/.test(bits))) throw new HookConfigError(`hooks.allow: not an address or CIDR range: ${e}`)
    const type = family === 6 ? 'ipv6' : 'ipv4'
    if (bits === undefined) list.addAddress(addr, type)
    else list.addSubnet(addr, Number(bits), type)
  }
  return list
}

function callerAllowed(list: BlockList | null, ip: string): boolean {
  if (!list) return true
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip)
  if (mapped) return list.check(mapped[1], 'ipv4')
  return list.check(ip, isIP(ip) === 6 ? 'ipv6' : 'ipv4')
}

/** The secret a hook call carries, in whichever form its broker can send. */
function carriedSecret(req: FastifyRequest): string | undefined {
  const header = req.headers['x-herald-hooks-secret']
  if (typeof header === 'string') return header
  const basic = /^Basic (.+)$/i.exec(req.headers.authorization ?? '')
  if (basic) {
    const text = Buffer.from(basic[1], 'base64').toString('utf8')
    return text.slice(text.indexOf(':') + 1)
  }
  const q = (req.query as Params | undefined)?.secret
  return typeof q === 'string' ? q : undefined
}

export function registerBrokerHooks(app: FastifyInstance, access: AccessControl, metrics: Metrics, o: HookOptions = {}): void {
  const callers = hookCallers(o.allow, o.secret)
  app.register(async (scope) => {
    await scope.register(formbody)
    // the fields are checked by hand with each broker's own answers: the schemas (openapi-hooks.ts) document only
    scope.setValidatorCompiler(() => () => true)
    // security hole 3: the hooks answer the broker only, never a password guesser on the public port
    scope.addHook('onRequest', async (req, reply) => {
      if (!callerAllowed(callers, req.ip)) return reply.code(403).send({ error: 'hook caller not allowed' })
      if (o.secret) {
        const got = carriedSecret(req)
        if (got === undefined || !sameSecret(got, o.secret)) return reply.code(401).send({ error: 'hook secret missing or wrong' })
      }
    })
    // heartsms §2: a body that cannot be read (malformed JSON 400, too large 413) answers `unexpected error`
    scope.setErrorHandler((err: FastifyError, req, reply) => {
      const status = err.statusCode === 400 || err.statusCode === 413 ? err.statusCode : 500
      if (status === 500) req.log.error({ err }, 'broker hook failed')
      return reply.code(status).send({ error: 'unexpected error' })
    })

    const goAuth = (reply: FastifyReply, ok: boolean) =>
      ok ? reply.code(200).send({ Ok: true }) : reply.code(401).send({ Ok: false, Error: 'username or password incorrect' })
    const requireFields = (reply: FastifyReply, p: Params, names: string[]) => {
      const m = missing(p, names)
      if (m) reply.code(400).send({ error: `missing required parameter ${m}` })
      return !m
    }

    scope.post('/api/v1/mqtt/login', { schema: S.GO_AUTH_LOGIN }, async (req, reply) => {
      const p = params(req)
      if (!requireFields(reply, p, ['username', 'password'])) return reply
      const clientId = present(p.clientid) ? String(p.clientid) : undefined
      const username = String(p.username)
      const r = await access.authenticate({ username, password: String(p.password), clientId: clientId ?? '', via: 'hook', listener: 'hook' })
      if (r.ok) await access.rememberExternal(username, { ...r.principal, clientId })
      else metrics.authFailures.inc({ reason: r.reason })
      if (r.ok && clientId) await o.presence?.login(r.principal, clientId)
      return goAuth(reply, r.ok)
    })

    scope.post('/api/v1/mqtt/superuser', { schema: S.GO_AUTH_SUPERUSER }, async (req, reply) => {
      const p = params(req)
      if (!requireFields(reply, p, ['username'])) return reply
      const principal = await access.lookup(String(p.username))
      return goAuth(reply, Boolean(principal?.superuser))
    })

    scope.post('/api/v1/mqtt/acl', { schema: S.GO_AUTH_ACL }, async (req, reply) => {
      const p = params(req)
      if (!requireFields(reply, p, ['username', 'topic'])) return reply
      const clientId = present(p.clientid) ? String(p.clientid) : undefined
      const principal = await access.lookup(String(p.username), clientId)
      if (principal) await access.touchClient(clientId, principal)
      if (principal && clientId) await o.presence?.acl(principal, clientId)
      const topic = String(p.topic)
      return goAuth(reply, principal !== null && accActions(p.acc).every((a) => access.authorize(principal, a, topic)))
    })

    // EMQX 5: 200 with a JSON result. `ignore` hands the client to the next authenticator of EMQX's chain: a login
    // without a username (Herald judges names only); a directory that is down answers 503, which EMQX treats as ignore.
    const both = ['GET', 'POST'] as const
    const emqx = (reply: FastifyReply, result: 'allow' | 'deny' | 'ignore', superuser?: boolean) =>
      reply.code(200).send(superuser === undefined ? { result } : { result, is_superuser: superuser })

    scope.route({ method: [...both], url: '/api/v1/emqx/authn', schema: S.EMQX_AUTHN, handler: async (req, reply) => {
      const p = params(req)
      if (!present(p.username)) return emqx(reply, 'ignore')
      const clientId = present(p.clientid) ? String(p.clientid) : undefined
      const username = String(p.username)
      const r = await access.authenticate({ username, password: String(p.password ?? ''), clientId: clientId ?? '', via: 'hook', listener: 'hook', ip: present(p.peerhost) ? String(p.peerhost) : undefined })
      if (!r.ok) {
        metrics.authFailures.inc({ reason: r.reason })
        if (r.reason === 'unavailable') return reply.code(503).send({ result: 'ignore' })
        return emqx(reply, 'deny', false)
      }
      await access.rememberExternal(username, { ...r.principal, clientId })
      if (clientId) await o.presence?.login(r.principal, clientId)
      return emqx(reply, 'allow', r.principal.superuser === true)
    } })

    scope.route({ method: [...both], url: '/api/v1/emqx/authz', schema: S.EMQX_AUTHZ, handler: async (req, reply) => {
      const p = params(req)
      if (!present(p.topic) || !present(p.action)) return reply.code(400).send({ error: 'missing required parameter ' + (present(p.topic) ? 'action' : 'topic') })
      const clientId = present(p.clientid) ? String(p.clientid) : undefined
      const principal = await access.lookup(String(p.username ?? ''), clientId)
      if (!principal) return emqx(reply, 'deny')
      await access.touchClient(clientId, principal)
      if (clientId) await o.presence?.acl(principal, clientId)
      const actions: Action[] = p.action === 'publish' ? ['publish'] : p.action === 'subscribe' ? ['subscribe'] : p.action === 'all' ? ['publish', 'subscribe'] : []
      if (actions.length === 0) return reply.code(400).send({ error: 'action must be publish, subscribe or all' })
      const topic = String(p.topic)
      return emqx(reply, actions.every((a) => access.authorize(principal, a, topic)) ? 'allow' : 'deny')
    } })

    // RabbitMQ: answer 200 with `allow` / `deny` (plain text); anything else counts as an error.
    const rabbit = (reply: FastifyReply, ok: boolean, tags = '') =>
      reply.code(200).type('text/plain').send(ok ? `allow${tags}` : 'deny')
    const rabbitPrincipal = async (p: Params): Promise<Principal | null> => {
      const raw = p['variable_map.client_id'] ?? p.client_id
      const clientId = present(raw) ? String(raw) : undefined
      const principal = await access.lookup(String(p.username ?? ''), clientId)
      if (principal) await access.touchClient(clientId, principal)
      if (principal && clientId) await o.presence?.acl(principal, clientId)
      return principal
    }
    scope.route({ method: [...both], url: '/api/v1/rabbitmq/user', schema: S.RABBIT_USER, handler: async (req, reply) => {
      const p = params(req)
      if (!present(p.username)) return rabbit(reply, false)
      const clientId = present(p.client_id) ? String(p.client_id) : undefined
      const username = String(p.username)
      const r = await access.authenticate({ username, password: String(p.password ?? ''), clientId: clientId ?? '', via: 'hook', listener: 'hook' })
      if (!r.ok) { metrics.authFailures.inc({ reason: r.reason }); return rabbit(reply, false) }
      await access.rememberExternal(username, { ...r.principal, clientId })
      if (clientId) await o.presence?.login(r.principal, clientId)
      return rabbit(reply, true, r.principal.superuser ? ' administrator' : '')
    } })

    scope.route({ method: [...both], url: '/api/v1/rabbitmq/vhost', schema: S.RABBIT_VHOST, handler: async (req, reply) => {
      return rabbit(reply, (await rabbitPrincipal(params(req))) !== null)
    } })

    scope.route({ method: [...both], url: '/api/v1/rabbitmq/resource', schema: S.RABBIT_RESOURCE, handler: async (req, reply) => {
      const p = params(req)
      const principal = await rabbitPrincipal(p)
      if (!principal) return rabbit(reply, false)
      if (principal.superuser) return rabbit(reply, true)
      // what an MQTT connection needs: its own subscription queues (not another client's: an AMQP login with the
      // same credentials could otherwise read them) and the amq.topic exchange, whose topics are checked per key
      const name = String(p.name ?? '')
      const own = present(p.client_id) ? [`mqtt-subscription-${String(p.client_id)}qos0`, `mqtt-subscription-${String(p.client_id)}qos1`] : []
      const ok = (p.resource === 'queue' && own.includes(name))
        || (p.resource === 'exchange' && name === 'amq.topic' && p.permission !== 'configure')
      return rabbit(reply, ok)
    } })

    scope.route({ method: [...both], url: '/api/v1/rabbitmq/topic', schema: S.RABBIT_TOPIC, handler: async (req, reply) => {
      const p = params(req)
      const principal = await rabbitPrincipal(p)
      if (!principal) return rabbit(reply, false)
      const topic = bindingKeyToFilter(String(p.routing_key ?? ''))
      const action: Action = p.permission === 'write' ? 'publish' : 'subscribe'
      return rabbit(reply, access.authorize(principal, action, topic))
    } })
  })
}
