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
