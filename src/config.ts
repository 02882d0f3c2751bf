// Herald configuration: one documented schema; defaults < config file < HERALD_* environment < flags.
import { readFileSync } from 'node:fs'
import { identitySettings } from './core/identity/settings.ts'
import { ldapSettings } from './core/identity/ldap-settings.ts'
import { persistenceSettings } from './transport/persistence-settings.ts'
import { pushDispatchSettings, wnsSettings } from './core/push/settings.ts'
import { adminSettings } from './core/admin/settings.ts'

export type SettingType = 'string' | 'int' | 'port' | 'bool' | 'list'

export interface Setting {
  /** dotted key used in the config file and in code, e.g. `mqtt.port` */
  key: string
  /** environment variable names, first wins; the first one is the documented one */
  env: readonly string[]
  type: SettingType
  default: unknown
  description: string
  secret?: boolean
}

/** Ports accept `off` (or `-1`) to disable the listener; `0` picks a free port (tests). */
export const coreSettings = defineSettings([
  { key: 'mode', env: ['HERALD_MODE'], type: 'string', default: 'production', description: 'production or development (development: fixed service password, verbose logs)' },
  { key: 'dataDir', env: ['HERALD_DATA_DIR'], type: 'string', default: './data', description: 'directory for the SQLite file and generated TLS certificates' },
  { key: 'databaseUrl', env: ['HERALD_DATABASE_URL'], type: 'string', default: '', description: 'postgres://… for PostgreSQL; empty means SQLite in the data directory', secret: true },
  { key: 'host', env: ['HERALD_HOST'], type: 'string', default: '0.0.0.0', description: 'address every listener binds to' },
  { key: 'logLevel', env: ['HERALD_LOG_LEVEL'], type: 'string', default: 'info', description: 'pino log level (fatal, error, warn, info, debug, trace, silent)' },
  { key: 'logFormat', env: ['HERALD_LOG_FORMAT'], type: 'string', default: 'auto', description: 'auto (human-readable on a terminal, JSON otherwise), json (one object a line) or pretty' },
  { key: 'dialects', env: ['HERALD_DIALECTS'], type: 'list', default: ['heartsms', 'chat21'], description: 'dialects to load (comma list)' },

  { key: 'http.port', env: ['HERALD_HTTP_PORT'], type: 'port', default: 8080, description: 'HTTP API and MQTT-over-WebSocket port' },
  { key: 'https.port', env: ['HERALD_HTTPS_PORT'], type: 'port', default: 8443, description: 'HTTPS API and secure WebSocket port (off to disable)' },
  { key: 'http.bodyLimit', env: ['HERALD_HTTP_BODY_LIMIT'], type: 'int', default: 102400, description: 'largest accepted HTTP body in bytes' },
  { key: 'http.wsPaths', env: ['HERALD_WS_PATHS'], type: 'list', default: ['/mqtt', '/api/v1/stream'], description: 'HTTP paths that accept MQTT over WebSocket' },

  { key: 'mqtt.port', env: ['HERALD_MQTT_PORT'], type: 'port', default: 1883, description: 'plain MQTT port' },
  { key: 'mqtts.port', env: ['HERALD_MQTTS_PORT'], type: 'port', default: 8883, description: 'MQTT over TLS port (off to disable)' },
  { key: 'tls.cert', env: ['HERALD_TLS_CERT'], type: 'string', default: '', description: 'PEM certificate file; empty generates a self-signed development certificate in the data directory' },
  { key: 'tls.key', env: ['HERALD_TLS_KEY'], type: 'string', default: '', description: 'PEM private key file for tls.cert' },
  { key: 'tls.clientCa', env: ['HERALD_TLS_CLIENT_CA'], type: 'string', default: '', description: 'PEM CA file; when set, MQTTS asks for client certificates and a verified certificate CN becomes the identity' },
  { key: 'tls.requireClientCert', env: ['HERALD_TLS_REQUIRE_CLIENT_CERT'], type: 'bool', default: false, description: 'refuse MQTTS clients without a valid certificate' },
  { key: 'mqtt.maxPacketSize', env: ['HERALD_MQTT_MAX_PACKET_SIZE'], type: 'int', default: 1048576, description: 'largest accepted MQTT packet in bytes; a larger one closes the connection (MQTT 5: DISCONNECT 0x95, advertised as Maximum Packet Size)' },
  { key: 'mqtt.keepaliveLimit', env: ['HERALD_MQTT_KEEPALIVE_LIMIT'], type: 'int', default: 0, description: 'MQTT 5 Server Keep Alive: a v5 client asking for no keep-alive or a longer one gets this many seconds (0: the client\'s own)' },
  { key: 'mqtt.topicAliasMaximum', env: ['HERALD_MQTT_TOPIC_ALIAS_MAXIMUM'], type: 'int', default: 10, description: 'MQTT 5 topic aliases a client may set per connection (0: none)' },
  { key: 'mqtt.receiveMaximum', env: ['HERALD_MQTT_RECEIVE_MAXIMUM'], type: 'int', default: 256, description: 'MQTT 5 Receive Maximum: unacknowledged QoS 1/2 PUBLISHes a v5 client may have; more: DISCONNECT 0x93' },
  { key: 'mqtt.sessionExpiryLimit', env: ['HERALD_MQTT_SESSION_EXPIRY_LIMIT'], type: 'int', default: 0, description: 'MQTT 5: longest Session Expiry Interval in seconds a client gets (a longer one is clamped and echoed in CONNACK; 0: no cap)' },

  { key: 'broker.url', env: ['HERALD_BROKER_URL'], type: 'string', default: '', description: 'external broker (mqtt://, mqtts://, ws://); empty runs the embedded broker' },
  { key: 'broker.sharedGroup', env: ['HERALD_BROKER_SHARED_GROUP'], type: 'string', default: 'herald', description: 'shared subscription group for cluster nodes' },
  { key: 'broker.sharedSubscriptions', env: ['HERALD_BROKER_SHARED_SUBSCRIPTIONS'], type: 'bool', default: true, description: 'use $share/<group>/ subscriptions on the external broker' },
  { key: 'broker.managementUrl', env: ['HERALD_BROKER_MANAGEMENT_URL'], type: 'string', default: '', description: "RabbitMQ's management API (http://user:pass@host:15672) next to broker.amqpUrl: server-side subscriptions, disconnects and connect events for the dialects (needs rabbitmq_management and rabbitmq_event_exchange)", secret: true },
  { key: 'broker.amqpUrl', env: ['HERALD_BROKER_AMQP_URL'], type: 'string', default: '', description: "RabbitMQ's AMQP URL (amqp://…) next to broker.url: shared subscriptions become competing consumers of durable queues", secret: true },
  { key: 'broker.maxInflight', env: ['HERALD_BROKER_MAX_INFLIGHT'], type: 'int', default: 16, description: 'QoS 1/2 publishes in flight at once to the external broker (flow control)' },

  { key: 'service.username', env: ['HERALD_SERVICE_USERNAME'], type: 'string', default: 'herald', description: "Herald's own broker account" },
  { key: 'service.password', env: ['HERALD_SERVICE_PASSWORD'], type: 'string', default: '', description: 'service account password; empty: random at every start, printed once (fixed in development mode)', secret: true },

  { key: 'auth.allowAnonymous', env: ['HERALD_ALLOW_ANONYMOUS'], type: 'bool', default: false, description: 'accept MQTT clients without credentials (development)' },
  { key: 'auth.aclFile', env: ['HERALD_ACL_FILE'], type: 'string', default: '', description: 'Mosquitto-format ACL file with static rules' },
  { key: 'auth.failLimit', env: ['HERALD_AUTH_FAIL_LIMIT'], type: 'int', default: 10, description: 'failed logins per address and window before that address is refused' },
  { key: 'auth.failWindowMs', env: ['HERALD_AUTH_FAIL_WINDOW_MS'], type: 'int', default: 60000, description: 'window of the failed-login limit' },
  { key: 'auth.clientIdHoldMs', env: ['HERALD_AUTH_CLIENT_ID_HOLD_MS'], type: 'int', default: 86_400_000, description: 'how long a client id stays held by its account after its last connection or hook call; another account is refused it meanwhile' },
  { key: 'mqtt.maxSubscriptions', env: ['HERALD_MQTT_MAX_SUBSCRIPTIONS'], type: 'int', default: 10_000, description: 'subscriptions one client may hold; more are refused (SUBACK 0x80)' },
  { key: 'mqtt.deniedPublish', env: ['HERALD_MQTT_DENIED_PUBLISH'], type: 'string', default: 'drop', description: 'a PUBLISH the client may not make (access rules, $SYS): drop (acknowledged and dropped, as Mosquitto) or disconnect (the connection is closed)' },
  { key: 'mqtt.maxConnectionsPerPrincipal', env: ['HERALD_MQTT_MAX_CONNECTIONS_PER_PRINCIPAL'], type: 'int', default: 100, description: 'MQTT connections one account may have open at once; more are refused (CONNACK 3); superusers are not limited' },
  { key: 'mqtt.maxConnections', env: ['HERALD_MQTT_MAX_CONNECTIONS'], type: 'int', default: 100_000, description: 'open MQTT connections in total; more are closed at accept (0: no limit)' },
  { key: 'mqtt.maxConnectionsPerAddress', env: ['HERALD_MQTT_MAX_CONNECTIONS_PER_ADDRESS'], type: 'int', default: 1000, description: 'open MQTT connections from one IP address (loopback included); more are closed at accept (0: no limit)' },
  { key: 'mqtt.connectRatePerAddress', env: ['HERALD_MQTT_CONNECT_RATE_PER_ADDRESS'], type: 'int', default: 0, description: 'CONNECTs a second from one IP address (token bucket, bursts of as many); more get CONNACK 3 / 0x9F (0: no limit)' },
  { key: 'mqtt.maxInflightIn', env: ['HERALD_MQTT_MAX_INFLIGHT_IN'], type: 'int', default: 1000, description: 'MQTT 3.1.1: QoS 2 PUBLISHes of one client not completed (until its PUBREL); more close the connection (MQTT 5: mqtt.receiveMaximum for QoS 1 and 2; 0: no limit)' },
  { key: 'mqtt.maxTopicLength', env: ['HERALD_MQTT_MAX_TOPIC_LENGTH'], type: 'int', default: 1024, description: 'longest topic name or filter in bytes; a longer PUBLISH is dropped (MQTT 5: DISCONNECT 0x90), a SUBSCRIBE refused (SUBACK 0x80 / 0x8F) (0: the protocol\'s 65535)' },
  { key: 'mqtt.maxTopicLevels', env: ['HERALD_MQTT_MAX_TOPIC_LEVELS'], type: 'int', default: 100, description: 'most levels in a topic name or filter (at most 100, Aedes\' own ceiling); more: as mqtt.maxTopicLength' },
  { key: 'mqtt.maxQueuedBytes', env: ['HERALD_MQTT_MAX_QUEUED_BYTES'], type: 'int', default: 1_048_576, description: 'bytes one client\'s socket may hold unsent; past it, messages to it are dropped (counted) and its input is not read' },
  { key: 'mqtt.drainTimeoutMs', env: ['HERALD_MQTT_DRAIN_TIMEOUT_MS'], type: 'int', default: 30_000, description: 'a client whose socket does not drain for this long is disconnected (0: never)' },
  { key: 'mqtt.connectTimeoutMs', env: ['HERALD_MQTT_CONNECT_TIMEOUT_MS'], type: 'int', default: 10_000, description: 'a connection that sends no CONNECT for this long is closed' },
  { key: 'mqtt.sysIntervalS', env: ['HERALD_MQTT_SYS_INTERVAL_S'], type: 'int', default: 10, description: 'seconds between $SYS/broker/… statistics (retained, superusers only; 0: off)' },

  { key: 'auth.state', env: ['HERALD_AUTH_STATE'], type: 'string', default: 'auto', description: 'where failed logins, client-id holders and hook logins are kept so that every node agrees: memory, store, or auto (the store on PostgreSQL, memory on SQLite)' },
  { key: 'auth.grantOwned', env: ['HERALD_AUTH_GRANT_OWNED'], type: 'list', default: [], description: "topic filters inside a dialect's own topic space (heartsms/#, apps/#, …) that ACL-file rules and open anonymous access may grant all the same; by default they grant nothing there" },
  { key: 'mqtt.dialects', env: ['HERALD_MQTT_DIALECTS'], type: 'list', default: ['*'], description: 'dialects whose accounts may log in on the MQTT port (* for all)' },
  { key: 'mqtts.dialects', env: ['HERALD_MQTTS_DIALECTS'], type: 'list', default: ['*'], description: 'dialects whose accounts (and client certificates) log in on the MQTTS port (* for all)' },
  { key: 'http.wsDialects', env: ['HERALD_WS_DIALECTS'], type: 'list', default: ['*'], description: 'dialects whose accounts may log in over MQTT-over-WebSocket on the HTTP(S) ports (* for all)' },
  { key: 'hooks.dialects', env: ['HERALD_HOOKS_DIALECTS'], type: 'list', default: ['*'], description: "dialects whose accounts an external broker's hook calls may log in (* for all)" },
  { key: 'hooks.secret', env: ['HERALD_HOOKS_SECRET'], type: 'string', default: '', description: 'when set, every broker hook call must carry it (HTTP Basic password, X-Herald-Hooks-Secret header or secret query parameter)', secret: true },
  { key: 'hooks.allow', env: ['HERALD_HOOKS_ALLOW'], type: 'list', default: [], description: 'addresses or CIDR ranges that may call the broker hook endpoints; empty: loopback only, or any address when hooks.secret is set' },

  { key: 'metrics.port', env: ['HERALD_METRICS_PORT'], type: 'port', default: 9464, description: 'port of the Prometheus /metrics listener (off to disable)' },
  { key: 'metrics.host', env: ['HERALD_METRICS_HOST'], type: 'string', default: '127.0.0.1', description: 'address the /metrics listener binds to' },
  { key: 'metrics.token', env: ['HERALD_METRICS_TOKEN'], type: 'string', default: '', description: 'when set, /metrics is also served on the main HTTP port to requests with Authorization: Bearer <token>', secret: true },

  { key: 'presence.redisUrl', env: ['HERALD_PRESENCE_REDIS_URL'], type: 'string', default: '', description: 'redis://… to share presence between nodes; empty keeps it in this process', secret: true },
  { key: 'presence.redisPrefix', env: ['HERALD_PRESENCE_REDIS_PREFIX'], type: 'string', default: 'herald:presence:', description: 'prefix of the presence keys and channel in Redis' },
  { key: 'presence.nodeTtlMs', env: ['HERALD_PRESENCE_NODE_TTL_MS'], type: 'int', default: 15_000, description: "a node not heard from for this long is dead and its clients' presence entries go (Redis)" },
  { key: 'presence.hookTtlMs', env: ['HERALD_PRESENCE_HOOK_TTL_MS'], type: 'int', default: 300_000, description: "how long a client logged in through a broker hook stays online without a hook ACL call for its client id (the hooks get no disconnect)" },
  ...identitySettings,
  ...ldapSettings,
  ...persistenceSettings,
  ...wnsSettings,
  ...pushDispatchSettings,
  ...adminSettings,
])

