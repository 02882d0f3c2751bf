// JSON schemas of the admin API (validation, serialization and the OpenAPI document come from them).
export const errorSchema = { type: 'object', properties: { error: { type: 'string' } }, required: ['error'] } as const

/** the answers every admin route may give besides its own */
export const guarded = {
  401: { description: 'no or bad credentials', ...errorSchema },
  403: { description: 'the account is not a superuser', ...errorSchema },
  429: { description: 'too many failed logins from this address, or requests from this principal (see Retry-After)', ...errorSchema },
} as const

const digits = { type: 'string', pattern: '^[0-9]{1,6}$' } as const
export const pageQuery = {
  limit: { ...digits, description: 'items per page (1–1000, default 50)' },
  offset: { ...digits, description: 'items to skip (default 0)' },
  q: { type: 'string', maxLength: 256, description: 'search: a substring of the id or user (clients) or of the topic (topics)' },
} as const

export function page(item: object) {
  return {
    type: 'object',
    properties: { total: { type: 'integer' }, limit: { type: 'integer' }, offset: { type: 'integer' }, items: { type: 'array', items: item } },
    required: ['total', 'limit', 'offset', 'items'],
  } as const
}

const nullable = (type: string) => ({ type: [type, 'null'] })

export const clientSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' }, user: { type: 'string' }, dialect: { type: 'string' }, protocolVersion: nullable('integer'),
    listener: { type: 'string' }, transport: { type: 'string' }, address: nullable('string'), connectedSince: { type: 'string', format: 'date-time' },
    clean: nullable('boolean'),
    subscriptions: { type: 'array', items: { type: 'object', properties: { filter: { type: 'string' }, qos: { type: 'integer' } }, required: ['filter', 'qos'] } },
    queued: { ...nullable('integer'), description: 'bytes waiting for the client: written to its socket and not read yet, or held for its MQTT 5 Receive Maximum' },
    inflight: { ...nullable('integer'), description: 'Herald\'s QoS 1/2 deliveries the client has not acknowledged (PUBACK / PUBCOMP)' },
  },
  required: ['id', 'user', 'dialect', 'listener', 'transport', 'connectedSince', 'subscriptions'],
} as const

export const topicSchema = {
  type: 'object',
  properties: {
    topic: { type: 'string', description: 'a topic filter some client subscribed to, or a topic holding a retained message' },
    subscribers: { type: 'integer', description: 'connected clients subscribed to exactly this filter' },
    retained: {
      type: ['object', 'null'],
      properties: { bytes: { type: 'integer' }, qos: { type: 'integer' }, at: { type: 'string', format: 'date-time' } },
    },
  },
  required: ['topic', 'subscribers', 'retained'],
} as const

export const sampleSchema = {
  type: 'object',
  properties: {
    t: { type: 'number' }, connections: { type: 'number' }, messagesIn: { type: 'number' }, messagesOut: { type: 'number' },
    deliveries: { type: 'number' }, authFailures: { type: 'number' }, httpP50: nullable('number'), httpP99: nullable('number'),
    eventLoopP99: { type: 'number' }, rss: { type: 'number' },
  },
} as const

export const serverSchema = {
  type: 'object',
  properties: {
    version: { type: 'string' }, node: { type: 'string' }, startedAt: { type: 'string', format: 'date-time' }, uptimeSeconds: { type: 'number' },
    host: { type: 'string' },
    listeners: { type: 'array', items: { type: 'object', properties: { name: { type: 'string' }, port: { type: 'integer' } }, required: ['name', 'port'] } },
    store: { type: 'string', enum: ['sqlite', 'postgres'] },
    broker: { type: 'object', properties: { mode: { type: 'string', enum: ['embedded', 'external'] }, name: { type: 'string' } }, required: ['mode', 'name'] },
    dialects: { type: 'array', items: { type: 'string' } },
    console: { type: 'boolean' },
    config: { type: 'object', additionalProperties: true, description: 'the effective configuration, secrets masked as `herald config` prints it' },
  },
  required: ['version', 'uptimeSeconds', 'listeners', 'store', 'broker', 'config'],
} as const
