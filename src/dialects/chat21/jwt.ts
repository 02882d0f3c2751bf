// chat21 tokens (§13): HS256, no `kid` header, RabbitMQ OAuth2 scopes; verified at login and at the REST API.
import { randomUUID } from 'node:crypto'
import type { JWTPayload } from 'jose'

/** jose (~46 ES modules, ~7 MB of RSS in Node 20) loads at the first token, not at start (issue 11 item 7) */
let joseModule: Promise<typeof import('jose')> | undefined
const jose = () => (joseModule ??= import('jose'))

export interface Chat21Claims extends JWTPayload {
  sub: string
  scope?: string[] | string
  app_id?: string
  tiledesk_api_roles?: string
}

/** The resource server id RabbitMQ's OAuth2 backend requires in `aud` (§13.3). */
export const RESOURCE_SERVER_ID = 'rabbitmq'

/** §13.3: an `aud` claim, when present, must name the resource server; a token without one is taken (as before). */
export function audienceAllowed(aud: unknown): boolean {
  if (aud === undefined) return true
  if (typeof aud === 'string') return aud === RESOURCE_SERVER_ID
  return Array.isArray(aud) && aud.includes(RESOURCE_SERVER_ID)
}

export class Tokens {
  private key: Uint8Array
  constructor(secret: string, private appId: string, private expirySeconds: number) {
    this.key = new TextEncoder().encode(secret)
  }

  /** The verified claims, or null (bad signature, expired, no subject, not for `rabbitmq`); MQTT and REST alike. */
  async verify(token: string): Promise<Chat21Claims | null> {
    try {
      const { jwtVerify } = await jose()
      const { payload } = await jwtVerify(token, this.key, { algorithms: ['HS256'] })
      if (typeof payload.sub !== 'string' || payload.sub === '') return null
      if (!audienceAllowed(payload.aud)) return null
      return payload as Chat21Claims
    } catch {
      return null
    }
  }

  /** A user token with the same claims as the production issuer (§13.1, §13.2). */
  async issue(userId: string, o: { admin?: boolean; observer?: boolean } = {}): Promise<string> {
    const app = this.appId
    const scope = o.observer
      ? ['rabbitmq.read:*/*/*', 'rabbitmq.write:*/*/*', 'rabbitmq.configure:*/*/*']
      : [
          `rabbitmq.read:*/*/apps.${app}.users.${userId}.*`,
          `rabbitmq.write:*/*/apps.${app}.users.${userId}.*`,
          `rabbitmq.write:*/*/apps.${app}.outgoing.users.${userId}.*`,
          'rabbitmq.configure:*/*/*',
        ]
    const { SignJWT } = await jose()
    return new SignJWT({
      scope, client_id: userId, cid: userId, azp: userId, user_id: userId, app_id: app,
      aud: ['rabbitmq', userId], kid: 'tiledesk-key', tiledesk_api_roles: o.admin ? 'admin' : 'user',
    })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setJti(randomUUID())
      .setSubject(userId)
      .setIssuedAt()
      .setExpirationTime(Math.floor(Date.now() / 1000) + this.expirySeconds)
      .sign(this.key)
  }
}