export type Config = Record<string, unknown>

export class ConfigError extends Error {}

function parseValue(s: Setting, raw: unknown, source: string): unknown {
  const bad = (why: string) => new ConfigError(`${s.key} (${source}): ${why}, got ${JSON.stringify(raw)}`)
  switch (s.type) {
    case 'string':
      if (typeof raw !== 'string') throw bad('expected a string')
      return raw
    case 'int': {
      const n = typeof raw === 'number' ? raw : Number(String(raw).trim())
      if (!Number.isInteger(n) || n < 0) throw bad('expected a non-negative whole number')
      return n
    }
    case 'port': {
      if (raw === null || raw === 'off' || raw === -1 || raw === '-1' || raw === false) return null
      const n = typeof raw === 'number' ? raw : Number(String(raw).trim())
      if (!Number.isInteger(n) || n < 0 || n > 65535) throw bad('expected a port 0–65535 or "off"')
      return n
    }
    case 'bool':
      if (typeof raw === 'boolean') return raw
      if (/^(true|1|yes|on)$/i.test(String(raw))) return true
      if (/^(false|0|no|off)$/i.test(String(raw))) return false
      throw bad('expected true or false')
    case 'list':
      if (Array.isArray(raw)) return raw.map(String)
      if (typeof raw !== 'string') throw bad('expected a comma list')
      return raw.split(',').map((x) => x.trim()).filter(Boolean)
  }
}

