// The access layer: who a client is (authenticate / lookup) and what it may do (authorize).
// The embedded broker's hooks and every external-broker hook endpoint go through this one object.
import { aclUsernames } from './acl-file.ts'
import { ClientIds, ownerOf } from './client-ids.ts'
import { sameSecret } from './passwords.ts'
import { decide } from './rules.ts'
import { MemoryAccessState, type AccessState } from './state.ts'
import { filterCovered, topicMatches } from './topics.ts'
import type { Action, AuthResult, Authenticator, Credentials, Principal, Rule } from './types.ts'

export interface AccessOptions {
  allowAnonymous?: boolean
  /** anonymous clients may do everything when no static rules were loaded (Mosquitto's behaviour) */
  failLimit?: number
  failWindowMs?: number
  /** how long a client id stays held by its principal after its last connection (security hole 2) */
  clientIdHoldMs?: number
  /** filters inside dialect-owned spaces that ACL-file rules and open anonymous access may still grant (the
   *  operator's explicit word); by default they grant nothing there */
  grantOwned?: string[]
  onFailure?: (reason: string) => void
  /** the shared state could not be updated (a database error): logged, the connection goes on */
  onStateError?: (err: unknown, what: string) => void
  /** where failed logins, client-id holders and hook logins are kept: memory (one node) or the store (several) */
  state?: AccessState
}

/** What a dialect sees of the access layer: it contributes, it does not rule (issue 9 §3). */
export interface AccessRegistry {
  /** answers for this dialect's accounts, on the listeners bound to the dialect */
  addAuthenticator(a: Authenticator): void
  addRules(rules: Rule[]): void
  addServiceAccount(username: string, password: string, kind?: string): void
  /** topic filters this dialect owns: nothing but its own rules (and superusers) grants inside them */
  ownTopics(filters: string[]): void
  /**
   * A client's PUBLISH to a topic under `filter` goes to `fn`'s topic instead (SYNRC's n2o hook writes the real
   * client id into `events/…`). The embedded broker rewrites the packet; an external broker cannot, so there a
   * PUBLISH is allowed only where the rewrite would leave the topic as it is.
   */
  rewritePublish(filter: string, fn: PublishRewrite): void
  isReserved(username: string): boolean
  /** a login over this dialect's HTTP API (e.g. chat21's admin Basic auth) */
  authenticate(c: Credentials): Promise<AuthResult>
}

interface ServiceAccount { username: string; password: string; kind: string }

/** the topic a client's PUBLISH really goes to; `p.clientId` is the connection's own */
export type PublishRewrite = (p: Principal, topic: string) => string

const SESSION_CACHE_LIMIT = 1024
/** how long an external broker's login vouches for later ACL questions about that client */
const EXTERNAL_TTL_MS = 24 * 3600_000

/** A connection's view of the access layer, with its own decision cache. */
export class AccessSession {
  // one map per action, keyed by the topic string itself: a fan-out asks `read` for the same topic string
  // once per subscriber, and a concatenated key would be rebuilt and rehashed every time (bench/broker.ts)
  private cache: Record<Action, Map<string, boolean>> = { publish: new Map(), subscribe: new Map(), read: new Map() }
  constructor(private access: AccessControl, readonly principal: Principal) {}

  can(action: Action, topic: string): boolean {
    if (this.principal.superuser) return true
    const cache = this.cache[action]
    let ok = cache.get(topic)
    if (ok === undefined) {
      ok = this.access.authorize(this.principal, action, topic)
      if (cache.size >= SESSION_CACHE_LIMIT) cache.clear()
      cache.set(topic, ok)
    }
    return ok
  }
}

export class AccessControl {
  private rules: Rule[] = []
  private staticRules = 0
  private authenticators: Authenticator[] = []
  private services = new Map<string, ServiceAccount>()
  private aclUsers = new Set<string>()
  /** failed logins (per address on MQTT, per username on hook calls, whose address is the broker's), client-id
   *  holders (embedded and hook logins alike), principals hook logins vouched for */
  private state: AccessState
  /** this node's own connections by client id (live counts are per node; who holds an id is in `state`) */
  private local: ClientIds
  /** what the embedded broker tells and asks about its connections */
  readonly clientIds: {
    isLive(clientId: string, p: Principal): boolean
    ownerOfClient(clientId: string): string | undefined
    connected(clientId: string, p: Principal): void
    disconnected(clientId: string, p: Principal, clean: boolean): void
  }
  /** listener → the dialects bound to it (absent: every dialect) */
  private bindings = new Map<string, Set<string>>()
  private owned: { dialect: string; filter: string }[] = []
  private rewrites: { filter: string; fn: PublishRewrite }[] = []

