// An LDAP directory as one of Herald's own authenticators (issue 13 item 4): a search with the service bind finds
// the user's entry, a simple bind as its DN with the user's password proves the password (RFC 4513 §5.1.3).
// A directory that is down or slow refuses logins as "server unavailable" (CONNACK 3, HTTP 503) within the timeout.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { isIP } from 'node:net'
import type { ConnectionOptions } from 'node:tls'
import type { Client } from 'ldapts'
import { ConfigError, settingsOf, type Config } from '../../config.ts'
import { Gate } from '../access/limiter.ts'
import type { Authenticator, Principal } from '../access/types.ts'
import { BoundedMap } from '../util/bounded-map.ts'
import { ldapSettings } from './ldap-settings.ts'

export interface LdapLog {
  info(o: object, msg: string): void
  warn(o: object, msg: string): void
  debug(o: object, msg: string): void
}

export interface LdapOptions {
  url: string
  /** empty: search anonymously */
  bindDn: string
  bindPassword: string
  baseDn: string
  /** `{username}` is replaced by the escaped login name */
  userFilter: string
  /** matches an entry under baseDn for a superuser; `{dn}` and `{username}` are replaced, escaped */
  groupFilter?: string
  startTls?: boolean
  /** PEM text of the CA(s) that sign the directory's certificate; none: the system CAs */
  ca?: string
  /** longest a login waits for the directory, every operation together */
  timeoutMs: number
  cacheTtlMs: number
  negativeCacheTtlMs: number
  /** directory conversations at once; more wait their turn (within the timeout) */
  maxConcurrent?: number
  log?: LdapLog
  now?: () => number
}

/** What the directory says about a login (or, without a password, about a name). */
export type Verdict = { superuser: boolean } | 'refused' | 'missing' | 'unavailable'

const CACHE_ENTRIES = 10_000
/** after a failure the directory is not asked again for this long, then by one login at a time until it answers:
 *  the others are refused at once, and nothing piles up behind a hung directory */
const RETRY_MS = 1000
/** result codes that say the directory cannot answer now, not that the password is wrong (RFC 4511 §A.2) */
const SERVER_TROUBLE = new Set([3, 51, 52, 80])

/** ldapts, loaded at the first directory call: a Herald without LDAP never pays for it (issue 11 item 7) */
const ldapts = () => import('ldapts')

/** RFC 4515 §3: a value inside a filter, with `*`, `(`, `)`, `\` and NUL escaped as `\XX`. */
export function escapeFilterValue(v: string): string {
  return v.replace(/[*()\\\0]/g, (c) => '\\' + c.charCodeAt(0).toString(16).padStart(2, '0'))
}

function fill(template: string, values: Record<string, string>): string {
  return template.replace(/\{(username|dn)\}/g, (m, name: string) => (name in values ? escapeFilterValue(values[name]) : m))
}

class Abandoned extends Error {}

/** One login's conversation with the directory; abandoned when its deadline passes or the directory closes. */
class Call {
  client?: Client
  private abandoned = false
  private leave!: (err: Error) => void
  private gone = new Promise<never>((_resolve, reject) => { this.leave = reject })

  constructor() {
    this.gone.catch(() => {})
  }

  /**
   * One step, given up when the call is abandoned: ldapts never settles a connect whose socket it destroyed (an
   * unbind during a connect), and a step that never ends would hold its Gate slot for ever.
   */
  step<T>(op: () => Promise<T>): Promise<T> {
    this.check()
    return Promise.race([op(), this.gone])
  }

  /** a call abandoned while it waited for its Gate slot never connects */
  check(): void {
    if (this.abandoned) throw new Abandoned('the LDAP request was abandoned')
  }

  async abandon(): Promise<void> {
    this.abandoned = true
    this.leave(new Abandoned('the LDAP request was abandoned'))
    await this.client?.unbind().catch(() => {})
  }
}

export class LdapDirectory {
  /** a login's cache key is an HMAC of name and password under this process's own key: no password is kept */
  private key = randomBytes(32)
  private accepted = new BoundedMap<string, { mac: Buffer; superuser: boolean; until: number }>(CACHE_ENTRIES)
  private refused = new BoundedMap<string, number>(CACHE_ENTRIES)
  private missing = new BoundedMap<string, number>(CACHE_ENTRIES)
  /** names found without a password (hook lookups), for as long as an accepted login */
  private known = new BoundedMap<string, { superuser: boolean; until: number }>(CACHE_ENTRIES)
  private gate: Gate
  private calls = new Set<Call>()
  /** connections still being closed (an unbind is bounded by the operation timeout) */
  private closing = new Set<Promise<void>>()
  private closed = false
  private downSince?: number
  /** a login is finding out whether the directory that failed answers again */
  private probing = false
  private now: () => number
  private tls: ConnectionOptions