/** `http.port` → `--http-port` */
export function flagName(key: string): string {
  return '--' + key.replace(/\./g, '-').replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v)

/**
 * The config file's values by setting key, whether written dotted (`"http.port"`), nested (`http: {port}`) or
 * both (`heartsms: {"article.fetch": …}`). A key that names no setting stops the start: a typo must not leave a
 * default silently in force. Known keys are those of every dialect Herald has, loaded or not.
 */
function fileValues(node: Record<string, unknown>, known: ReadonlySet<string>, file: string, prefix = '', out = new Map<string, unknown>()): Map<string, unknown> {
  for (const [k, v] of Object.entries(node)) {
    const key = prefix + k
    if (prefix === '' && k === '$schema') continue
    if (known.has(key)) {
      if (out.has(key)) throw new ConfigError(`${key} is set twice in config file ${file}`)
      out.set(key, v)
    } else if (isObject(v) && [...known].some((x) => x.startsWith(key + '.'))) {
      fileValues(v, known, file, key + '.', out)
    } else {
      throw new ConfigError(`unknown setting ${key} in config file ${file}`)
    }
  }
  return out
}

export interface LoadOptions {
  settings?: readonly Setting[]
  env?: NodeJS.ProcessEnv
  file?: string
  flags?: Record<string, unknown>
  /** values set directly by code (tests); highest precedence */
  overrides?: Record<string, unknown>
}

