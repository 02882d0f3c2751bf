// Who may use the admin API: a Herald superuser account (HTTP Basic), a token from `herald token create`, or the
// short-lived token the console exchanges its login for. 401 without valid credentials, 403 for an account that is
// not a superuser; failed attempts per address and requests per principal are limited (429 with Retry-After).
import { randomBytes } from 'node:crypto'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { FailureLimiter } from '../access/limiter.ts'
import type { UserStore } from '../store/users.ts'
import type { AdminTokenStore } from './tokens.ts'

export interface AdminPrincipal { name: string; via: 'basic' | 'token' | 'session' }

export interface AdminAuthOptions {
  users: UserStore
  tokens: AdminTokenStore
  failLimit: number
  failWindowMs: number
  /** requests per minute per principal */
  rateLimit: number
  sessionTtlMs: number
  now?: () => number
}

declare module 'fastify' {
  interface FastifyRequest {
    adminPrincipal?: AdminPrincipal
  }
}

type Outcome = { ok: true; principal: AdminPrincipal } | { ok: false; status: 401 | 403; error: string }

export class AdminAuth {
  private failures: FailureLimiter
  private windows = new Map<string, { start: number; count: number }>()
  private sessions = new Map<string, { name: string; expires: number }>()
  private now: () => number

  constructor(private o: AdminAuthOptions) {
    this.now = o.now ?? Date.now
    this.failures = new FailureLimiter({ limit: o.failLimit, windowMs: o.failWindowMs, now: this.now })
  }

  private async check(header: string | undefined): Promise<Outcome> {
    if (!header) return { ok: false, status: 401, error: 'the admin API needs a superuser login (HTTP Basic) or a bearer token' }
    const basic = /^Basic\s+(\S+)$/i.exec(header)
    if (basic) {
      const text = Buffer.from(basic[1], 'base64').toString('utf8')
      const colon = text.indexOf(':')
      if (colon < 0) return { ok: false, status: 401, error: 'malformed Basic credentials' }
      const name = text.slice(0, colon)
      const found = await this.o.users.verify(name, text.slice(colon + 1))
      if (!found) return { ok: false, status: 401, error: 'bad user name or password' }
      if (!found.superuser) return { ok: false, status: 403, error: `${name} is not a superuser` }
      return { ok: true, principal: { name, via: 'basic' } }
    }
    const bearer = /^Bearer\s+(\S+)$/i.exec(header)
    if (bearer) {
      const s = this.sessions.get(bearer[1])
      if (s && s.expires > this.now()) return { ok: true, principal: { name: s.name, via: 'session' } }
      if (s) this.sessions.delete(bearer[1])
      const name = await this.o.tokens.find(bearer[1])
      if (name !== undefined) return { ok: true, principal: { name: `token:${name}`, via: 'token' } }
      return { ok: false, status: 401, error: 'unknown or expired bearer token' }
    }
    return { ok: false, status: 401, error: 'the Authorization header is neither Basic nor Bearer' }
  }

  private tooMany(reply: FastifyReply, ms: number, error: string): FastifyReply {
    return reply.code(429).header('retry-after', String(Math.max(1, Math.ceil(ms / 1000)))).send({ error })
  }

  /** a preHandler for every admin route */
  readonly guard = async (req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> => {
    const ip = req.ip
    if (this.failures.blocked(ip)) return this.tooMany(reply, this.failures.retryAfterMs(ip), 'too many failed admin logins from this address')
    const r = await this.check(req.headers.authorization)
    if (!r.ok) {
      // a missing header is not a guess; a wrong one is
      if (req.headers.authorization) this.failures.fail(ip)
      // Bearer, not Basic: a Basic challenge would make the browser pop its own login dialog over the console's
      if (r.status === 401) reply.header('www-authenticate', 'Bearer realm="Herald admin"')
      return reply.code(r.status).send({ error: r.error })
    }
    const w = this.windows.get(r.principal.name)
    const t = this.now()
    if (!w || t - w.start >= 60_000) this.windows.set(r.principal.name, { start: t, count: 1 })
    else if (++w.count > this.o.rateLimit) return this.tooMany(reply, w.start + 60_000 - t, `more than ${this.o.rateLimit} admin requests a minute`)
    req.adminPrincipal = r.principal
    return undefined
  }

  /** a short-lived token for the console (it keeps this, never the password) */
  openSession(name: string): { token: string; expiresAt: string } {
    for (const [k, s] of this.sessions) if (s.expires <= this.now()) this.sessions.delete(k)
    const token = `hrls_${randomBytes(24).toString('base64url')}`
    const expires = this.now() + this.o.sessionTtlMs
    this.sessions.set(token, { name, expires })
    return { token, expiresAt: new Date(expires).toISOString() }
  }

  closeSession(header: string | undefined): boolean {
    const bearer = /^Bearer\s+(\S+)$/i.exec(header ?? '')
    return bearer ? this.sessions.delete(bearer[1]) : false
  }
}
