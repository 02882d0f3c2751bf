// The push dispatcher the configuration describes (server.ts builds it once): each provider with credentials
// behind the seam's target and notification; Web Push and UnifiedPush always (the VAPID key pair from the settings,
// else generated once and kept in the store so that every node signs with the same key).
import { readFileSync } from 'node:fs'
import type { Logger } from 'pino'
import type { Registry } from 'prom-client'
import { settingsOf, type Config } from '../../config.ts'
import { systemClock, type Clock } from '../clock.ts'
import type { Store } from '../store/db.ts'
import { PushDispatcher, type Deliverer } from './dispatcher.ts'
import { PushQueueStore } from './queue-store.ts'
import type { PushProviderName, PushTarget } from './service.ts'
import { pushDispatchSettings, wnsSettings } from './settings.ts'
import { generateVapidKeys, type VapidKeys } from './webpush-rules.ts'
import type { WnsProvider } from './wns.ts'

export interface PushFromConfigOptions { clock?: Clock; registry?: Registry; log?: Logger; owner?: string }

/** the seam's target for one provider */
type TargetOf<P extends PushProviderName> = Extract<PushTarget, { provider: P }>

/** WNS as the seam sees it: the payload is the raw body, sent as given (the caller picked the §4.2 body). */
export function wnsDeliverer(p: WnsProvider): Deliverer {
  return {
    name: 'wns',
    send: (t, n) => p.send({ channelUri: (t as TargetOf<'wns'>).channelUri, version: '2' }, { type: 'raw', payload: n.payload }),
    close: () => p.close(),
  }
}

/** A provider whose own target is the seam's target without `provider`. */
export function deliverer(p: { name: string; send(t: never, n: never): Promise<import('./types.ts').PushOutcome>; close(): Promise<void> }): Deliverer {
  return p as unknown as Deliverer
}

/**
 * A provider made at its first send: Web Push is on in every configuration, and web-push with undici costs ~15 MB
 * resident, which a server that never sends one should not pay. close() closes it only if it was made.
 */
export function lazyDeliverer(name: PushProviderName, make: () => Promise<Deliverer>): Deliverer {
  let made: Promise<Deliverer> | undefined
  return {
    name,
    send: async (t, n) => (await (made ??= make())).send(t, n),
    close: async () => { if (made) await (await made).close() },
  }
}

async function vapidKeys(s: { vapidPublicKey: string; vapidPrivateKey: string }, store: PushQueueStore, now: number): Promise<VapidKeys> {
  if (s.vapidPublicKey || s.vapidPrivateKey) {
    if (!s.vapidPublicKey || !s.vapidPrivateKey) throw new Error('HERALD_PUSH_VAPID_PUBLIC_KEY and HERALD_PUSH_VAPID_PRIVATE_KEY are set together')
    return { publicKey: s.vapidPublicKey, privateKey: s.vapidPrivateKey }
  }
  const stored = await store.keyOnce('vapid', () => JSON.stringify(generateVapidKeys()), now)
  return JSON.parse(stored) as VapidKeys
}

export async function pushFromConfig(cfg: Config, store: Store, o: PushFromConfigOptions = {}): Promise<PushDispatcher> {
  const s = settingsOf(cfg, pushDispatchSettings, 'push')
  const wnsS = settingsOf(cfg, wnsSettings, 'push.wns')
  const clock = o.clock ?? systemClock
  let ca: string | undefined
  if (s.caFile) {
    try { ca = readFileSync(s.caFile, 'utf8') } catch (e) { throw new Error(`HERALD_PUSH_CA_FILE ${s.caFile}: ${(e as Error).message}`) }
  }
  const providers: Partial<Record<PushProviderName, Deliverer>> = {}
  // no credentials at all: no WNS; half of them: WnsProvider says which is missing
  if (wnsS.clientId || wnsS.clientSecret) {
    const { WnsProvider } = await import('./wns.ts')
    providers.wns = wnsDeliverer(new WnsProvider({ ...wnsS, db: store.db, clock, ca }))
  }
  const queue = new PushQueueStore(store.db, store.kind)
  const vapid = await vapidKeys(s.webpush, queue, clock.now())
  const web = { vapid, subject: s.webpush.subject, connectTo: s.webpush.connectTo, ca, timeoutMs: s.timeoutMs, clock, allowPrivate: s.webpush.allowPrivateEndpoints }
  for (const name of ['webpush', 'unifiedpush'] as const) {
    providers[name] = lazyDeliverer(name, async () => deliverer(new (await import('./webpush.ts')).WebPushProvider({ name, ...web })))
  }
  // configured providers load now: their key files are checked at start
  if (s.fcm.serviceAccountFile) {
    const { FcmProvider, readServiceAccount } = await import('./fcm.ts')
    providers.fcm = deliverer(new FcmProvider({
      account: readServiceAccount(s.fcm.serviceAccountFile), url: s.fcm.url, tokenUrl: s.fcm.tokenUrl, connectTo: s.fcm.connectTo,
      ca, timeoutMs: s.timeoutMs, db: store.db, clock,
    }))
  }
  if (s.apns.keyFile) {
    const { ApnsProvider, readApnsKey } = await import('./apns.ts')
    providers.apns = deliverer(new ApnsProvider({
      key: readApnsKey(s.apns.keyFile), keyId: s.apns.keyId, teamId: s.apns.teamId, topic: s.apns.topic,
      url: s.apns.url, connectTo: s.apns.connectTo, ca, timeoutMs: s.timeoutMs, clock,
    }))
  }
  return new PushDispatcher({
    db: store.db, kind: store.kind, providers, clock, registry: o.registry, log: o.log, owner: o.owner,
    vapidPublicKey: vapid.publicKey,
    maxAgeMs: s.maxAgeS * 1000, leaseMs: s.leaseMs, retryBaseMs: s.retryBaseMs, retryMaxMs: s.retryMaxMs, pollMs: s.pollMs,
    concurrency: { wns: s.wns.concurrency, webpush: s.webpush.concurrency, unifiedpush: s.unifiedpush.concurrency, fcm: s.fcm.concurrency, apns: s.apns.concurrency },
  })
}
