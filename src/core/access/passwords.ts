// Password hashing for Herald's own accounts: scrypt with a per-password salt, self-describing format.
import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto'

const N = 16384, R = 8, P = 1, KEYLEN = 32

function scryptAsync(password: string, salt: Buffer, n: number, r: number, p: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password, salt, KEYLEN, { N: n, r, p, maxmem: 256 * n * r }, (err, key) => (err ? reject(err) : resolve(key)))
  })
}

/** `scrypt$N$r$p$<salt b64>$<hash b64>` */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16)
  const key = await scryptAsync(password, salt, N, R, P)
  return ['scrypt', N, R, P, salt.toString('base64'), key.toString('base64')].join('$')
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parts = stored.split('$')
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false
  const [n, r, p] = parts.slice(1, 4).map(Number)
  const expected = Buffer.from(parts[5], 'base64')
  const key = await scryptAsync(password, Buffer.from(parts[4], 'base64'), n, r, p)
  return key.length === expected.length && timingSafeEqual(key, expected)
}

/** Constant-time comparison of two secrets given as strings. */
export function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a), y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}
