// The end-to-end rig of the XMPP push tests (uwpx-push §7, §14 items 5–6): a real Prosody, Herald with the push
// dialect in client or component mode and its real push service, a local HTTPS WNS, a UWPX device registering over
// TLS, and users logging in to Prosody with @xmpp/client.
import { createHash } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { xml, type Client, type Element } from '@xmpp/client'
import type { PushService } from '../../src/core/push/service.ts'
import { xmppLogin } from '../../src/dialects/push/xmpp-client.ts'
import type { XmppSession } from '../../src/dialects/push/xmpp-link.ts'
import { createPush } from '../../src/dialects/push/index.ts'
import { pushSettings } from '../../src/dialects/push/settings.ts'
import { eventually, startTestHerald } from '../helpers.ts'
import { clientJson, RecordingNodes, UwpxClient, type PushHerald } from './client.ts'
import { FakeWns } from './fake-wns.ts'
import type { Prosody } from './prosody.ts'

export const SID = 'ms-app://s-1-15-2-1234567890-1234567890-1234567890-1234567890-1234567890-1234567890-1234567890'
export const PASSWORDS = { push: 'push-pw', alice: 'alice-pw', bob: 'bob-pw', carol: 'carol-pw' }
export const USERS = Object.entries(PASSWORDS) as [string, string][]

/** what the UWPX client computes (§0): sha256(device_id ‖ bareJid), lowercase hex */
export const accountIdOf = (deviceId: string, bareJid: string) => createHash('sha256').update(deviceId + bareJid).digest('hex')
export const channelUri = (token: string) => `https://db5p.notify.windows.com/?token=${token}`

export interface Registered { account_id: string; node: string; secret: string; success: boolean; push_bare_jid: string }

/** §7 steps 1–2 as the UWPX client does them: set_channel_uri, then set_push_accounts for these JIDs */
export async function register(h: PushHerald, deviceId: string, channelToken: string, jids: string[], version = 2): Promise<Registered[]> {
  const c = await UwpxClient.connect(h)
  try {
    const ok = await c.ask(clientJson({ version: 2, action: 'set_channel_uri', device_id: deviceId, channel_uri: channelUri(channelToken) }))
    if (!ok.includes('"status":1')) throw new Error(`set_channel_uri: ${ok}`)
    const reply = await c.ask(clientJson({ version, action: 'set_push_accounts', device_id: deviceId, accounts: jids.map((j) => ({ account_id: accountIdOf(deviceId, j) })) }))
    const r = JSON.parse(reply.slice(0, -1)) as { accounts?: Omit<Registered, 'push_bare_jid'>[]; push_bare_jid: string }
    if (!r.accounts) throw new Error(`set_push_accounts: ${reply}`)
    return r.accounts.map((a) => ({ ...a, push_bare_jid: r.push_bare_jid }))
  } finally { c.close() }
}

export interface User extends XmppSession {
  client: Client
  jid: string
  stanzas: Element[]
  request(iq: Element): Promise<Element>
}

export async function login(p: Prosody, user: string): Promise<User> {
  const stanzas: Element[] = []
  const jid = `${user}@${p.domain}`
  const s = await xmppLogin({ jid, password: PASSWORDS[user as keyof typeof PASSWORDS], service: p.service, ca: p.certPem, timeoutMs: 10_000, onStanza: (st) => stanzas.push(st) })
  return Object.assign(s, { jid, stanzas, request: (iq: Element) => s.client.iqCaller.request(iq, 10_000) })
}

const field = (v: string, value: string, type?: string) => xml('field', { var: v, type }, xml('value', {}, value))

/** §7 step 3: the user's client enables XEP-0357 push at its server with what Herald gave */
export function enableIq(pushJid: string, node: string, secret: string): Element {
  return xml('iq', { type: 'set' }, xml('enable', { xmlns: 'urn:xmpp:push:0', jid: pushJid, node },
    xml('x', { xmlns: 'jabber:x:data', type: 'submit' },
      field('FORM_TYPE', 'http://jabber.org/protocol/pubsub#publish-options', 'hidden'),
      field('secret', secret))))
}

export function chat(to: string, body: string): Element {
  return xml('message', { to, type: 'chat', id: `m${Math.random().toString(36).slice(2)}` }, xml('body', {}, body))
}

export interface Rig {
  h: PushHerald
  fake: FakeWns
  close(): Promise<void>
}

/** Herald with the push dialect and its XMPP settings `xmpp`, the real push service to a local WNS */
export async function startRig(xmpp: Record<string, unknown>, o: { push?: PushService } = {}): Promise<Rig> {
  const fake = await new FakeWns().start()
  const dir = mkdtempSync(join(tmpdir(), 'herald-fake-wns-'))
  const caFile = join(dir, 'ca.pem')
  writeFileSync(caFile, fake.ca)
  const push = createPush({ push: o.push })
  const t = await startTestHerald({
    dialects: [push], settings: pushSettings,
    overrides: {
      'push.port': 0,
      'push.wns.clientId': SID, 'push.wns.clientSecret': 'wns-secret', 'push.wns.connectTo': fake.connectTo, 'push.caFile': caFile,
      'push.xmpp.reconnectMs': 50, 'push.xmpp.reconnectMaxMs': 500, 'push.xmpp.timeoutMs': 10_000,
      ...xmpp,
    },
  })
  const h: PushHerald = Object.assign(t, { push, nodes: new RecordingNodes(), ca: readFileSync(join(t.dataDir, 'tls', 'dev-cert.pem'), 'utf8') })
  return { h, fake, async close() { await h.close(); await fake.close(); rmSync(dir, { recursive: true, force: true }) } }
}

/** the notifications WNS got on one channel */
export const onChannel = (fake: FakeWns, token: string) => fake.notifications().filter((r) => r.path === `/?token=${token}`)

/** wait until WNS got `n` notifications on the channel; their bodies */
export async function pushesOn(fake: FakeWns, token: string, n: number): Promise<string[]> {
  await eventually(() => onChannel(fake, token).length >= n, `${n} WNS notifications on ${token}`, 15_000)
  return onChannel(fake, token).map((r) => r.body.toString('utf8'))
}

/** the §4.2 v2 body for a push as mod_cloud_notify sends it (message-count 1, pending-subscription-count empty) */
export const v2Body = (accountId: string) => `{"account_id":"${accountId}","action":"push","message_count":1,"pending_subscription_count":0,"version":2}`