  constructor(private o: LdapOptions) {
    this.now = o.now ?? Date.now
    this.gate = new Gate(o.maxConcurrent ?? 16, 1024)
    const host = new URL(o.url).hostname.replace(/^\[|\]$/g, '')
    // StartTLS upgrades a socket that knows no host name: the certificate is checked against the URL's host
    this.tls = { ca: o.ca ? [o.ca] : undefined, host, servername: isIP(host) ? undefined : host }
  }

  private mac(username: string, password: string): Buffer {
    // JSON: no name and password pair reads as another (a NUL inside a name cannot shift the boundary)
    return createHmac('sha256', this.key).update(JSON.stringify([username, password])).digest()
  }

  /** Is this the password of this user? Answers from the short caches first, then from the directory. */
  async login(username: string, password: string): Promise<Verdict> {
    // an empty password would be an unauthenticated bind (RFC 4513 §5.1.2), which proves nothing
    if (password === '') return 'refused'
    const now = this.now()
    const mac = this.mac(username, password)
    const key = mac.toString('base64')
    const hit = this.accepted.get(username)
    if (hit && hit.until > now && timingSafeEqual(hit.mac, mac)) return { superuser: hit.superuser }
    if ((this.refused.get(key) ?? 0) > now) return 'refused'
    if ((this.missing.get(username) ?? 0) > now) return 'missing'
    const v = await this.ask((call) => this.conversation(call, username, password))
    const until = this.now() + (typeof v === 'object' ? this.o.cacheTtlMs : this.o.negativeCacheTtlMs)
    if (typeof v === 'object') {
      this.accepted.set(username, { mac, superuser: v.superuser, until })
      this.refused.delete(key)
    } else if (v === 'refused') {
      this.refused.set(key, until)
    } else if (v === 'missing') {
      this.missing.set(username, until)
      this.accepted.delete(username)
      this.known.delete(username)
    }
    return v
  }

  /** The entry behind a name, without its password (ACL questions from an external broker's hooks). */
  async find(username: string): Promise<Verdict> {
    const now = this.now()
    const hit = this.accepted.get(username) ?? this.known.get(username)
    if (hit && hit.until > now) return { superuser: hit.superuser }
    if ((this.missing.get(username) ?? 0) > now) return 'missing'
    const v = await this.ask((call) => this.conversation(call, username))
    if (typeof v === 'object') this.known.set(username, { superuser: v.superuser, until: this.now() + this.o.cacheTtlMs })
    else if (v === 'missing') this.missing.set(username, this.now() + this.o.negativeCacheTtlMs)
    return v
  }

  /** Every directory question runs under the deadline, and its connection is closed whatever happens. */
  private async ask(work: (call: Call) => Promise<Verdict>): Promise<Verdict> {
    if (this.closed) return 'unavailable'
    const probe = this.downSince !== undefined
    if (probe && (this.probing || this.now() - this.downSince! < RETRY_MS)) return 'unavailable'
    if (probe) this.probing = true
    const call = new Call()
    this.calls.add(call)
    let timer: NodeJS.Timeout | undefined
    const deadline = new Promise<'timeout'>((resolve) => { timer = setTimeout(() => resolve('timeout'), this.o.timeoutMs) })
    try {
      const r = await Promise.race([this.gate.run(() => work(call)), deadline])
      if (r === 'timeout') return this.unavailable(new Error(`no answer within ${this.o.timeoutMs} ms`))
      if (r === Gate.BUSY) return 'unavailable'
      if (this.downSince !== undefined) {
        this.downSince = undefined
        this.o.log?.info({ url: this.o.url }, 'LDAP directory answers again')
      }
      return r
    } catch (err) {
      return this.unavailable(err)
    } finally {
      if (probe) this.probing = false
      clearTimeout(timer)
      this.calls.delete(call)
      // the login does not wait for the unbind; close() does
      const closing = call.abandon()
      this.closing.add(closing)
      void closing.finally(() => this.closing.delete(closing))
    }
  }

  private unavailable(err: unknown): 'unavailable' {
    if (this.closed || err instanceof Abandoned) return 'unavailable'
    const first = this.downSince === undefined
    this.downSince = this.now()
    const o = { url: this.o.url, err: (err as Error).message }
    if (first) this.o.log?.warn(o, 'LDAP directory unavailable: logins it would decide are refused (server unavailable)')
    else this.o.log?.debug(o, 'LDAP directory still unavailable')
    return 'unavailable'
  }

