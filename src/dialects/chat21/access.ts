// JWT login on the broker (§1, §13.3): username `JWT`, the token as password; the token's scopes become the
// principal's grants. Write scopes on a user's own subtree grant only the client command topics (§3.1), so a
// client cannot publish into server topics such as `…/clientadded` or `…/groups/update` (§9, §17.8).
import type { Authenticator, Principal, Rule } from '../../core/access/types.ts'
import { globMatch } from '../../core/util/glob.ts'
import type { Tokens } from './jwt.ts'
import { validId } from './topics.ts'

/** The topics a chat21 client publishes (§3.1), MQTT filters with one level per `+`. */
const CLIENT_COMMANDS = [
  'apps/+/outgoing/users/+/messages/+/outgoing',
  'apps/+/users/+/messages/+/+/update',
  'apps/+/users/+/conversations/+/update',
  'apps/+/users/+/conversations/+/archive',
  'apps/+/users/+/presence/+',
]

interface Scope { permission: string; resource: string; routingKey: string }

function parseScope(s: string): Scope | null {
  const m = /^rabbitmq\.([a-z]+):([^/]*)\/([^/]*)(?:\/(.*))?$/.exec(s)
  if (!m) return null
  return { permission: m[1], resource: m[3], routingKey: m[4] ?? '*' }
}

/** Client command filters a `<literal levels>/*` write pattern covers, with its literal levels filled in. */
function commandsUnder(pattern: string): string[] {
  if (!pattern.endsWith('/*') || pattern.indexOf('*') !== pattern.length - 1) return []
  const fixed = pattern.slice(0, -2).split('/')
  const out: string[] = []
  for (const cmd of CLIENT_COMMANDS) {
    const levels = cmd.split('/')
    if (levels.length <= fixed.length) continue
    if (!fixed.every((f, i) => levels[i] === f || (levels[i] === '+' && validId(f)))) continue
    out.push([...fixed, ...levels.slice(fixed.length)].join('/'))
  }
  return out
}

/** RabbitMQ OAuth2 scopes (§13.3) as Herald rules on MQTT topics (`.` of a routing key is `/` of a topic). */
export function scopesToRules(scopes: unknown): Rule[] {
  const list = Array.isArray(scopes) ? scopes : typeof scopes === 'string' ? scopes.split(/\s+/) : []
  const rules: Rule[] = []
  for (const raw of list) {
    const s = typeof raw === 'string' ? parseScope(raw) : null
    if (!s || !globMatch(s.resource, 'amq.topic')) continue
    const pattern = s.routingKey.replace(/\./g, '/')
    if (s.permission === 'read') rules.push({ topic: pattern, access: 'read', syntax: 'glob' })
    else if (s.permission === 'write') {
      if (pattern === '*') rules.push({ topic: '*', access: 'write', syntax: 'glob' })
      else for (const topic of commandsUnder(pattern)) rules.push({ topic, access: 'write' })
    }
  }
  return rules
}

export async function principalFromToken(tokens: Tokens, token: string): Promise<Principal | null> {
  // Tokens.verify checks signature, expiry and audience for the REST API too (§13.3, §13.4)
  const claims = await tokens.verify(token)
  if (!claims || !validId(claims.sub)) return null
  const attrs: Record<string, string> = {}
  if (typeof claims.app_id === 'string') attrs.app_id = claims.app_id
  if (typeof claims.tiledesk_api_roles === 'string') attrs.roles = claims.tiledesk_api_roles
  return { kind: 'chat21', username: claims.sub, attrs, grants: scopesToRules(claims.scope) }
}

/**
 * Accepts username `JWT` (any case); other usernames are left to the next authenticator. An external broker's later
 * questions about `JWT` + client id (§15) are answered by the access layer, which remembers the principal its hook
 * login authenticated for that client id and never lets another principal take that id over (security hole 8).
 */
export function jwtAuthenticator(tokens: Tokens): Authenticator {
  return {
    name: 'chat21-jwt',
    claims: ['JWT'],
    async authenticate(c) {
      if (c.username?.toUpperCase() !== 'JWT') return undefined
      return principalFromToken(tokens, String(c.password ?? ''))
    },
    async lookup(username) {
      return username.toUpperCase() === 'JWT' ? null : undefined
    },
  }
}
