// Push instances (§12.2 `POST /:app_id/:user_id/instances/:instance_id`): a device registers its push token;
// the token's subject and app must be the path's (§12.1). `POST /:app_id/notify` (admin only) pushes a
// webhook-shaped message-delivered event's message to the instances of its `delivered_to` user (issue 14 item 5).
import type { FastifyInstance } from 'fastify'
import type { Flow } from '../observer/context.ts'
import type { Doc } from '../store.ts'
import { denied, userOf } from './auth.ts'

const FIELDS = ['device_model', 'language', 'platform', 'platform_version']

export function instanceRoutes(app: FastifyInstance, flow: Flow): void {
  app.post('/:appid/:userid/instances/:instance', async (req, reply) => {
    const u = userOf(req)
    const p = req.params as Record<string, string>
    if (u.uid !== p.userid || u.appId !== p.appid) return denied(reply)
    const body = (req.body ?? {}) as Record<string, unknown>
    const doc: Record<string, unknown> = { app_id: p.appid, user_id: p.userid, instance_id: p.instance }
    for (const k of FIELDS) if (body[k] !== undefined) doc[k] = body[k]
    await flow.store.saveInstance(doc as { app_id: string; user_id: string; instance_id: string })
    return { success: true }
  })
}

export function notifyRoutes(app: FastifyInstance, flow: Flow): void {
  app.post('/:appid/notify', async (req, reply) => {
    const u = userOf(req)
    if (!u.admin) return denied(reply)
    const b = (req.body ?? {}) as Record<string, unknown>
    const data = b.data && typeof b.data === 'object' && !Array.isArray(b.data) ? b.data as Doc : undefined
    const to = typeof b.delivered_to === 'string' && b.delivered_to !== '' ? b.delivered_to : typeof data?.recipient === 'string' ? data.recipient : ''
    if (!data || !to) return reply.code(400).send({ success: false, err: 'data (the message) and delivered_to are mandatory' })
    if (!flow.push?.active) return reply.code(503).send({ success: false, err: 'push is not configured (FCM)' })
    const sent = await flow.push.notify(to, data)
    return { success: true, sent }
  })
}