  /** Service bind, user search, group search and (with a password) the user's own bind, on one connection. */
  private async conversation(call: Call, username: string, password?: string): Promise<Verdict> {
    call.check()
    const { Client, InvalidCredentialsError, ResultCodeError } = await ldapts()
    const client = call.client = new Client({
      // ldapts speaks TLS from the first byte whenever tlsOptions are given: only for ldaps://
      url: this.o.url, timeout: this.o.timeoutMs, connectTimeout: this.o.timeoutMs,
      tlsOptions: /^ldaps:/i.test(this.o.url) ? this.tls : undefined,
    })
    if (this.o.startTls) await call.step(() => client.startTLS({ ...this.tls }))
    if (this.o.bindDn) {
      try {
        await call.step(() => client.bind(this.o.bindDn, this.o.bindPassword))
      } catch (err) {
        if (err instanceof Abandoned) throw err
        // a refused service bind is Herald's configuration, never the user's password
        throw new Error(`service bind as ${this.o.bindDn} failed: ${(err as Error).message}`)
      }
    }
    const found = await call.step(() => client.search(this.o.baseDn, {
      scope: 'sub', filter: fill(this.o.userFilter, { username }), sizeLimit: 2, attributes: ['1.1'],
    }))
    const entries = found.searchEntries
    if (entries.length === 0) return 'missing'
    if (entries.length > 1) {
      this.o.log?.warn({ username }, 'LDAP user filter matches more than one entry: login refused')
      return 'refused'
    }
    const dn = entries[0].dn
    let superuser = false
    const groupFilter = this.o.groupFilter
    if (groupFilter) {
      const groups = await call.step(() => client.search(this.o.baseDn, {
        scope: 'sub', filter: fill(groupFilter, { username, dn }), sizeLimit: 1, attributes: ['1.1'],
      }))
      superuser = groups.searchEntries.length > 0
    }
    if (password === undefined) return { superuser }
    try {
      await call.step(() => client.bind(dn, password))
    } catch (err) {
      if (err instanceof InvalidCredentialsError) return 'refused'
      // e.g. a locked account (ppolicy): refused; a busy or failing server: unavailable
      if (err instanceof ResultCodeError && !SERVER_TROUBLE.has(err.code)) return 'refused'
      throw err
    }
    return { superuser }
  }

  /** Ends every conversation still open; later logins answer `unavailable`. */
  async close(): Promise<void> {
    this.closed = true
    await Promise.all([...[...this.calls].map((c) => c.abandon()), ...this.closing])
  }
}

function principal(username: string, superuser: boolean): Principal {
  // Herald's own kind: ACL-file rules apply to directory users as to `herald user` accounts (security hole 5)
  return { kind: 'user', username, superuser, attrs: {} }
}

/** Herald's own authenticator for directory users; names the directory does not know go to the next one. */
export function ldapAuthenticator(dir: LdapDirectory): Authenticator {
  return {
    name: 'ldap',
    async authenticate(c) {
      const password = String(c.password ?? '')
      // no bind without a password: the next authenticator may still know the name
      if (password === '') return undefined
      const v = await dir.login(c.username!, password)
      if (v === 'missing') return undefined
      if (v === 'refused') return null
      if (v === 'unavailable') return 'unavailable'
      return principal(c.username!, v.superuser)
    },
    async lookup(username) {
      const v = await dir.find(username)
      return typeof v === 'object' ? principal(username, v.superuser) : undefined
    },
  }
}

/** The directory the configuration names (`HERALD_LDAP_URL`), or none. */
export function ldapFromConfig(cfg: Config, log?: LdapLog): LdapDirectory | undefined {
  const s = settingsOf(cfg, ldapSettings, 'ldap')
  if (!s.url) return undefined
  const bad = (why: string) => new ConfigError(`HERALD_LDAP_*: ${why}`)
  if (!/^ldaps?:\/\/[^/]+\/?$/i.test(s.url)) throw bad(`ldap.url must be ldap://host[:port] or ldaps://host[:port], got ${JSON.stringify(s.url)}`)
  if (s.startTls && /^ldaps:/i.test(s.url)) throw bad('ldap.startTls is for ldap:// URLs; ldaps:// is TLS already')
  if (!s.baseDn) throw bad('ldap.baseDn is required with ldap.url')
  if (!s.userFilter.includes('{username}')) throw bad('ldap.userFilter must contain {username}')
  if (s.bindDn && !s.bindPassword) throw bad('ldap.bindDn needs ldap.bindPassword')
  let ca: string | undefined
  if (s.ca) {
    try { ca = readFileSync(s.ca, 'utf8') } catch (e) { throw bad(`cannot read ldap.ca ${s.ca}: ${(e as Error).message}`) }
  }
  return new LdapDirectory({
    url: s.url, bindDn: s.bindDn, bindPassword: s.bindPassword, baseDn: s.baseDn, userFilter: s.userFilter,
    groupFilter: s.groupFilter || undefined, startTls: s.startTls, ca, timeoutMs: s.timeoutMs,
    cacheTtlMs: s.cacheTtlMs, negativeCacheTtlMs: s.negativeCacheTtlMs, log,
  })
}
