// heartsms §2: how every route runs: merge and check parameters, run, answer, then publish (or publish first
// where §4.4 says so). Row shapes with exact key order (§4.2) live here too.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { AccessRegistry } from '../../../core/access/access.ts'
import type { ArticleFetcher } from '../article.ts'
import type { LoginLimits } from '../limits.ts'
import { check, merge, spec, type SpecInput, type Values } from '../params.ts'
import { routeSchema } from '../schemas.ts'
import { DbError, type HeartStore, type Order, type Row } from '../store.ts'
import type { Table } from '../schema.ts'
import type { HeartPush } from '../push.ts'
import type { HeartPushStore } from '../push-store.ts'
import type { Content, Stream } from '../stream.ts'

export interface HeartContext {
  store: HeartStore
  stream: Stream
  article: ArticleFetcher
  access: AccessRegistry
  /** failed-login limits and the key-derivation gate (limits.ts) */
  limits: LoginLimits
  /** HEART_ALLOWED_USERS as the original reads it */
  allowedUsers: string | undefined
  /** Web Push / UnifiedPush subscriptions and the offline push (issue 14 item 5); no service without Herald's push */
  push: { store: HeartPushStore; service?: HeartPush; vapidPublicKey(): string | undefined }
}

export type Event = [operation: string, content: Content]

export interface Result {
  status?: number
  body: unknown
  /** stream messages for `account_id`, in order */
  events?: Event[]
  /** publish before answering (remove_account, clean_account, dismissed_notification, forward_to_phone) */
  first?: boolean
  /** extra response headers (Retry-After) */
  headers?: Record<string, string>
}

/** Who is asking: Fastify's req.ip (the socket's peer; no proxy header is trusted) */
export interface Client {
  ip: string
  /** the verified client certificate's name over HTTPS (issue 13 §3; HERALD_TLS_CLIENT_IDENTITY), else undefined */
  tlsIdentity?: string
}

export type Handler = (p: Values, items: Values[], h: HeartContext, client: Client) => Promise<Result>

export interface RouteDef {
  method: 'GET' | 'POST'
  url: string
  params?: SpecInput
  /** the route checks no `account_id` (login, signup, activate, …) */
  noAccount?: boolean
  handler: Handler
}

/** An update or delete for an unknown account changes nothing and publishes nothing (heartsms §13.2 fix). */
export async function withAccount(h: HeartContext, p: Values, fn: (account: number) => Promise<Result>): Promise<Result> {
  const account = await h.store.accountId(p.account_id)
  return account === undefined ? ok() : fn(account)
}

/** An insert for an unknown account fails as the original's foreign key did: 500 `could not query database`. */
export async function insertAccount(h: HeartContext, p: Values): Promise<number> {
  const account = await h.store.accountId(p.account_id)
  if (account === undefined) throw new DbError('account_id does not exist')
  return account
}

export const ok = (events?: Event[], first = false): Result => ({ body: {}, events, first })

export function register(scope: FastifyInstance, h: HeartContext, defs: RouteDef[]): void {
  for (const d of defs) {
    const s = spec(d.params ?? {}, d.noAccount)
    const schema = routeSchema(s, d.method, d.url)
    // heartsms §2: Express routing: a trailing slash is optional, a path parameter is never empty
    for (const url of [d.url, `${d.url}/`]) scope.route({
      method: d.method,
      url,
      // the slash variant is the same operation: kept out of the OpenAPI document
      schema: url === d.url ? schema : { ...schema, hide: true } as typeof schema,
      handler: async (req: FastifyRequest, reply: FastifyReply) => {
        if (Object.values(req.params as Values).some((v) => v === '')) return reply.callNotFound()
        const c = check(s, merge(req.query, req.body, req.params))
        if (!c.ok) return reply.code(400).send({ error: c.error })
        const r = await d.handler(c.values, c.items, h, { ip: req.ip, tlsIdentity: req.tlsIdentity })
        const events = r.events ?? []
        const topicId = String(c.values.account_id)
        if (r.first) for (const [op, content] of events) h.stream.publish(topicId, op, content)
        if (r.headers) reply.headers(r.headers)
        reply.code(r.status ?? 200).send(r.body)
        if (!r.first) for (const [op, content] of events) h.stream.publish(topicId, op, content)
        return reply
      },
    })
  }
}

const parsedKeys = new WeakMap<string[], [name: string, from: string, isAccount: boolean][]>()

/** Pick keys in order; absent or NULL values become null; `id=device_id` renames. */
export function shape(keys: string[], row: Row | undefined, accountId: string | null): Row {
  let parsed = parsedKeys.get(keys)
  if (!parsed) {
    parsed = keys.map((k) => { const [name, from] = k.split('='); return [name, from ?? name, name === 'account_id' && !from] })
    parsedKeys.set(keys, parsed)
  }
  const out: Row = {}
  for (const [name, from, isAccount] of parsed) {
    if (isAccount) { out[name] = row ? accountId : null; continue }
    const v = row?.[from]
    out[name] = v === undefined ? null : v
  }
  return out
}

/** Keep only the keys whose value was supplied: the `(omit)` fields of heartsms §5.2. */
export function omitAbsent(o: Content): Content {
  const out: Content = {}
  for (const [k, v] of Object.entries(o)) if (v !== undefined) out[k] = v
  return out
}

export const paging = ['limit:n', 'offset:n']

/** A list GET: `[]` for an unknown account, rows in the table's order, each shaped with `keys`. */
export function listRoute(url: string, table: Table, keys: string[], order: Order, paged = false): RouteDef {
  return {
    method: 'GET', url, params: { opt: paged ? paging : [] }, handler: async (p, _i, h) => {
      const acc = await h.store.accountId(p.account_id)
      if (acc === undefined) return { body: [] }
      const rows = await h.store.list(table, acc, { order, limit: p.limit, offset: p.offset })
      return { body: rows.map((r) => shape(keys, r, p.account_id)) }
    },
  }
}

/** `…/remove/:device_id`: delete and publish `{id: device_id}` whether or not a row matched. */
export function removeRoute(url: string, table: Table, operation: string): RouteDef {
  return {
    method: 'POST', url, params: { req: ['device_id:n'] }, handler: (p, _i, h) => withAccount(h, p, async (acc) => {
      await h.store.remove(table, acc, { device_id: p.device_id })
      return ok([[operation, { id: p.device_id }]])
    }),
  }
}