  constructor(private opts: AccessOptions = {}) {
    this.state = opts.state ?? new MemoryAccessState({
      failLimit: opts.failLimit ?? 10, failWindowMs: opts.failWindowMs ?? 60_000,
      clientIdHoldMs: opts.clientIdHoldMs ?? EXTERNAL_TTL_MS, rememberMs: EXTERNAL_TTL_MS,
    })
    this.local = new ClientIds({ holdMs: opts.clientIdHoldMs ?? EXTERNAL_TTL_MS })
    const shared = (what: string, work: Promise<void>) => work.catch((err) => this.opts.onStateError?.(err, what))
    this.clientIds = {
      isLive: (clientId, p) => this.local.isLive(clientId, ownerOf(p)),
      ownerOfClient: (clientId) => this.local.ownerOfClient(clientId),
      connected: (clientId, p) => {
        this.local.connected(clientId, ownerOf(p))
        void shared('client connected', this.state.connected(clientId, ownerOf(p)))
      },
      disconnected: (clientId, p, clean) => {
        this.local.disconnected(clientId, ownerOf(p), clean)
        void shared('client disconnected', this.state.disconnected(clientId, ownerOf(p), clean))
      },
    }
  }

  /** A hook call about a client by its holder keeps the client id held. */
  touchClient(clientId: string | undefined, p: Principal): Promise<void> {
    return clientId ? this.state.touch(clientId, ownerOf(p)) : Promise.resolve()
  }

  /** A superuser account that Herald (or a dialect's backend) uses to publish. */
  addServiceAccount(username: string, password: string, kind = 'service'): void {
    this.services.set(username, { username, password, kind })
  }

  /** A name nobody may sign up with: a service account, or a username an authenticator claims (e.g. `JWT`). */
  isReserved(username: string): boolean {
    return this.services.has(username) || this.aclUsers.has(username) || this.claimant(username) !== undefined
  }

  addAuthenticator(a: Authenticator): void {
    this.authenticators.push(a)
  }

  /** Only these dialects' authenticators answer on this listener (`*` or no binding: all of them). */
  bindListener(listener: string, dialects: string[]): void {
    if (dialects.includes('*')) this.bindings.delete(listener)
    else this.bindings.set(listener, new Set(dialects))
  }

  private serves(listener: string | undefined, a: Authenticator): boolean {
    if (a.dialect === undefined || listener === undefined) return true
    const bound = this.bindings.get(listener)
    return !bound || bound.has(a.dialect)
  }

  /** The dialect that owns a topic (or, for `subscribe`, a whole filter), unless the operator opened it. */
  private isOwned = (action: Action, topic: string): boolean => {
    if (this.owned.length === 0) return false
    const inside = (f: string) => (action === 'subscribe' ? filterCovered(f, topic) : topicMatches(f, topic))
    return this.owned.some((o) => inside(o.filter)) && !(this.opts.grantOwned ?? []).some(inside)
  }

  /** The registry a dialect gets: what it adds is tagged with its name. */
  registry(dialect: string): AccessRegistry {
    return {
      addAuthenticator: (a) => this.addAuthenticator({ ...a, dialect }),
      addRules: (rules) => this.addRules(rules),
      addServiceAccount: (u, pw, kind) => this.addServiceAccount(u, pw, kind),
      ownTopics: (filters) => { for (const filter of filters) this.owned.push({ dialect, filter }) },
      rewritePublish: (filter, fn) => { this.rewrites.push({ filter, fn }) },
      isReserved: (u) => this.isReserved(u),
      authenticate: (c) => this.authenticate({ listener: `http:${dialect}`, ...c }),
    }
  }

  private claimant(username: string): Authenticator | undefined {
    const u = username.toLowerCase()
    return this.authenticators.find((a) => a.claims?.some((c) => c.toLowerCase() === u))
  }

  /**
   * The authenticators to ask about a username on a listener: only its claimant, if it has one (no account can
   * shadow it), and only those of the dialects bound to the listener.
   */
  private candidates(username: string, listener?: string): Authenticator[] {
    const owner = this.claimant(username)
    return (owner ? [owner] : this.authenticators).filter((a) => this.serves(listener, a))
  }

  /** Rules contributed by dialects (with `kind`) or loaded from an ACL file (`fromFile`). */
  addRules(rules: Rule[], fromFile = false): void {
    this.rules.push(...rules)
    if (fromFile) {
      this.staticRules += rules.length
      // security hole 5: an ACL file's user names cannot be signed up for by a dialect account
      for (const u of aclUsernames(rules)) this.aclUsers.add(u)
    }
  }

  session(principal: Principal): AccessSession {
    return new AccessSession(this, principal)
  }

  /** where a client's PUBLISH to `topic` goes (rewritePublish); superusers and Herald's own publishes are not rewritten */
  publishTopic(p: Principal, topic: string): string {
    if (p.superuser || this.rewrites.length === 0) return topic
    for (const r of this.rewrites) if (topicMatches(r.filter, topic)) return r.fn(p, topic)
    return topic
  }

  authorize(p: Principal, action: Action, topic: string): boolean {
    // a topic the embedded broker would rewrite is not the client's to publish as it is (external brokers ask here)
    if (action === 'publish' && this.rewrites.length > 0 && this.publishTopic(p, topic) !== topic) return false
    // open anonymous access (no ACL file, Mosquitto's behaviour) stops at the dialects' owned spaces
    if (p.kind === 'anonymous' && this.staticRules === 0) return !this.isOwned(action, topic)
    return decide(this.rules, p, action, topic, this.isOwned)
  }

