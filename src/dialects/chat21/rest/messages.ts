// Send over HTTP (§12.2 `POST /:app_id/messages`): routed like an MQTT outgoing message, answered once stored.
import type { FastifyInstance } from 'fastify'
import type { Flow } from '../observer/context.ts'
import { sendMessage } from '../observer/direct.ts'
import { validId } from '../topics.ts'
import { denied, userOf } from './auth.ts'

const MANDATORY = ['sender_fullname', 'recipient_id', 'recipient_fullname']
const PASSED = ['text', 'type', 'recipient_fullname', 'sender_fullname', 'attributes', 'metadata', 'timestamp']

export function messageRoutes(app: FastifyInstance, flow: Flow): void {
  app.post('/:appid/messages', async (req, reply) => {
    const u = userOf(req)
    if ((req.params as Record<string, string>).appid !== flow.app) return denied(reply)
    const body = (req.body ?? {}) as Record<string, any>
    const missing = MANDATORY.find((k) => body[k] === undefined || body[k] === null || body[k] === '')
    if (missing) return reply.code(405).type('text/plain').send(`${missing} is mandatory`)
    const sender = u.admin && typeof body.sender_id === 'string' ? body.sender_id : u.uid
    if (!validId(sender) || !validId(body.recipient_id)) return reply.code(405).type('text/plain').send('invalid sender or recipient id')
    const payload: Record<string, unknown> = { channel_type: body.channel_type ?? 'direct' }
    for (const k of PASSED) if (body[k] !== undefined) payload[k] = body[k]
    const msg = await sendMessage(flow, sender, body.recipient_id, payload, { trusted: u.admin })
    if (!msg) return reply.code(403).send({ success: false, err: 'not a member of this group' })
    return { success: true, message: msg }
  })
}
