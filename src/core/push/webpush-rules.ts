// What Web Push allows and the server's VAPID keys (RFC 8291, 8292), without the web-push package: the dispatcher
// checks targets and makes the key pair long before (or without) any send, and web-push with undici costs ~15 MB
// resident to load (webpush.ts, loaded at the first send).
import { createECDH } from 'node:crypto'

export interface VapidKeys { publicKey: string; privateKey: string }

/** A P-256 pair as web-push's generateVAPIDKeys makes it: base64url of the 65-byte uncompressed point and the 32-byte scalar. */
export function generateVapidKeys(): VapidKeys {
  const ecdh = createECDH('prime256v1')
  ecdh.generateKeys()
  const padded = (b: Buffer, n: number) => (b.length < n ? Buffer.concat([Buffer.alloc(n - b.length), b]) : b)
  return { publicKey: padded(ecdh.getPublicKey(), 65).toString('base64url'), privateKey: padded(ecdh.getPrivateKey(), 32).toString('base64url') }
}

/** RFC 8291 §4: one aes128gcm record of at most 4096 bytes; header 86 + tag 16 + padding delimiter 1 */
export const WEBPUSH_MAX_PLAINTEXT = 4096 - 86 - 16 - 1
/** without encryption a push service still takes 4096 bytes (RFC 8030 §7.2) */
export const UNENCRYPTED_MAX = 4096

const b64url = /^[A-Za-z0-9_-]+={0,2}$/

/** A subscription's keys are what RFC 8291 needs: a P-256 point and 16 bytes of auth secret. */
export function webPushKeysProblem(p256dh: string, auth: string): string | undefined {
  if (!b64url.test(p256dh) || Buffer.from(p256dh, 'base64url').length !== 65 || Buffer.from(p256dh, 'base64url')[0] !== 4) return 'p256dh is not a base64url uncompressed P-256 point'
  if (!b64url.test(auth) || Buffer.from(auth, 'base64url').length !== 16) return 'auth is not 16 bytes of base64url'
  return undefined
}
