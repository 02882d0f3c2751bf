// Push instances (§12.2 `POST /:app_id/:user_id/instances/:instance_id`): a device registers its push token;
// the token's subject and app must be the path's (§12.1).
import type { FastifyInstance } from 'fastify'
import type { Flow } from '../observer/context.ts'
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
