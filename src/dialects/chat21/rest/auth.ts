// chat21-http-server authentication (§12.1): the raw token in `Authorization` (a `JWT `/`Bearer ` prefix is
// tolerated) or in the query (`jwt`, `JWT`, `token`); failure is 403 `{"success":false,"msg":"Unauthorized."}`.
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { Tokens } from '../jwt.ts'
import { validId } from '../topics.ts'

export interface RestUser { uid: string; appId: string; admin: boolean }

const users = new WeakMap<FastifyRequest, RestUser>()

export function tokenOf(req: FastifyRequest): string | undefined {
  const h = req.headers.authorization
  if (typeof h === 'string' && h.trim() !== '') return h.trim().replace(/^(JWT|Bearer)\s+/i, '')
  const q = (req.query ?? {}) as Record<string, unknown>
  for (const k of ['jwt', 'JWT', 'token']) if (typeof q[k] === 'string' && q[k] !== '') return q[k] as string
  return undefined
}

export function authHook(tokens: Tokens) {
  return async (req: FastifyRequest, reply: FastifyReply) => {
    const token = tokenOf(req)
    // the MQTT login's own check (signature, expiry, `aud` §13.3), so a token works on both paths or on neither
    const claims = token ? await tokens.verify(token) : null
    if (!claims || !validId(claims.sub)) return reply.code(403).send({ success: false, msg: 'Unauthorized.' })
    users.set(req, { uid: claims.sub, appId: String(claims.app_id ?? ''), admin: claims.tiledesk_api_roles === 'admin' })
  }
}

export function userOf(req: FastifyRequest): RestUser {
  const u = users.get(req)
  if (!u) throw new Error('chat21 REST route without authentication')
  return u
}

/** 401 with an empty body, as the original answers an app or user mismatch (§12.1). */
export function denied(reply: FastifyReply): FastifyReply {
  return reply.code(401).send('')
}