export function loadConfig(opts: LoadOptions = {}): Config {
  const settings = opts.settings ?? coreSettings
  const env = opts.env ?? process.env
  const fileName = opts.file ?? env.HERALD_CONFIG
  let file: unknown = {}
  if (fileName) {
    try {
      file = JSON.parse(readFileSync(fileName, 'utf8'))
    } catch (e) {
      throw new ConfigError(`cannot read config file ${fileName}: ${(e as Error).message}`)
    }
    if (!isObject(file)) throw new ConfigError(`config file ${fileName}: expected a JSON object of settings`)
  }
  const known = new Set(settings.map((s) => s.key))
  const fromFile = fileValues(file as Record<string, unknown>, known, fileName ?? '')
  const cfg: Config = {}
  for (const s of settings) {
    let value = s.default
    const f = fromFile.get(s.key)
    if (f !== undefined) value = parseValue(s, f, `config file ${fileName}`)
    const envName = s.env.find((n) => env[n] !== undefined && env[n] !== '')
    if (envName) value = parseValue(s, env[envName], envName)
    const flag = opts.flags?.[s.key]
    if (flag !== undefined) value = parseValue(s, flag, flagName(s.key))
    const o = opts.overrides?.[s.key]
    if (o !== undefined) value = parseValue(s, o, 'override')
    cfg[s.key] = value
  }
  for (const k of Object.keys(opts.overrides ?? {})) {
    if (!known.has(k)) throw new ConfigError(`unknown setting ${k}`)
  }
  if (!['production', 'development'].includes(cfg.mode as string)) {
    throw new ConfigError(`mode: expected production or development, got ${JSON.stringify(cfg.mode)}`)
  }
  return cfg
}

