// Settings of the admin API and the console (issue 15 items 1–3).
import { defineSettings } from '../../config.ts'

export const adminSettings = defineSettings([
  { key: 'console.enabled', env: ['HERALD_CONSOLE'], type: 'bool', default: true, description: 'serve the operator console at /console (GET / redirects there); false: GET / answers a JSON index of the endpoints' },
  { key: 'admin.failLimit', env: ['HERALD_ADMIN_FAIL_LIMIT'], type: 'int', default: 10, description: 'failed admin API logins from one address within admin.failWindowMs after which it gets 429' },
  { key: 'admin.failWindowMs', env: ['HERALD_ADMIN_FAIL_WINDOW_MS'], type: 'int', default: 60_000, description: 'window of admin.failLimit' },
  { key: 'admin.rateLimit', env: ['HERALD_ADMIN_RATE_LIMIT'], type: 'int', default: 600, description: 'admin API requests one superuser (or token) may make per minute; more get 429 with Retry-After' },
  { key: 'admin.sessionTtlMs', env: ['HERALD_ADMIN_SESSION_TTL_MS'], type: 'int', default: 900_000, description: 'lifetime of the short-lived token the console exchanges its login for (POST /api/v1/admin/session)' },
])
