// The embedded broker's resource limits (issue 11 §4): connections in total and per address, CONNECT rate per address,
// topic length and levels, and the traffic counters `$SYS/broker/…` reports. Each refusal is counted in
// herald_mqtt_limited_total{limit}.
import { Counter, type Registry } from 'prom-client'

/** The broker's limits from Herald's settings (src/config.ts, `mqtt.*`), given the way to read a number setting. */
export function limitsFromSettings(num: (key: string) => number): Record<string, number> {
  const keys = ['drainTimeoutMs', 'connectTimeoutMs', 'maxConnections', 'maxConnectionsPerAddress', 'connectRatePerAddress',
    'maxInflightIn', 'maxTopicLength', 'maxTopicLevels', 'maxQueuedBytes', 'sysIntervalS']
  return Object.fromEntries(keys.map((k) => [k, num(`mqtt.${k}`)]))
}

/** what a limit refused; the label of herald_mqtt_limited_total */
export type LimitName =
  | 'connections' | 'connections-per-address' | 'connect-rate' | 'connections-per-principal'
  | 'inflight-in' | 'topic-length' | 'topic-levels' | 'subscriptions'
  | 'queue-qos0' | 'queue-qos' | 'drain-timeout' | 'connect-timeout' | 'keepalive'

export type Limited = (limit: LimitName) => void

export function limitedCounter(registry: Registry): Limited {
  const c = new Counter({
    name: 'herald_mqtt_limited_total',
    help: 'MQTT connections, packets and messages refused, dropped or disconnected by a broker limit',
    labelNames: ['limit'],
    registers: [registry],
  })
  return (limit) => c.inc({ limit })
}

/** open connections in total and per remote address, counted from accept to close */
export class ConnectionCount {
  private total = 0
  private byAddress = new Map<string, number>()

  constructor(private maxTotal: number, private maxPerAddress: number) {}

  /** null: admitted (call the returned release on close); else the limit that refuses it */
  admit(address: string | undefined): { release: () => void } | LimitName {
    if (this.maxTotal > 0 && this.total >= this.maxTotal) return 'connections'
    const key = address ?? ''
    const n = this.byAddress.get(key) ?? 0
    if (this.maxPerAddress > 0 && address !== undefined && n >= this.maxPerAddress) return 'connections-per-address'
    this.total++
    this.byAddress.set(key, n + 1)
    let released = false
    return {
      release: () => {
        if (released) return
        released = true
        this.total--
        const left = (this.byAddress.get(key) ?? 1) - 1
        if (left > 0) this.byAddress.set(key, left)
        else this.byAddress.delete(key)
      },
    }
  }
}

/** A token bucket per address: `rate` CONNECTs a second, bursts of up to `rate` (at least 1). 0: no limit. */
export class ConnectRate {
  private buckets = new Map<string, { tokens: number; at: number }>()

  constructor(private rate: number, private now: () => number = Date.now) {}

  take(address: string | undefined): boolean {
    if (this.rate <= 0 || address === undefined) return true
    const t = this.now()
    const burst = Math.max(1, this.rate)
    const b = this.buckets.get(address) ?? { tokens: burst, at: t }
    b.tokens = Math.min(burst, b.tokens + ((t - b.at) / 1000) * this.rate)
    b.at = t
    // a full bucket says nothing a new one would not: forget it, so the map holds only recent addresses
    if (this.buckets.size > 10_000) for (const [k, v] of this.buckets) if (v.tokens + ((t - v.at) / 1000) * this.rate >= burst) this.buckets.delete(k)
    if (b.tokens < 1) { this.buckets.set(address, b); return false }
    b.tokens -= 1
    this.buckets.set(address, b)
    return true
  }
}

/** Aedes builds its topic matchers with qlobber's 100-word ceiling (aedes.js MAX_TOPIC_LEVELS) */
export const AEDES_MAX_TOPIC_LEVELS = 100

/** why `topic` (a name or a filter) is over the limits, or undefined; 0 means no limit */
export function topicOverLimit(topic: string, maxBytes: number, maxLevels: number): 'topic-length' | 'topic-levels' | undefined {
  if (maxBytes > 0 && topic.length > maxBytes / 3 && Buffer.byteLength(topic) > maxBytes) return 'topic-length'
  if (maxLevels > 0) {
    let levels = 1
    for (let i = topic.indexOf('/'); i >= 0; i = topic.indexOf('/', i + 1)) if (++levels > maxLevels) return 'topic-levels'
  }
  return undefined
}

/** Traffic of all connections, as `$SYS/broker/…` reports it (Mosquitto's meanings: packets of any type as messages). */
export class TrafficStats {
  packetsIn = 0
  packetsOut = 0
  publishIn = 0
  publishOut = 0
  bytesIn = 0
  bytesOut = 0
  /** QoS 0 PUBLISHes not written to a client whose socket was over its queue bound */
  publishDropped = 0
}
