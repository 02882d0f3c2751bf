// The push service every dialect sees (ARCHITECTURE.md push-dispatch, issue 14 item 4): `send(target, notification)`
// puts one push on the durable queue; the dispatcher delivers it through the target's provider, retries transient
// faults until the push expires, and tells the owning dialect when the provider says the endpoint is gone.
import type { Executor } from '../queue/store.ts'

/** Where one push goes. A dialect stores these for its users; Herald's push service stores only queued pushes. */
export type PushTarget =
  /** a WNS channel (UWPX devices, §3.3 set_channel_uri) */
  | { provider: 'wns'; channelUri: string }
  /** a browser's Web Push subscription (RFC 8030/8291; PushSubscription.toJSON(): endpoint, keys.p256dh, keys.auth) */
  | { provider: 'webpush'; endpoint: string; p256dh: string; auth: string }
  /** a UnifiedPush distributor's endpoint: Web Push when keys are given, else the payload POSTed as is */
  | { provider: 'unifiedpush'; endpoint: string; p256dh?: string; auth?: string }
  /** an FCM registration token (HTTP v1 API) */
  | { provider: 'fcm'; token: string }
  /** an APNs device token (hex); topic: the app's bundle id (default the configured one) */
  | { provider: 'apns'; token: string; topic?: string }

export type PushProviderName = PushTarget['provider']

/** What one push carries. Providers take the fields that apply to them; `payload` is the body every provider gets. */
export interface PushNotification {
  /** WNS: the raw body (§4.2); Web Push / UnifiedPush: the plaintext (encrypted per RFC 8291); FCM: `data.payload`
   * unless `fcm.data` is given; APNs: the JSON body (an `aps` object) */
  payload: string
  /** seconds the provider may hold it for an offline device (WNS X-WNS-TTL, Web Push TTL, FCM ttl, APNs expiration) */
  ttlS?: number
  /** Web Push Urgency / FCM and APNs priority */
  urgency?: 'very-low' | 'low' | 'normal' | 'high'
  /** a later push with the same key replaces an undelivered earlier one (Web Push Topic, FCM collapse_key, APNs collapse-id) */
  collapseKey?: string
  /** WNS: X-WNS-Type, default wns/raw */
  wnsType?: 'wns/raw' | 'wns/toast' | 'wns/tile' | 'wns/badge'
  /** FCM HTTP v1 message fields */
  fcm?: { data?: Record<string, string>; notification?: { title?: string; body?: string } }
  /** APNs: apns-push-type (default alert when the payload has aps.alert, else background) */
  apns?: { pushType?: 'alert' | 'background' | 'voip' }
}

export interface PushSendOptions {
  /** the dialect the target belongs to: metrics, and whom to tell when the endpoint is gone */
  dialect: string
  /** the caller's transaction: the push is queued with the caller's write, or not at all */
  trx?: Executor
}

/** Told when a provider answers that an endpoint no longer exists (WNS 404/410, Web Push 404/410, FCM UNREGISTERED, APNs 410). */
export type EndpointGone = (target: PushTarget) => Promise<void> | void

export interface PushService {
  /** Queue one push durably; resolves once it is stored (or, with `trx`, part of the caller's transaction). */
  send(target: PushTarget, notification: PushNotification, o: PushSendOptions): Promise<void>
  /** whether the provider has credentials configured: a push to an unconfigured provider is refused by send() */
  enabled(provider: PushProviderName): boolean
  /** a dialect prunes its stored endpoints here */
  onEndpointGone(dialect: string, fn: EndpointGone): void
  /** the VAPID public key (base64url) browsers subscribe with (`applicationServerKey`); every node has the same */
  vapidPublicKey(): string | undefined
}

/** send() to a provider without credentials, or a target that fails validation */
export class PushTargetError extends Error {}
