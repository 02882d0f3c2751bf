// heartsms §3 and §13 fix: the original's login had no limit, though its answer holds the account's only
// credential (account_id), and each try cost 100 000 PBKDF2 rounds. Herald counts failed logins per username and
// per client address and refuses more for a window, and runs only a few key derivations (login, signup) at once.
import { createHash, randomBytes } from 'node:crypto'
import { isIPv4, isIPv6 } from 'node:net'
import { FailureLimiter, Gate } from '../../core/access/limiter.ts'
import type { Result } from './routes/common.ts'

export interface LoginLimitOptions {
  /** failed logins per username within the window; 0: no limit */
  failLimit: number
  /** failed logins per client address (IPv6: per /64) within the window; 0: no limit */
  failLimitPerAddress: number
  failWindowMs: number
  /** PBKDF2 derivations at once */
  kdfConcurrency: number
  /** derivations waiting for their turn; beyond, the request is answered 503 at once */
  kdfQueue: number
}

export type Derive = (password: string, salt1: string) => Promise<string>

export const BUSY: typeof Gate.BUSY = Gate.BUSY

/** The address a limit counts: IPv4 as is (also IPv4-mapped), IPv6 by its /64, what one host usually holds. */
export function addressKey(ip: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip)
  if (mapped) return mapped[1]
  const bare = ip.split('%')[0] // a link-local peer comes with its zone (fe80::1%eth0)
  if (isIPv4(bare) || !isIPv6(bare)) return ip
  const [head, tail = ''] = new URL(`http://[${bare}]/`).hostname.slice(1, -1).split('::')
  const h = head ? head.split(':') : [], t = tail ? tail.split(':') : []
  const groups = [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t]
  return `${groups.slice(0, 4).join(':')}::/64`
}

// usernames are as long as a body allows: the limiter keeps a digest, not the name
const userKey = (username: string) => createHash('sha256').update(username).digest('base64')

export class LoginLimits {
  private byUser: FailureLimiter | undefined
  private byAddress: FailureLimiter | undefined
  private gate: Gate
  /** an unknown username is derived against this salt, so that it costs what a known one does */
  readonly dummySalt = randomBytes(64).toString('hex')

  constructor(o: LoginLimitOptions, private kdf: Derive) {
    const limiter = (limit: number) => (limit > 0 ? new FailureLimiter({ limit, windowMs: o.failWindowMs }) : undefined)
    this.byUser = limiter(o.failLimit)
    this.byAddress = limiter(o.failLimitPerAddress)
    this.gate = new Gate(Math.max(1, o.kdfConcurrency), o.kdfQueue)
  }

  /** The 429 answer while the username or the address has used up its failures, else undefined. */
  refused(username: string, ip: string): Result | undefined {
    const user = userKey(username), address = addressKey(ip)
    const ms = Math.max(
      this.byUser?.blocked(user) ? this.byUser.retryAfterMs(user) : 0,
      this.byAddress?.blocked(address) ? this.byAddress.retryAfterMs(address) : 0,
    )
    if (ms === 0) return undefined
    return {
      status: 429, body: { error: 'too many failed logins, try again later' },
      headers: { 'retry-after': String(Math.max(1, Math.ceil(ms / 1000))) },
    }
  }

  failed(username: string, ip: string): void {
    this.byUser?.fail(userKey(username))
    this.byAddress?.fail(addressKey(ip))
  }

  /** the owner's success forgets the username's failures; the address keeps its count (one could own an account) */
  succeeded(username: string): void {
    this.byUser?.clear(userKey(username))
  }

  /** The PBKDF2 hash, or BUSY when too many derivations are already waiting. */
  derive(password: string, salt1: string): Promise<string | typeof BUSY> {
    return this.gate.run(() => this.kdf(password, salt1))
  }
}

export const busy = (): Result => ({ status: 503, body: { error: 'server busy, try again later' }, headers: { 'retry-after': '1' } })
