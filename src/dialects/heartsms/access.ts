// heartsms §3 and §6: broker credentials are username + account_id; a user may only subscribe to (and receive)
// `heartsms/<own account_id>`, never publish to it (§13.6 fix); `heart-sms-backend` may do everything.
import type { Logger } from 'pino'
import { sameSecret } from '../../core/access/passwords.ts'
import type { Authenticator, Principal, Rule } from '../../core/access/types.ts'
import { secretOrRandom } from '../../core/util/secrets.ts'
import type { HeartStore } from './store.ts'

export const SERVICE_USERNAME = 'heart-sms-backend'

export const rules: Rule[] = [{ kind: 'heartsms', topic: 'heartsms/{account_id}', access: 'read' }]

const principal = (username: string, accountId: string): Principal => ({ kind: 'heartsms', username, attrs: { account_id: accountId } })

export function authenticator(store: HeartStore): Authenticator {
  return {
    name: 'heartsms',
    async authenticate(c) {
      const a = await store.findAccount(c.username!)
      if (!a) return undefined
      return sameSecret(String(c.password ?? ''), a.session_id) ? principal(a.username, a.session_id) : null
    },
    // issue 13 §3: a verified client certificate whose name is a HeartSMS username is that account on MQTTS and
    // secure WebSocket (the stream), with no account_id as password
    async certificate(cn) {
      const a = await store.findAccount(cn)
      return a ? principal(a.username, a.session_id) : undefined
    },
    async lookup(username) {
      const a = await store.findAccount(username)
      return a ? principal(a.username, a.session_id) : undefined
    },
  }
}

/** heartsms §6.4: `testpassword` when NODE_ENV is dev or test; else configured; else random, printed once. */
export function servicePassword(nodeEnv: string, configured: string, log: Logger): string {
  if (nodeEnv === 'dev' || nodeEnv === 'test') return 'testpassword'
  return secretOrRandom({ configured, bytes: 64, onRandom: (pw) => log.warn(`heartsms: service account ${SERVICE_USERNAME} password for this run: ${pw}`) })
}
