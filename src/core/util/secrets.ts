// Passwords and keys an operator may set: the configured one, else a fixed one where the mode allows it, else a
// random one for this run only (announced once by the caller's `onRandom`, when the operator needs to know it).
import { randomBytes } from 'node:crypto'

export interface SecretChoice {
  configured: string
  /** the well-known value of development or test mode; undefined outside it */
  fixed?: string
  /** random bytes (hex-encoded, so twice as many characters) */
  bytes: number
  onRandom?: (secret: string) => void
}

export function secretOrRandom(o: SecretChoice): string {
  if (o.configured) return o.configured
  if (o.fixed !== undefined) return o.fixed
  const secret = randomBytes(o.bytes).toString('hex')
  o.onRandom?.(secret)
  return secret
}
