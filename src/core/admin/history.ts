// One sample a second of what the console's overview charts, from Herald's own Prometheus metrics where they exist
// (connections gauge, message tallies, auth failures, HTTP latency histogram, outbox and push deliveries), plus the
// event-loop delay and RSS; the last hour kept in memory (issue 15 item 2).
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks'
import type { Metrics } from '../http/metrics.ts'

export interface Sample {
  /** epoch milliseconds */
  t: number
  connections: number
  /** per second */
  messagesIn: number
  messagesOut: number
  /** outbox jobs done (webhooks, …) and pushes delivered */
  deliveries: number
  authFailures: number
  /** HTTP request latency in this second, milliseconds (null: no request finished) */
  httpP50: number | null
  httpP99: number | null
  /** event-loop delay p99 in this second, milliseconds */
  eventLoopP99: number
  rss: number
}

export const SAMPLE_FIELDS = ['t', 'connections', 'messagesIn', 'messagesOut', 'deliveries', 'authFailures', 'httpP50', 'httpP99', 'eventLoopP99', 'rss'] as const

interface MetricValue { value: number; labels: Record<string, string | number>; metricName?: string }

/** Sum of a metric's values in the registry (optionally only those whose labels pass `keep`); 0 when absent. */
async function total(m: Metrics, name: string, keep?: (labels: Record<string, string | number>) => boolean): Promise<number> {
  const metric = m.registry.getSingleMetric(name)
  if (!metric) return 0
  const got = await metric.get() as { values: MetricValue[] }
  return got.values.reduce((s, v) => s + (keep && !keep(v.labels) ? 0 : v.value), 0)
}

/** cumulative bucket counts of the HTTP latency histogram, all routes together, by upper bound (seconds) */
async function httpBuckets(m: Metrics): Promise<Map<number, number>> {
  const got = await m.httpDuration.get() as { values: MetricValue[] }
  const out = new Map<number, number>()
  for (const v of got.values) {
    if (!v.metricName?.endsWith('_bucket')) continue
    const le = v.labels.le === '+Inf' ? Infinity : Number(v.labels.le)
    out.set(le, (out.get(le) ?? 0) + v.value)
  }
  return out
}

/** A quantile (ms) of the requests between two cumulative bucket snapshots, interpolated inside its bucket. */
export function quantileOf(prev: Map<number, number>, cur: Map<number, number>, q: number): number | null {
  const bounds = [...cur.keys()].sort((a, b) => a - b)
  const counts = bounds.map((b) => (cur.get(b) ?? 0) - (prev.get(b) ?? 0))
  const n = counts[counts.length - 1] ?? 0
  if (n <= 0) return null
  const rank = q * n
  let lower = 0
  let below = 0
  for (let i = 0; i < bounds.length; i++) {
    if (counts[i] >= rank) {
      const upper = Number.isFinite(bounds[i]) ? bounds[i] : lower
      const inBucket = counts[i] - below
      const frac = inBucket > 0 ? (rank - below) / inBucket : 1
      return (lower + (upper - lower) * frac) * 1000
    }
    lower = Number.isFinite(bounds[i]) ? bounds[i] : lower
    below = counts[i]
  }
  return lower * 1000
}

export class History {
  private samples: Sample[] = []
  private timer: NodeJS.Timeout | undefined
  private loop: IntervalHistogram
  private last: { t: number; in: number; out: number; deliveries: number; auth: number; http: Map<number, number> } | undefined
  private listeners = new Set<(s: Sample) => void>()

  /** `connections`: where the gauge is not Herald's to keep (an external broker), the count of the sessions' events */
  constructor(private metrics: Metrics, private keep = 3600, private connections?: () => number) {
    this.loop = monitorEventLoopDelay({ resolution: 10 })
  }

  async start(intervalMs = 1000): Promise<void> {
    this.loop.enable()
    this.last = await this.read()
    this.timer = setInterval(() => { this.tick().catch(() => {}) }, intervalMs)
    this.timer.unref()
  }

  private async read() {
    const m = this.metrics
    const deliveries = await total(m, 'herald_outbox_completed_total') + await total(m, 'herald_push_sent_total', (l) => l.outcome === 'delivered')
    return { t: Date.now(), in: m.messagesIn.value, out: m.messagesOut.value, deliveries, auth: await total(m, 'herald_auth_failures_total'), http: await httpBuckets(m) }
  }

  private async tick(): Promise<void> {
    const cur = await this.read()
    const prev = this.last ?? cur
    this.last = cur
    const secs = Math.max(0.001, (cur.t - prev.t) / 1000)
    const rate = (a: number, b: number) => Math.max(0, (a - b) / secs)
    const s: Sample = {
      t: cur.t,
      connections: this.connections ? this.connections() : await total(this.metrics, 'herald_mqtt_connections'),
      messagesIn: rate(cur.in, prev.in), messagesOut: rate(cur.out, prev.out),
      deliveries: rate(cur.deliveries, prev.deliveries), authFailures: rate(cur.auth, prev.auth),
      httpP50: quantileOf(prev.http, cur.http, 0.5), httpP99: quantileOf(prev.http, cur.http, 0.99),
      eventLoopP99: this.loop.count > 0 ? this.loop.percentile(99) / 1e6 : 0,
      rss: process.memoryUsage.rss(),
    }
    this.loop.reset()
    this.samples.push(s)
    if (this.samples.length > this.keep) this.samples.splice(0, this.samples.length - this.keep)
    for (const fn of this.listeners) fn(s)
  }

  all(): Sample[] { return this.samples.slice() }

  onSample(fn: (s: Sample) => void): () => void {
    this.listeners.add(fn)
    return () => this.listeners.delete(fn)
  }

  stop(): void {
    clearInterval(this.timer)
    this.loop.disable()
    this.listeners.clear()
  }
}
