// Prometheus metrics, one registry per Herald instance (several may run in one test process).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'

/** A counter for the broker's per-message paths: a plain number, copied into Prometheus only at scrape time. */
export interface Tally { value: number }

export interface Metrics {
  registry: Registry
  connections: Gauge
  messagesIn: Tally
  messagesOut: Tally
  authFailures: Counter<'reason'>
  /** client PUBLISHes acknowledged and dropped: `denied` by the access layer, `reserved` ($SYS) */
  publishDenied: Counter<'reason'>
  httpDuration: Histogram<'method' | 'route' | 'status'>
}

export function createMetrics(defaults = true): Metrics {
  const registry = new Registry()
  if (defaults) collectDefaultMetrics({ register: registry, prefix: 'herald_' })
  const registers = [registry]
  return {
    registry,
    connections: new Gauge({ name: 'herald_mqtt_connections', help: 'MQTT clients connected to the embedded broker', registers }),
    messagesIn: tally('herald_mqtt_messages_in_total', 'PUBLISH packets accepted from clients', registry),
    messagesOut: tally('herald_mqtt_messages_out_total', 'messages delivered to clients', registry),
    authFailures: new Counter({ name: 'herald_auth_failures_total', help: 'refused logins', labelNames: ['reason'], registers }),
    publishDenied: new Counter({ name: 'herald_mqtt_publish_denied_total', help: 'client PUBLISH packets acknowledged and dropped (not authorized, or $SYS)', labelNames: ['reason'], registers }),
    httpDuration: new Histogram({
      name: 'herald_http_request_duration_seconds', help: 'HTTP request latency', labelNames: ['method', 'route', 'status'], registers,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    }),
  }
}

function tally(name: string, help: string, registry: Registry): Tally {
  const t = { value: 0 }
  new Counter({ name, help, registers: [registry], collect() { this.reset(); this.inc(t.value) } })
  return t
}