/** The effective configuration as `herald config` prints it: secrets masked. */
export function describeConfig(cfg: Config, settings: readonly Setting[] = coreSettings): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const s of settings) {
    const v = cfg[s.key]
    out[s.key] = s.secret && v ? maskSecret(String(v)) : v
  }
  return out
}

function maskSecret(v: string): string {
  // keep a URL's shape but hide its password
  const m = /^([a-z]+:\/\/[^:/@]*:)([^@]*)(@.*)$/i.exec(v)
  return m ? `${m[1]}****${m[3]}` : '****'
}

export function str(cfg: Config, key: string): string { return cfg[key] as string }
export function num(cfg: Config, key: string): number { return cfg[key] as number }
export function port(cfg: Config, key: string): number | null { return cfg[key] as number | null }
export function bool(cfg: Config, key: string): boolean { return cfg[key] as boolean }
export function list(cfg: Config, key: string): string[] { return cfg[key] as string[] }

/** The setting documented for a key, for error messages that name what to change. */
export function settingHint(key: string, settings: readonly Setting[] = coreSettings): string {
  const s = settings.find((x) => x.key === key)
  return s ? `${s.env[0]} or ${flagName(key)}` : key
}

type ValueOf<S extends Setting> = { string: string; int: number; port: number | null; bool: boolean; list: string[] }[S['type']]
type Nest<K extends string, V> = K extends `${infer H}.${infer R}` ? { [P in H]: Nest<R, V> } : { [P in K]: V }
type Strip<K extends string, P extends string> = P extends '' ? K : K extends `${P}.${infer R}` ? R : K
type Merge<U> = (U extends unknown ? (x: U) => void : never) extends (x: infer I) => void ? I : never

/** The typed view of a settings schema: `chat21.http.port` (type port) read with prefix `chat21` is `s.http.port: number | null`. */
export type SettingsOf<T extends readonly Setting[], P extends string = ''> =
  Merge<{ [I in keyof T]: T[I] extends Setting ? Nest<Strip<T[I]['key'], P>, ValueOf<T[I]>> : never }[number]>

/** Declare a settings schema keeping each key and type literal, for `settingsOf`. */
export function defineSettings<const T extends readonly Setting[]>(schema: T): T { return schema }

/** Read a schema's settings from the loaded configuration as one typed object, nested at the dots of the keys. */
export function settingsOf<const T extends readonly Setting[], P extends string = ''>(cfg: Config, schema: T, prefix?: P): SettingsOf<T, P> {
  const out: Record<string, unknown> = {}
  for (const s of schema) {
    if (!(s.key in cfg)) throw new Error(`setting ${s.key} is not in the loaded configuration schema`)
    const parts = (prefix && s.key.startsWith(prefix + '.') ? s.key.slice(prefix.length + 1) : s.key).split('.')
    let node = out
    for (const part of parts.slice(0, -1)) node = (node[part] ??= {}) as Record<string, unknown>
    node[parts.at(-1)!] = cfg[s.key]
  }
  return out as SettingsOf<T, P>
}
