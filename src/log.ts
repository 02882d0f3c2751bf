// The logger (pino): human-readable (pino-pretty) on a terminal, one JSON object a line otherwise (issue 15 §4).
import pino, { type Logger, type LoggerOptions } from 'pino'
import { createRequire } from 'node:module'
import type prettyModule from 'pino-pretty'

export type LogFormat = 'json' | 'pretty'

/** logFormat (HERALD_LOG_FORMAT): `json` or `pretty` as asked; `auto` (the default) pretty on a TTY, else JSON. */
export function logFormat(setting: string, isTTY: boolean): LogFormat {
  if (setting === 'json' || setting === 'pretty') return setting
  if (setting === 'auto' || setting === '') return isTTY ? 'pretty' : 'json'
  throw new Error(`logFormat (HERALD_LOG_FORMAT) is auto, json or pretty, not ${setting}`)
}

/** The start line's `urls`, one per line under the message on a terminal. */
function prettyUrls(value: unknown): string {
  const urls = value as Record<string, string>
  const width = Math.max(...Object.keys(urls).map((k) => k.length))
  return Object.entries(urls).map(([name, url]) => `\n    ${name.padEnd(width)}  ${url}`).join('')
}

export function createLogger(level: string, format = 'auto', out: NodeJS.WriteStream = process.stdout): Logger {
  const options: LoggerOptions = { level, base: { service: 'herald' }, redact: ['password', '*.password', 'req.headers.authorization'] }
  const isTTY = Boolean(out.isTTY)
  if (logFormat(format, isTTY) === 'json') return out === process.stdout ? pino(options) : pino(options, out)
  // pino-pretty is loaded only for a pretty log: a JSON-logging server never pays for it (issue 11 item 7)
  const pretty = createRequire(import.meta.url)('pino-pretty') as typeof prettyModule
  return pino(options, pretty({
    destination: out === process.stdout ? 1 : out,
    colorize: isTTY,
    sync: true,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'pid,hostname,service',
    customPrettifiers: { urls: prettyUrls },
  }))
}

export interface StartUrlsInput {
  /** the address the listeners bind to (HERALD_HOST) */
  host: string
  metricsHost: string
  /** actual ports by listener name (Herald.ports) */
  ports: Record<string, number>
  console: boolean
  /** MQTT over WebSocket paths on the HTTP(S) port (none without the embedded broker) */
  wsPaths: string[]
  /** names in `ports` that are a dialect's own HTTP port */
  httpPorts: ReadonlySet<string>
}

function hostPart(host: string): string {
  const h = host === '' || host === '0.0.0.0' || host === '::' ? 'localhost' : host
  return h.includes(':') ? `[${h}]` : h
}

/** Where to go: the console, the API docs and every listener, as URLs (the start line, issue 15 §4). */
export function startUrls(o: StartUrlsInput): Record<string, string> {
  const at = (scheme: string, port: number, host = o.host) => `${scheme}://${hostPart(host)}:${port}`
  const urls: Record<string, string> = {}
  const { http, https, mqtt, mqtts, metrics } = o.ports
  const web = http !== undefined ? at('http', http) : https !== undefined ? at('https', https) : undefined
  if (web && o.console) urls.console = `${web}/console`
  if (web) urls['API docs'] = `${web}/api/docs`
  if (http !== undefined) urls.http = at('http', http)
  if (https !== undefined) urls.https = at('https', https)
  if (mqtt !== undefined) urls.mqtt = at('mqtt', mqtt)
  if (mqtts !== undefined) urls.mqtts = at('mqtts', mqtts)
  if (http !== undefined && o.wsPaths.length) urls.ws = o.wsPaths.map((p) => `${at('ws', http)}${p}`).join(' ')
  if (https !== undefined && o.wsPaths.length) urls.wss = o.wsPaths.map((p) => `${at('wss', https)}${p}`).join(' ')
  if (metrics !== undefined) urls.metrics = `${at('http', metrics, o.metricsHost)}/metrics`
  for (const [name, port] of Object.entries(o.ports)) {
    if (['http', 'https', 'mqtt', 'mqtts', 'metrics'].includes(name)) continue
    if (name.startsWith('ws:')) urls[name] = `${at('ws', port)}${name.slice(3)}`
    else urls[name] = o.httpPorts.has(name) ? at('http', port) : `${hostPart(o.host)}:${port}`
  }
  return urls
}
