// History and conversations (§12.2, §6.1 queries), archive and timeline deletion. Reads are bound to the
// token's own user unless it is an admin (§17.11: the original let any token read any user's conversations).
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { archiveConversation } from '../observer/archive.ts'
import type { Flow } from '../observer/context.ts'
import { validId } from '../topics.ts'
import { denied, userOf } from './auth.ts'

type P = Record<string, string>

export function conversationRoutes(app: FastifyInstance, flow: Flow): void {
  const owner = (req: FastifyRequest) => {
    const u = userOf(req)
    const p = req.params as P
    return u.appId === p.appid && (u.admin || u.uid === p.userid)
  }
  const list = (archived: boolean) => async (req: FastifyRequest, reply: any) => {
    if (!owner(req)) return denied(reply)
    const p = req.params as P
    return { success: true, result: await flow.store.conversations(p.userid, p.appid, archived) }
  }
  const detail = (archived: boolean) => async (req: FastifyRequest, reply: any) => {
    if (!owner(req)) return denied(reply)
    const p = req.params as P
    return { success: true, result: await flow.store.conversation(p.userid, p.appid, p.cw, archived) }
  }

  app.get('/:appid/:userid/conversations', list(false))
  app.get('/:appid/:userid/conversations/archived', list(true))
  app.get('/:appid/:userid/archived_conversations', list(true))
  app.get('/:appid/:userid/conversations/:cw', detail(false))
  app.get('/:appid/:userid/archived_conversations/:cw', detail(true))
  app.get('/:appid/:userid/conversations/:cw/messages', async (req, reply) => {
    if (!owner(req)) return denied(reply)
    const p = req.params as P
    return { success: true, result: await flow.store.messages(p.userid, p.appid, p.cw) }
  })

  // archive: an admin may archive for another user (§12.2); answers 201 as the original
  const archive = async (req: FastifyRequest, reply: any) => {
    const u = userOf(req)
    const p = req.params as P
    const body = (req.body ?? {}) as Record<string, unknown>
    const me = u.admin && typeof body.user_id === 'string' ? body.user_id : u.uid
    if (p.appid !== flow.app) return denied(reply)
    if (!validId(me) || !validId(p.cw)) return reply.code(405).type('text/plain').send('invalid user or recipient id')
    await archiveConversation(flow, me, p.cw)
    return reply.code(201).send({ success: true })
  }
  app.delete('/:appid/conversations/:cw', archive)
  app.delete('/:appid/conversations/:cw/', archive)

  // delete a group's timelines: owner or admin only (the original did not check)
  const groupAdmin = async (req: FastifyRequest) => {
    const u = userOf(req)
    if (u.admin) return true
    const g = await flow.store.group((req.params as P).gid)
    return Boolean(g && g.owner === u.uid)
  }
  app.delete('/:appid/:gid/conversations/timelines', async (req, reply) => {
    if (!(await groupAdmin(req))) return denied(reply)
    await flow.store.deleteConversationsWith((req.params as P).appid, (req.params as P).gid)
    return { success: true }
  })
  app.delete('/:appid/:gid/messages/timelines', async (req, reply) => {
    if (!(await groupAdmin(req))) return denied(reply)
    await flow.store.deleteMessagesWith((req.params as P).appid, (req.params as P).gid)
    return { success: true }
  })
}
