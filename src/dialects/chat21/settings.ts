// chat21 settings (§10, issue items 6 and 8): app id, JWT, endpoints as the original deploys them, input limits,
// metrics labels, webhooks, the push webhook forwarder.
import { defineSettings } from '../../config.ts'
import { MAX_JSON_BYTES, MAX_JSON_DEPTH } from './json.ts'

export const WEBHOOK_EVENTS = [
  'message-sent', 'message-delivered', 'message-return-receipt', 'conversation-archived',
]

export const chat21Settings = defineSettings([
  { key: 'chat21.appId', env: ['HERALD_CHAT21_APP_ID'], type: 'string', default: 'tilechat', description: 'chat21 app id used in every topic (§2.2)' },
  { key: 'chat21.jwtSecret', env: ['HERALD_CHAT21_JWT_SECRET'], type: 'string', default: '', description: 'HS256 secret of chat21 tokens; empty: "tokenKey" in development mode, a random one per start otherwise', secret: true },
  { key: 'chat21.jwtExpiry', env: ['HERALD_CHAT21_JWT_EXPIRY'], type: 'int', default: 30 * 24 * 3600, description: 'lifetime in seconds of tokens Herald issues (§13.1)' },
  { key: 'chat21.http.port', env: ['HERALD_CHAT21_HTTP_PORT'], type: 'port', default: null, description: 'own port for the chat21 REST API (8010 as the original); off: on the main HTTP port' },
  { key: 'chat21.http.prefix', env: ['HERALD_CHAT21_HTTP_PREFIX'], type: 'string', default: '/chat21/api', description: 'path prefix of the chat21 REST API (the original uses /api)' },
  { key: 'chat21.http.syncTimeoutMs', env: ['HERALD_CHAT21_SYNC_TIMEOUT_MS'], type: 'int', default: 10_000, description: 'POST /:app/messages/sync: longest wait for the sender\'s copy before a 504' },
  { key: 'chat21.ws.port', env: ['HERALD_CHAT21_WS_PORT'], type: 'port', default: null, description: 'own port for MQTT over WebSocket (15675 as RabbitMQ web-mqtt); off: none' },
  { key: 'chat21.ws.path', env: ['HERALD_CHAT21_WS_PATH'], type: 'string', default: '/ws', description: 'path of the chat21 MQTT-over-WebSocket listener' },
  { key: 'chat21.presence', env: ['HERALD_CHAT21_PRESENCE_ENABLED'], type: 'bool', default: false, description: 'process presence topics (presence-change webhooks), as PRESENCE_ENABLED' },
  { key: 'chat21.historyLimit', env: ['HERALD_CHAT21_HISTORY_LIMIT'], type: 'int', default: 200, description: 'group messages replayed to a joining member (the newest ones)' },
  { key: 'chat21.json.maxDepth', env: ['HERALD_CHAT21_JSON_MAX_DEPTH'], type: 'int', default: MAX_JSON_DEPTH, description: 'deepest nesting of objects and arrays in a client\'s JSON (MQTT payload or REST body); deeper: dropped (MQTT) or 400 (REST)' },
  { key: 'chat21.json.maxBytes', env: ['HERALD_CHAT21_JSON_MAX_BYTES'], type: 'int', default: MAX_JSON_BYTES, description: 'largest client JSON in bytes (MQTT payload or REST body, within HERALD_HTTP_BODY_LIMIT); larger: dropped (MQTT) or 413 (REST)' },
  { key: 'chat21.metrics.originalLabels', env: ['HERALD_CHAT21_METRICS_ORIGINAL_LABELS'], type: 'bool', default: false, description: 'the original\'s §11.1 labels: user ids in chat21_messages_per_topic_total{topic} and the per-IP counters; off: ids replaced by :sender/:recipient/:group, no per-IP counters' },
  { key: 'chat21.webhooks.enabled', env: ['HERALD_CHAT21_WEBHOOK_ENABLED'], type: 'bool', default: true, description: 'deliver webhooks (§8)' },
  { key: 'chat21.webhooks.endpoints', env: ['HERALD_CHAT21_WEBHOOK_ENDPOINTS'], type: 'list', default: [], description: 'comma list of webhook URLs' },
  { key: 'chat21.webhooks.events', env: ['HERALD_CHAT21_WEBHOOK_EVENTS'], type: 'list', default: WEBHOOK_EVENTS, description: 'message and conversation webhook events to deliver (presence-change follows chat21.presence alone, as the original)' },
  { key: 'chat21.webhooks.retryBaseMs', env: ['HERALD_CHAT21_WEBHOOK_RETRY_BASE_MS'], type: 'int', default: 1000, description: 'first retry delay; doubles at each failure' },
  { key: 'chat21.webhooks.retryMaxMs', env: ['HERALD_CHAT21_WEBHOOK_RETRY_MAX_MS'], type: 'int', default: 300_000, description: 'longest retry delay' },
  { key: 'chat21.webhooks.timeoutMs', env: ['HERALD_CHAT21_WEBHOOK_TIMEOUT_MS'], type: 'int', default: 30_000, description: 'webhook request timeout' },
  // push webhook forwarder (§12.2 POST /:app/push/webhook/endpoint/:token), PUSH_WH_* in the original (§10.2)
  { key: 'chat21.push.enabled', env: ['HERALD_CHAT21_PUSH_ENABLED'], type: 'bool', default: true, description: 'FCM push to the push instances of a recipient with no connected client, when Herald\'s FCM provider is configured (issue 14 item 5)' },
  { key: 'chat21.push.includeContent', env: ['HERALD_CHAT21_PUSH_INCLUDE_CONTENT'], type: 'bool', default: false, description: 'put the sender\'s name and the message text in chat21 pushes; off: the push names the conversation and message id only' },
  { key: 'chat21.pushWebhook.token', env: ['HERALD_CHAT21_PUSH_WH_WEBHOOK_TOKEN'], type: 'string', default: '', description: 'the :token a push webhook call must carry in its path; empty: every call is refused', secret: true },
  { key: 'chat21.pushWebhook.adminToken', env: ['HERALD_CHAT21_PUSH_WH_CHAT21_API_ADMIN_TOKEN'], type: 'string', default: '', description: 'Authorization header sent with each forwarded message-delivered event (an admin token of the notify API)', secret: true },
  { key: 'chat21.pushWebhook.notifyUrl', env: ['HERALD_CHAT21_PUSH_WH_NOTIFY_URL'], type: 'string', default: '', description: 'where message-delivered events are forwarded (http or https URL); required with the webhook token' },
  { key: 'chat21.pushWebhook.timeoutMs', env: ['HERALD_CHAT21_PUSH_WH_TIMEOUT_MS'], type: 'int', default: 10_000, description: 'push webhook forward request timeout' },
])
