// UWPX §3.3: the three actions, each answered with one reply frame. Node reuse per (device, account) and full
// replacement of the account set (§5.2, without the §5.3 #1 corruption); request_test_push is queued on ctx.push.
import type { Logger } from 'pino'
import type { Clock } from '../../core/clock.ts'
import { PushTargetError, type PushService } from '../../core/push/service.ts'
import { accountsReply, CHANNEL_URI, ERRORS, errorReply, okReply, parseRequest, type ReplyAccount, type Request } from './messages.ts'
import type { PushNodes } from './nodes.ts'
import type { NewAccount, PushStore } from './store.ts'
import { randomToken } from './tokens.ts'

/** §4.2: the test push body by the device's stored version ("2": JSON, anything else: `<test/>`) */
export function testPushBody(version: string | null): string {
  return version === '2' ? '{"action":"test_push","version":2}' : '<test/>'
}

export interface UwpxOptions {
  store: PushStore
  nodes: PushNodes
  /** the core push service: WNS delivery (§4) */
  push: PushService
  clock: Clock
  ttlMs: number
  log: Logger
}

// keys are sorted: every error reply, and only an error reply, starts so
const ERROR_PREFIX = Buffer.from('{"action":"response","error":')

type Handled = { reply: Buffer; action: string; status: 0 | 1 }

export class UwpxService {
  /** per device, the request in progress: one device's set_push_accounts never interleave in this process */
  private chains = new Map<string, Promise<unknown>>()

  constructor(private readonly o: UwpxOptions) {}

  /** One frame's bytes → the reply frame. Never throws: a fault is §3.4's internal error. */
  async handle(bytes: Buffer): Promise<Handled> {
    const parsed = parseRequest(bytes)
    if (!parsed.ok) return { reply: errorReply(parsed.error), action: 'invalid', status: 0 }
    const r = parsed.request
    try {
      const reply = await this.serial(r.device_id, () => this.act(r))
      return { reply, action: r.action, status: reply.subarray(0, ERROR_PREFIX.length).equals(ERROR_PREFIX) ? 0 : 1 }
    } catch (err) {
      this.o.log.error({ err, action: r.action }, 'push: UWPX request failed')
      return { reply: errorReply(ERRORS.internal), action: r.action, status: 0 }
    }
  }

  private serial<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.chains.get(key) ?? Promise.resolve()
    const next = prev.then(fn, fn)
    const tail = next.catch(() => {})
    this.chains.set(key, tail)
    void tail.then(() => { if (this.chains.get(key) === tail) this.chains.delete(key) })
    return next
  }

  private act(r: Request): Promise<Buffer> {
    switch (r.action) {
      case 'set_channel_uri': return this.setChannelUri(r.device_id, r.channel_uri)
      case 'set_push_accounts': return this.setPushAccounts(r.device_id, r.version, r.accounts.map((a) => a.account_id))
      case 'request_test_push': return this.requestTestPush(r.device_id)
    }
  }

  private expiry(now: number): number { return now + this.o.ttlMs }

  private async setChannelUri(deviceId: string, uri: string): Promise<Buffer> {
    if (!CHANNEL_URI.test(uri)) return errorReply(ERRORS.channelUri)
    const now = this.o.clock.now()
    await this.o.store.setChannelUri(deviceId, uri, now, this.expiry(now))
    return okReply()
  }

  private async setPushAccounts(deviceId: string, version: number, accountIds: string[]): Promise<Buffer> {
    const { store, nodes } = this.o
    let now = this.o.clock.now()
    if (!(await store.device(deviceId, now))) return errorReply(ERRORS.unknownDevice)
    const old = new Map((await store.accounts(deviceId)).map((a) => [a.account_id, a]))
    // §5.3 #5: an account listed twice is one account, answered the same at each place
    const wanted = [...new Set(accountIds)]
    const fresh = wanted.filter((id) => !old.has(id)).map((account_id): NewAccount => ({ account_id, node: randomToken(), secret: randomToken() }))
    const ready = await nodes.create(fresh.map((a) => a.node))
    const created = fresh.filter((_a, i) => ready[i] === true)
    const kept: NewAccount[] = wanted.filter((id) => old.has(id)).map((id) => old.get(id)!)
    now = this.o.clock.now()
    let stored: boolean
    try {
      stored = await store.replaceAccounts(deviceId, String(version), [...kept, ...created], now, this.expiry(now))
    } catch (err) {
      await this.removeNodes(created.map((a) => a.node))
      throw err
    }
    if (!stored) {
      await this.removeNodes(created.map((a) => a.node))
      return errorReply(ERRORS.unknownDevice)
    }
    const listed = new Set(wanted)
    await this.removeNodes([...old.values()].filter((a) => !listed.has(a.account_id)).map((a) => a.node))
    const byId = new Map<string, ReplyAccount>()
    for (const a of kept) byId.set(a.account_id, { account_id: a.account_id, node: a.node, secret: a.secret, success: true })
    fresh.forEach((a, i) => byId.set(a.account_id, { account_id: a.account_id, node: a.node, secret: a.secret, success: ready[i] === true }))
    return accountsReply(accountIds.map((id) => byId.get(id)!), nodes.bareJid)
  }

  /** nodes the XMPP side should drop; a failure there is logged, the registration stands */
  private async removeNodes(list: string[]): Promise<void> {
    if (list.length === 0) return
    await this.o.nodes.remove(list).catch((err) => this.o.log.warn({ err, nodes: list.length }, 'push: removing XMPP nodes failed'))
  }

  /**
   * §3.3 request_test_push: the §4.2 test body for the device's stored version, queued on the push service before
   * the reply, so status 1 here means "accepted for delivery", not yet "WNS answered 200" (the original waited for
   * WNS). Without WNS credentials, or for a channel the push service refuses, the §3.4 test-push error.
   */
  private async requestTestPush(deviceId: string): Promise<Buffer> {
    const device = await this.o.store.device(deviceId, this.o.clock.now())
    if (!device) return errorReply(ERRORS.unknownDevice)
    if (!this.o.push.enabled('wns')) return errorReply(ERRORS.testPush)
    try {
      await this.o.push.send({ provider: 'wns', channelUri: device.channel_uri }, { payload: testPushBody(device.version), wnsType: 'wns/raw' }, { dialect: 'push' })
    } catch (err) {
      if (!(err instanceof PushTargetError)) throw err
      this.o.log.warn({ err: err.message }, 'push: test push refused')
      return errorReply(ERRORS.testPush)
    }
    return okReply()
  }

  /** §12.2: WNS answered 404/410 for this channel: the devices registered with it are dropped, their nodes too. */
  async channelGone(channelUri: string): Promise<void> {
    await this.removeNodes(await this.o.store.dropChannel(channelUri))
  }

  /** Delete expired records and drop their nodes on the XMPP side. */
  async sweep(): Promise<number> {
    const gone = await this.o.store.sweep(this.o.clock.now())
    await this.removeNodes(gone)
    return gone.length
  }
}
