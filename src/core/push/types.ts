// The push provider seam (ARCHITECTURE.md push-dispatch): WNS, Web Push, UnifiedPush, FCM and APNs each implement
// `send(target, notification) → outcome`; the dispatcher's durable queue acts on the outcome.

/**
 * What became of one send.
 * - `delivered`: the provider accepted it.
 * - `retry-after`: a transient fault (5xx, transport, throttling, credentials not usable now); try again later.
 * - `drop-channel`: the provider says the endpoint is gone (e.g. WNS 404/410); remove it, do not retry.
 * - `failed`: rejected for good (bad request, payload too large, forbidden); do not retry.
 */
export type PushOutcome =
  | { kind: 'delivered'; status: number }
  | { kind: 'retry-after'; afterMs: number; reason: string; status?: number }
  | { kind: 'drop-channel'; reason: string; status: number }
  | { kind: 'failed'; reason: string; status?: number }

export interface PushProvider<Target, Notification> {
  /** provider name as used in metrics and targets: `wns`, `webpush`, `fcm`, `apns`, … */
  readonly name: string
  /** Never throws for a provider's answer or a network fault: every result is an outcome. */
  send(target: Target, notification: Notification): Promise<PushOutcome>
  /** release connections; sends after close are not supported */
  close(): Promise<void>
}

/** An OAuth access token as a provider caches it (WNS, FCM). Times are epoch milliseconds. */
export interface AccessToken {
  accessToken: string
  /** as the token endpoint returned it (`bearer`): the Authorization scheme keeps its case (uwpx-push §4.1) */
  tokenType: string
  expiresAt: number
  fetchedAt: number
}
