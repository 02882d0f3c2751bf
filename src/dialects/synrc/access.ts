// SYNRC logins (§1.4, §8.1; issue 12 "Sessions"): username `api`; a `reg_…` client with an empty password may only
// register; an `emqttd_…` device logs in with its token as password; a verified client certificate whose CN is a
// registered phone logs a device in without one (the 2023 mutual-TLS mode). `sys_…` clients are service accounts.
import type { Authenticator, Principal, Rule } from '../../core/access/types.ts'
import type { AuthStore } from './store/auth.ts'
import type { RosterStore } from './store/rosters.ts'
import { rosterIdOf } from './store/rosters.ts'
import { clientKind, rewriteEvents } from './topics.ts'

export const KIND = 'synrc'
export const LOGIN_NAME = 'api'

/** requests on events/… (the rewrite makes the client id the sender's own); replies only on its own actions topic */
export const rules: Rule[] = [
  { kind: KIND, topic: 'events/#', access: 'write' },
  { kind: KIND, topic: 'actions/+/+/%c', access: 'read' },
]

export const rewrite = (p: Principal, topic: string): string => rewriteEvents(topic, p.clientId ?? '')

const registering = (clientId: string): Principal => ({ kind: KIND, username: clientId, attrs: { role: 'reg' } })
const device = (phone: string): Principal => ({ kind: KIND, username: phone, attrs: { role: 'device', phone, roster: rosterIdOf(phone) } })

export function synrcAuthenticator(auth: AuthStore, rosters: RosterStore): Authenticator {
  return {
    name: 'synrc',
    claims: [LOGIN_NAME],
    async authenticate(c) {
      if (c.username !== LOGIN_NAME) return undefined
      const password = c.password === undefined ? '' : c.password.toString()
      const kind = clientKind(c.clientId)
      if (kind === 'reg') return password === '' ? registering(c.clientId) : null
      if (kind !== 'device' || password === '') return null
      const row = await auth.byToken(password)
      return row && row.client_id === c.clientId ? device(row.phone) : null
    },
    async lookup(username, clientId) {
      if (username !== LOGIN_NAME || !clientId) return undefined
      const kind = clientKind(clientId)
      if (kind === 'reg') return registering(clientId)
      const row = kind === 'device' ? await auth.byClient(clientId) : undefined
      return row?.token ? device(row.phone) : null
    },
    async certificate(cn, clientId) {
      // a phone's certificate logs in that phone's devices only (`emqttd_<phone>_…`), never another phone's client id
      if (!clientId || clientKind(clientId) !== 'device' || !clientId.startsWith(`emqttd_${cn}_`)) return undefined
      return (await rosters.byPhone(cn)).length > 0 ? device(cn) : undefined
    },
  }
}

