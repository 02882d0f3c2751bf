// Token issuance (§13.1, issue item 4): a Herald superuser account (HTTP Basic, or its client certificate over HTTPS,
// issue 13 §3) or a chat21 admin token asks for a user's chat21 token, as Tiledesk's `createCustomToken` answers it:
// `{userid, fullname, firstname, lastname, token}`.
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { AccessRegistry } from '../../../core/access/access.ts'
import type { Tokens } from '../jwt.ts'
import { validId } from '../topics.ts'
import { tokenOf } from './auth.ts'

async function allowed(req: FastifyRequest, access: AccessRegistry, tokens: Tokens): Promise<boolean | 'unavailable'> {
  const h = req.headers.authorization ?? ''
  const basic = /^Basic\s+(.+)$/i.exec(h)
  if (basic) {
    const text = Buffer.from(basic[1], 'base64').toString('utf8')
    const i = text.indexOf(':')
    if (i < 0) return false
    const r = await access.authenticate({ username: text.slice(0, i), password: text.slice(i + 1), clientId: '', ip: req.ip })
    // the directory behind the account is down: a 503 the caller may retry, not a wrong password
    if (!r.ok && r.reason === 'unavailable') return 'unavailable'
    return r.ok && r.principal.superuser === true
  }
  const token = tokenOf(req)
  // no credentials in the request, over HTTPS: a verified client certificate whose name is a Herald superuser
  if (!token && req.tlsIdentity) {
    const r = await access.authenticate({ certCN: req.tlsIdentity, clientId: '', ip: req.ip })
    return r.ok && r.principal.superuser === true
  }
  const claims = token ? await tokens.verify(token) : null
  return claims?.tiledesk_api_roles === 'admin'
}

export function tokenRoutes(app: FastifyInstance, access: AccessRegistry, tokens: Tokens): void {
  app.post('/auth/createCustomToken', async (req, reply) => {
    const ok = await allowed(req, access, tokens)
    if (ok === 'unavailable') return reply.code(503).send({ success: false, msg: 'Service Unavailable.' })
    if (!ok) return reply.code(401).send({ success: false, msg: 'Unauthorized.' })
    const b = (req.body ?? {}) as Record<string, unknown>
    const userid = b.userid ?? b.user_id
    if (!validId(userid)) return reply.code(400).send({ success: false, err: 'userid is mandatory (no . / + # *)' })
    const str = (v: unknown) => (typeof v === 'string' ? v : '')
    const token = await tokens.issue(userid, { admin: b.admin === true })
    return { userid, fullname: str(b.fullname) || userid, firstname: str(b.firstname), lastname: str(b.lastname), token }
  })
}
