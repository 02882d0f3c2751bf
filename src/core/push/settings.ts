// Settings of the WNS provider (uwpx-push §4, issue 14 item 3).
import { defineSettings } from '../../config.ts'

export const wnsSettings = defineSettings([
  { key: 'push.wns.clientId', env: ['HERALD_PUSH_WNS_CLIENT_ID'], type: 'string', default: '', description: 'WNS package SID (ms-app://s-1-15-2-…), the OAuth client id; empty: no WNS delivery' },
  { key: 'push.wns.clientSecret', env: ['HERALD_PUSH_WNS_CLIENT_SECRET'], type: 'string', default: '', description: 'WNS client secret of the package', secret: true },
  { key: 'push.wns.tokenUrl', env: ['HERALD_PUSH_WNS_TOKEN_URL'], type: 'string', default: 'https://login.live.com/accesstoken.srf', description: 'OAuth token endpoint of WNS (client credentials, scope notify.windows.com)' },
  { key: 'push.wns.connectTo', env: ['HERALD_PUSH_WNS_CONNECT_TO'], type: 'string', default: '', description: 'host:port every WNS request (token and notifications) is sent to, keeping the URL host for TLS and Host, as curl --connect-to does (egress proxies, test rigs); empty: the URL host' },
  { key: 'push.wns.timeoutMs', env: ['HERALD_PUSH_WNS_TIMEOUT_MS'], type: 'int', default: 10_000, description: 'time limit of one WNS request (token or notification), connect to last byte' },
  { key: 'push.wns.attempts', env: ['HERALD_PUSH_WNS_ATTEMPTS'], type: 'int', default: 3, description: 'attempts per notification on 5xx and transport errors before it is handed back to the queue' },
  { key: 'push.wns.retryBaseMs', env: ['HERALD_PUSH_WNS_RETRY_BASE_MS'], type: 'int', default: 500, description: 'first back-off between attempts; doubles each attempt, with jitter' },
  { key: 'push.wns.tokenMarginS', env: ['HERALD_PUSH_WNS_TOKEN_MARGIN_S'], type: 'int', default: 600, description: 'seconds before its expiry that the access token is refreshed (at most half its lifetime)' },
])

