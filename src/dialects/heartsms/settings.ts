// The HeartSMS dialect's settings, apart from the dialect so that the configuration schema loads without it.
import { defineSettings } from '../../config.ts'

export const settings = defineSettings([
  { key: 'heartsms.nodeEnv', env: ['NODE_ENV'], type: 'string', default: 'production', description: 'HeartSMS: dev or test fixes the heart-sms-backend password to testpassword' },
  { key: 'heartsms.allowedUsers', env: ['HEART_ALLOWED_USERS'], type: 'string', default: '', description: 'HeartSMS signup allow-list: * (everyone) or a comma list of usernames; empty: nobody' },
  { key: 'heartsms.article.fetch', env: ['HERALD_HEARTSMS_ARTICLE_FETCH'], type: 'bool', default: true, description: 'GET /api/v1/article fetches the page for its preview; false: only domain and web_url' },
  { key: 'heartsms.article.allowPrivate', env: ['HERALD_HEARTSMS_ARTICLE_ALLOW_PRIVATE'], type: 'bool', default: false, description: 'GET /api/v1/article may fetch loopback, private and link-local addresses (refused by default)' },
  { key: 'heartsms.article.timeoutMs', env: ['HERALD_HEARTSMS_ARTICLE_TIMEOUT_MS'], type: 'int', default: 8000, description: 'GET /api/v1/article: deadline of one page fetch, redirects included' },
  { key: 'heartsms.login.failLimit', env: ['HERALD_HEARTSMS_LOGIN_FAIL_LIMIT'], type: 'int', default: 10, description: 'POST /api/v1/accounts/login: failed logins per username within the window before it answers 429 (0: no limit)' },
  { key: 'heartsms.login.failLimitPerAddress', env: ['HERALD_HEARTSMS_LOGIN_FAIL_LIMIT_PER_ADDRESS'], type: 'int', default: 100, description: 'POST /api/v1/accounts/login: failed logins per client address (IPv6: per /64) within the window before it answers 429 (0: no limit)' },
  { key: 'heartsms.login.failWindowMs', env: ['HERALD_HEARTSMS_LOGIN_FAIL_WINDOW_MS'], type: 'int', default: 900_000, description: 'window of the HeartSMS failed-login limits, in milliseconds' },
  { key: 'heartsms.kdf.concurrency', env: ['HERALD_HEARTSMS_KDF_CONCURRENCY'], type: 'int', default: 2, description: 'HeartSMS login and signup: PBKDF2 derivations (100 000 rounds each) run at once' },
  { key: 'heartsms.kdf.queue', env: ['HERALD_HEARTSMS_KDF_QUEUE'], type: 'int', default: 64, description: 'HeartSMS login and signup: derivations waiting for their turn; beyond, 503 at once' },
  { key: 'heartsms.push.enabled', env: ['HERALD_HEARTSMS_PUSH_ENABLED'], type: 'bool', default: true, description: 'push a write to the Web Push / UnifiedPush subscriptions of an account with no stream client connected (issue 14 item 5)' },
  { key: 'heartsms.push.includeContent', env: ['HERALD_HEARTSMS_PUSH_INCLUDE_CONTENT'], type: 'bool', default: false, description: 'put the write\'s content (≤ 3000 bytes) in HeartSMS pushes; off: the operation and a count only' },
  { key: 'heartsms.push.coalesceMs', env: ['HERALD_HEARTSMS_PUSH_COALESCE_MS'], type: 'int', default: 2000, description: 'an account\'s writes within this many milliseconds of its first one make one push' },
  { key: 'heartsms.servicePassword', env: ['HERALD_HEARTSMS_SERVICE_PASSWORD'], type: 'string', default: '', description: 'password of heart-sms-backend outside NODE_ENV dev/test; empty: random at every start, printed once', secret: true },
])