  /** the failed-login window a login counts in: its username on hook calls, else its address */
  private limitKey(c: Credentials): string | undefined {
    if (c.via === 'hook') return c.username ? 'u:' + c.username : undefined
    return c.ip ? 'a:' + c.ip : undefined
  }

  private async fail(c: Credentials, reason: Extract<AuthResult, { ok: false }>['reason']): Promise<AuthResult> {
    this.opts.onFailure?.(reason)
    const key = this.limitKey(c)
    if (key && (reason === 'bad-credentials' || reason === 'not-authorized')) await this.state.fail(key)
    return { ok: false, reason }
  }

  async authenticate(c: Credentials): Promise<AuthResult> {
    const r = await this.check(c)
    // security holes 2 and 8: a client id another principal holds is refused (the holder is not disconnected)
    if (r.ok && c.clientId && !(await this.state.claim(c.clientId, ownerOf(r.principal), Boolean(r.principal.superuser)))) {
      return this.fail(c, 'client-id-taken')
    }
    return r
  }

  private async check(c: Credentials): Promise<AuthResult> {
    const key = this.limitKey(c)
    if (key && (await this.state.blocked(key))) return this.fail(c, 'rate-limited')
    const password = c.password === undefined ? undefined : c.password.toString()
    if (c.username === undefined || c.username === '') {
      if (c.certCN) return this.byCertificate(c)
      if (this.opts.allowAnonymous) return { ok: true, principal: { kind: 'anonymous', username: '', clientId: c.clientId, attrs: {} } }
      return this.fail(c, 'not-authorized')
    }
    const svc = this.services.get(c.username)
    if (svc) {
      if (password !== undefined && sameSecret(password, svc.password)) return { ok: true, principal: this.servicePrincipal(svc, c.clientId) }
      return this.fail(c, 'bad-credentials')
    }
    let unavailable = false
    for (const a of this.candidates(c.username, c.listener)) {
      const p = await a.authenticate({ ...c, password })
      if (p === undefined) continue
      // a directory that is down is no wrong password (not counted as a failure); a later authenticator may know the name
      if (p === 'unavailable') { unavailable = true; continue }
      if (p === null) return this.fail(c, 'bad-credentials')
      return { ok: true, principal: { ...p, clientId: c.clientId } }
    }
    return this.fail(c, unavailable ? 'unavailable' : 'bad-credentials')
  }

  /**
   * A verified certificate's name belongs to the dialects bound to its listener that know certificates; else it is
   * Herald's own certificate principal (ACL-file rules), a superuser when Herald's own account of that name is one
   * (issue 13 §3). A certificate name is never looked up as some dialect's username.
   */
  private async byCertificate(c: Credentials): Promise<AuthResult> {
    for (const a of this.authenticators) {
      if (!a.certificate || !this.serves(c.listener, a)) continue
      const p = await a.certificate(c.certCN!, c.clientId)
      if (p) return { ok: true, principal: { ...p, clientId: c.clientId } }
    }
    const principal: Principal = { kind: 'certificate', username: c.certCN!, clientId: c.clientId, attrs: {} }
    if (await this.heraldSuperuser(c.certCN!)) principal.superuser = true
    return { ok: true, principal }
  }

  /** Whether Herald's own account (`herald user`, the directory) of this name is a superuser; a directory down: no. */
  private async heraldSuperuser(username: string): Promise<boolean> {
    for (const a of this.authenticators) {
      if (a.dialect !== undefined || !a.lookup) continue
      const p = await a.lookup(username).catch(() => undefined)
      if (p) return p.superuser === true
      if (p === null) return false
    }
    return false
  }

  private servicePrincipal(svc: ServiceAccount, clientId?: string): Principal {
    return { kind: svc.kind, username: svc.username, clientId, superuser: true, attrs: {} }
  }

  /**
   * Remember a principal an external broker authenticated, for its later ACL questions by login name and client
   * id. `loginName` is what the broker will ask about (`JWT` for every chat21 client): a name an authenticator
   * claims stands for many principals, so it is remembered only with its client id, which authenticate() claimed.
   */
  async rememberExternal(loginName: string, p: Principal): Promise<void> {
    if (this.claimant(loginName) && !p.clientId) return
    await this.state.remember(loginName + '\u0000' + (p.clientId ?? ''), p)
  }

  /** The principal behind a username, as the external-broker ACL hooks need it (no password at hand). */
  async lookup(username: string, clientId?: string, listener = 'hook'): Promise<Principal | null> {
    const svc = this.services.get(username)
    if (svc) return this.servicePrincipal(svc, clientId)
    const shared = this.claimant(username) !== undefined
    const remembered = (await this.state.recall(username + '\u0000' + (clientId ?? '')))
      ?? (shared || !clientId ? undefined : await this.state.recall(username + '\u0000'))
    if (remembered) return remembered
    for (const a of this.candidates(username, listener)) {
      if (!a.lookup) continue
      const p = await a.lookup(username, clientId)
      if (p === undefined) continue
      return p === null ? null : { ...p, clientId }
    }
    return null
  }
}