// The push dispatcher and the other providers (issue 14 item 4 and its Settings section): the durable queue's
// limits, and per provider its credentials plus the `…_URL` / `…_CONNECT_TO` pair that routes it (test rigs, proxies).
export const pushDispatchSettings = defineSettings([
  { key: 'push.maxAgeS', env: ['HERALD_PUSH_MAX_AGE'], type: 'int', default: 86_400, description: 'seconds a queued push is attempted before it is dropped as expired (a push that old is no news any more)' },
  { key: 'push.caFile', env: ['HERALD_PUSH_CA_FILE'], type: 'string', default: '', description: 'PEM file of extra CAs trusted by outgoing push requests, next to Node\'s CAs and NODE_EXTRA_CA_CERTS (TLS-inspecting egress proxies, test rigs)' },
  { key: 'push.timeoutMs', env: ['HERALD_PUSH_TIMEOUT_MS'], type: 'int', default: 10_000, description: 'time limit of one Web Push, UnifiedPush, FCM or APNs request (token requests too), connect to last byte' },
  { key: 'push.leaseMs', env: ['HERALD_PUSH_LEASE_MS'], type: 'int', default: 300_000, description: 'a push being sent is taken again by any node after this long (its node died): keep it above the providers\' time limits and retries' },
  { key: 'push.retryBaseMs', env: ['HERALD_PUSH_RETRY_BASE_MS'], type: 'int', default: 5_000, description: 'first wait before a push is attempted again after a transient fault; doubles each attempt, with jitter' },
  { key: 'push.retryMaxMs', env: ['HERALD_PUSH_RETRY_MAX_MS'], type: 'int', default: 600_000, description: 'longest wait between two attempts of a push (a longer Retry-After is cut to it)' },
  { key: 'push.pollMs', env: ['HERALD_PUSH_POLL_MS'], type: 'int', default: 1_000, description: 'longest idle sleep of a provider\'s sender before it looks for pushes queued by other nodes or committed transactions' },
  { key: 'push.wns.concurrency', env: ['HERALD_PUSH_WNS_CONCURRENCY'], type: 'int', default: 32, description: 'WNS requests in flight at once per node' },
  { key: 'push.webpush.concurrency', env: ['HERALD_PUSH_WEBPUSH_CONCURRENCY'], type: 'int', default: 32, description: 'Web Push requests in flight at once per node' },
  { key: 'push.unifiedpush.concurrency', env: ['HERALD_PUSH_UNIFIEDPUSH_CONCURRENCY'], type: 'int', default: 32, description: 'UnifiedPush requests in flight at once per node' },
  { key: 'push.fcm.concurrency', env: ['HERALD_PUSH_FCM_CONCURRENCY'], type: 'int', default: 32, description: 'FCM requests in flight at once per node' },
  { key: 'push.apns.concurrency', env: ['HERALD_PUSH_APNS_CONCURRENCY'], type: 'int', default: 32, description: 'APNs requests in flight at once per node (streams on the HTTP/2 connection)' },

  { key: 'push.webpush.vapidPublicKey', env: ['HERALD_PUSH_VAPID_PUBLIC_KEY'], type: 'string', default: '', description: 'VAPID public key (RFC 8292, base64url P-256 point) browsers subscribe with; empty: a key pair generated once and kept in the store' },
  { key: 'push.webpush.vapidPrivateKey', env: ['HERALD_PUSH_VAPID_PRIVATE_KEY'], type: 'string', default: '', description: 'VAPID private key (base64url); set together with the public key', secret: true },
  { key: 'push.webpush.subject', env: ['HERALD_PUSH_VAPID_SUBJECT'], type: 'string', default: 'mailto:postmaster@localhost', description: 'VAPID sub claim: a mailto: or https: contact of the operator, for push services to reach' },
  { key: 'push.webpush.allowPrivateEndpoints', env: ['HERALD_PUSH_ALLOW_PRIVATE_ENDPOINTS'], type: 'bool', default: false, description: 'Web Push and UnifiedPush endpoints (given by clients) may be on loopback, private or link-local addresses, e.g. a UnifiedPush distributor on the LAN; off: refused, as a request forgery guard' },
  { key: 'push.webpush.connectTo', env: ['HERALD_PUSH_WEBPUSH_CONNECT_TO'], type: 'string', default: '', description: 'host:port every Web Push and UnifiedPush request is sent to, keeping the endpoint\'s host for TLS and Host (as curl --connect-to); empty: the endpoint\'s host' },

  { key: 'push.fcm.serviceAccountFile', env: ['HERALD_PUSH_FCM_SERVICE_ACCOUNT_FILE'], type: 'string', default: '', description: 'Firebase service-account JSON file (client_email, private_key, project_id); empty: no FCM delivery' },
  { key: 'push.fcm.url', env: ['HERALD_PUSH_FCM_URL'], type: 'string', default: 'https://fcm.googleapis.com', description: 'FCM HTTP v1 API base URL (…/v1/projects/<project>/messages:send)' },
  { key: 'push.fcm.tokenUrl', env: ['HERALD_PUSH_FCM_TOKEN_URL'], type: 'string', default: '', description: 'OAuth token endpoint for the service account\'s JWT; empty: the file\'s token_uri, else https://oauth2.googleapis.com/token' },
  { key: 'push.fcm.connectTo', env: ['HERALD_PUSH_FCM_CONNECT_TO'], type: 'string', default: '', description: 'host:port every FCM request (token and send) is sent to, keeping the URL host for TLS and Host; empty: the URL host' },

  { key: 'push.apns.keyFile', env: ['HERALD_PUSH_APNS_KEY_FILE'], type: 'string', default: '', description: 'APNs token signing key (.p8, PKCS#8 P-256 PEM); empty: no APNs delivery' },
  { key: 'push.apns.keyId', env: ['HERALD_PUSH_APNS_KEY_ID'], type: 'string', default: '', description: 'key id of the .p8 key (the JWT kid)' },
  { key: 'push.apns.teamId', env: ['HERALD_PUSH_APNS_TEAM_ID'], type: 'string', default: '', description: 'Apple developer team id (the JWT iss)' },
  { key: 'push.apns.topic', env: ['HERALD_PUSH_APNS_TOPIC'], type: 'string', default: '', description: 'default apns-topic: the app\'s bundle id, for targets that name none' },
  { key: 'push.apns.url', env: ['HERALD_PUSH_APNS_URL'], type: 'string', default: 'https://api.push.apple.com', description: 'APNs HTTP/2 host (https://api.sandbox.push.apple.com for development builds)' },
  { key: 'push.apns.connectTo', env: ['HERALD_PUSH_APNS_CONNECT_TO'], type: 'string', default: '', description: 'host:port the APNs connection goes to, keeping the URL host for TLS and :authority; empty: the URL host' },
])
