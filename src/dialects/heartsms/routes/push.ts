// Web Push / UnifiedPush subscriptions of an account (issue 14 item 5), in the API's own conventions (account_id
// in the query or body, `{error}` on bad input): a browser posts its PushSubscription.toJSON() (endpoint and keys),
// a UnifiedPush distributor's endpoint comes with `type: unifiedpush` and keys if the app has them.
import { checkPush } from '../../../core/push/validate.ts'
import { targetOf } from '../push.ts'
import type { PushSubscriptionRow } from '../push-store.ts'
import { ok, withAccount, type HeartContext, type Result, type RouteDef } from './common.ts'

const bad = (error: string): Result => ({ status: 400, body: { error } })

/** The subscription in `p` (PushSubscription.toJSON(): endpoint, keys.p256dh, keys.auth; or flat p256dh/auth),
 *  checked as the push service checks a target: an https endpoint, and for Web Push a P-256 key and 16-byte secret. */
export function subscriptionOf(p: Record<string, any>): Omit<PushSubscriptionRow, 'created_at'> | string {
  const kind = p.type === undefined || p.type === null || p.type === '' ? 'webpush' : String(p.type)
  if (kind !== 'webpush' && kind !== 'unifiedpush') return 'type must be webpush or unifiedpush'
  const keys = p.keys && typeof p.keys === 'object' && !Array.isArray(p.keys) ? p.keys as Record<string, unknown> : {}
  const key = (v: unknown) => (v === undefined || v === null || v === '' ? null : String(v))
  const row = { endpoint: String(p.endpoint), kind, p256dh: key(keys.p256dh ?? p.p256dh), auth: key(keys.auth ?? p.auth) } as const
  const problem = checkPush(targetOf(row), { payload: '' })
  return problem ?? row
}

const unavailable = (h: HeartContext, kind: PushSubscriptionRow['kind']) => !h.push.service?.accepts(kind)

export const pushRoutes: RouteDef[] = [
  {
    method: 'GET', url: '/push_subscriptions/vapid_public_key', noAccount: true, handler: async (_p, _i, h) => {
      const key = h.push.vapidPublicKey()
      return key ? { body: { public_key: key } } : { status: 503, body: { error: 'web push is not configured' } }
    },
  },
  {
    method: 'GET', url: '/push_subscriptions', handler: async (p, _i, h) => {
      // an unknown account has none, as GET /devices answers []
      if ((await h.store.accountId(p.account_id)) === undefined) return { body: [] }
      const rows = await h.push.store.list(String(p.account_id))
      return { body: rows.map((r) => ({ endpoint: r.endpoint, type: r.kind, created_at: r.created_at })) }
    },
  },
  {
    method: 'POST', url: '/push_subscriptions/add', params: { req: ['endpoint'], opt: ['type', 'p256dh', 'auth', 'keys:any'] },
    handler: async (p, _i, h) => {
      const s = subscriptionOf(p)
      if (typeof s === 'string') return bad(s)
      if (unavailable(h, s.kind)) return { status: 503, body: { error: `${s.kind} is not configured on this server` } }
      if ((await h.store.accountId(p.account_id)) === undefined) return ok()
      await h.push.store.add(String(p.account_id), s, Date.now())
      return ok()
    },
  },
  {
    method: 'POST', url: '/push_subscriptions/remove', params: { req: ['endpoint'] }, handler: (p, _i, h) => withAccount(h, p, async () => {
      await h.push.store.remove(String(p.account_id), String(p.endpoint))
      return ok()
    }),
  },
]
