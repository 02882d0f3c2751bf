// Send over HTTP (§12.2 `POST /:app_id/messages` and `/messages/sync`): routed like an MQTT outgoing message,
// answered once stored. The original's sync variant logged in over MQTT as the caller and answered with the
// first copy added to the caller's inbox; Herald routes in process and answers with that copy as published.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { Flow } from '../observer/context.ts'
import { type Routed, sendMessage } from '../observer/direct.ts'
import type { Doc } from '../store.ts'
import { validId } from '../topics.ts'
import { denied, userOf } from './auth.ts'

const MANDATORY = ['sender_fullname', 'recipient_id', 'recipient_fullname']
const PASSED = ['text', 'type', 'recipient_fullname', 'sender_fullname', 'attributes', 'metadata', 'timestamp']

interface Send { sender: string; recipient: string; payload: Doc; trusted: boolean }

/** Validate and authorize a send; on refusal the reply is sent and null returned. */
function parseSend(flow: Flow, req: FastifyRequest, reply: FastifyReply): Send | null {
  const u = userOf(req)
  if ((req.params as Record<string, string>).appid !== flow.app) { denied(reply); return null }
  const body = (req.body ?? {}) as Record<string, any>
  const missing = MANDATORY.find((k) => body[k] === undefined || body[k] === null || body[k] === '')
  if (missing) { reply.code(405).type('text/plain').send(`${missing} is mandatory`); return null }
  const sender = u.admin && typeof body.sender_id === 'string' ? body.sender_id : u.uid
  if (!validId(sender) || !validId(body.recipient_id)) { reply.code(405).type('text/plain').send('invalid sender or recipient id'); return null }
  const payload: Doc = { channel_type: body.channel_type ?? 'direct' }
  for (const k of PASSED) if (body[k] !== undefined) payload[k] = body[k]
  return { sender, recipient: body.recipient_id, payload, trusted: u.admin }
}

const notMember = (reply: FastifyReply) => reply.code(403).send({ success: false, err: 'not a member of this group' })

export function messageRoutes(app: FastifyInstance, flow: Flow, o: { syncTimeoutMs: number }): void {
  app.post('/:appid/messages', async (req, reply) => {
    const s = parseSend(flow, req, reply)
    if (!s) return reply
    const routed = await sendMessage(flow, s.sender, s.recipient, s.payload, { trusted: s.trusted })
    if (!routed) return notMember(reply)
    return { success: true }
  })

  // `mqtt_endpoint` and `chatapi_endpoint` (the original's own MQTT login) are accepted and ignored
  app.post('/:appid/messages/sync', async (req, reply) => {
    const s = parseSend(flow, req, reply)
    if (!s) return reply
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<'timeout'>((resolve) => { timer = setTimeout(() => resolve('timeout'), o.syncTimeoutMs) })
    const routed: Routed | null | 'timeout' = await Promise.race([
      sendMessage(flow, s.sender, s.recipient, s.payload, { trusted: s.trusted }), timeout,
    ]).finally(() => clearTimeout(timer))
    if (routed === 'timeout') {
      return reply.code(504).send({ success: false, err: `the sender's copy was not routed within ${o.syncTimeoutMs} ms; the message may still be delivered` })
    }
    if (!routed) return notMember(reply)
    // direct: the status-100 copy; group: the sender's member copy (none when attributes.hiddenFor is the sender)
    const mine = routed.copies.find((c) => c.inbox === s.sender)
    if (!mine) return reply.code(504).send({ success: false, err: "the message was routed, but no copy reaches the sender's inbox" })
    return { success: true, message: mine.msg }
  })
}
