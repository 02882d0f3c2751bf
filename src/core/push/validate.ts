// What send() refuses at once, before anything is queued (PushTargetError): a target a provider could never take,
// a payload over the provider's size limit. Pure; one message naming the field.
import type { PushNotification, PushTarget } from './service.ts'
import { webPushKeysProblem, UNENCRYPTED_MAX, WEBPUSH_MAX_PLAINTEXT } from './webpush-rules.ts'
import { isWnsChannelUri, WNS_MAX_RAW_BYTES } from './wns-body.ts'

/** APNs: 4 KB for every push type but VoIP (5 KB); FCM: 4 KB of message data */
const APNS_MAX = 4096
const APNS_VOIP_MAX = 5120
const FCM_MAX = 4096
const URGENCIES = new Set(['very-low', 'low', 'normal', 'high'])

function httpsUrl(s: unknown): string | undefined {
  if (typeof s !== 'string' || s.length > 2048) return 'endpoint must be an https URL of at most 2048 characters'
  let u: URL
  try { u = new URL(s) } catch { return 'endpoint is not a URL' }
  if (u.protocol !== 'https:' || u.username || u.password) return 'endpoint must be an https URL without credentials'
  return undefined
}

export function checkPush(t: PushTarget, n: PushNotification): string | undefined {
  if (!t || typeof t !== 'object') return 'target must be an object'
  if (!n || typeof n !== 'object' || typeof n.payload !== 'string') return 'notification.payload must be a string'
  if (n.ttlS !== undefined && (!Number.isFinite(n.ttlS) || n.ttlS < 0)) return 'notification.ttlS must be a number of seconds ≥ 0'
  if (n.urgency !== undefined && !URGENCIES.has(n.urgency)) return 'notification.urgency must be very-low, low, normal or high'
  if (n.collapseKey !== undefined && (typeof n.collapseKey !== 'string' || n.collapseKey.length > 64)) return 'notification.collapseKey must be a string of at most 64 characters'
  const bytes = Buffer.byteLength(n.payload)
  switch (t.provider) {
    case 'wns':
      if (typeof t.channelUri !== 'string' || !isWnsChannelUri(t.channelUri)) return 'wns channelUri must be an https://….notify.windows.com URI'
      if (n.wnsType !== undefined && n.wnsType !== 'wns/raw') return 'wns: only wns/raw notifications are sent'
      if (bytes > WNS_MAX_RAW_BYTES) return `wns payload of ${bytes} bytes is over ${WNS_MAX_RAW_BYTES}`
      return undefined
    case 'webpush': {
      const bad = httpsUrl(t.endpoint) ?? (typeof t.p256dh === 'string' && typeof t.auth === 'string' ? webPushKeysProblem(t.p256dh, t.auth) : 'webpush needs keys p256dh and auth')
      if (bad) return `webpush: ${bad}`
      if (bytes > WEBPUSH_MAX_PLAINTEXT) return `webpush payload of ${bytes} bytes is over ${WEBPUSH_MAX_PLAINTEXT}`
      return undefined
    }
    case 'unifiedpush': {
      const keyed = t.p256dh !== undefined || t.auth !== undefined
      const bad = httpsUrl(t.endpoint) ?? (keyed ? (typeof t.p256dh === 'string' && typeof t.auth === 'string' ? webPushKeysProblem(t.p256dh, t.auth) : 'give both p256dh and auth, or neither') : undefined)
      if (bad) return `unifiedpush: ${bad}`
      const max = keyed ? WEBPUSH_MAX_PLAINTEXT : UNENCRYPTED_MAX
      if (bytes > max) return `unifiedpush payload of ${bytes} bytes is over ${max}`
      return undefined
    }
    case 'fcm':
      if (typeof t.token !== 'string' || !/^[\x21-\x7e]{1,4096}$/.test(t.token)) return 'fcm token must be 1 to 4096 printable ASCII characters'
      if (n.fcm?.data && !Object.values(n.fcm.data).every((v) => typeof v === 'string')) return 'fcm.data values must be strings'
      if (Buffer.byteLength(JSON.stringify(n.fcm?.data ?? { payload: n.payload })) > FCM_MAX) return `fcm data is over ${FCM_MAX} bytes`
      return undefined
    case 'apns': {
      if (typeof t.token !== 'string' || !/^[0-9a-fA-F]{32,200}$/.test(t.token)) return 'apns token must be the device token in hex'
      if (t.topic !== undefined && (typeof t.topic !== 'string' || !/^[A-Za-z0-9.\-_]{1,255}$/.test(t.topic))) return 'apns topic must be a bundle id'
      let body: unknown
      try { body = JSON.parse(n.payload) } catch { return 'apns payload must be a JSON object' }
      if (!body || typeof body !== 'object' || Array.isArray(body)) return 'apns payload must be a JSON object'
      const max = n.apns?.pushType === 'voip' ? APNS_VOIP_MAX : APNS_MAX
      if (bytes > max) return `apns payload of ${bytes} bytes is over ${max}`
      return undefined
    }
    default:
      return `unknown push provider ${JSON.stringify((t as { provider?: unknown }).provider)}`
  }
}
