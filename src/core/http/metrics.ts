// Prometheus metrics, one registry per Herald instance (several may run in one test process).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'

export interface Metrics {
  registry: Registry
  connections: Gauge
  messagesIn: Counter
  messagesOut: Counter
  authFailures: Counter<'reason'>
  httpDuration: Histogram<'method' | 'route' | 'status'>
}

export function createMetrics(defaults = true): Metrics {
  const registry = new Registry()
  if (defaults) collectDefaultMetrics({ register: registry, prefix: 'herald_' })
  const registers = [registry]
  return {
    registry,
    connections: new Gauge({ name: 'herald_mqtt_connections', help: 'MQTT clients connected to the embedded broker', registers }),
    messagesIn: new Counter({ name: 'herald_mqtt_messages_in_total', help: 'PUBLISH packets accepted from clients', registers }),
    messagesOut: new Counter({ name: 'herald_mqtt_messages_out_total', help: 'messages delivered to clients', registers }),
    authFailures: new Counter({ name: 'herald_auth_failures_total', help: 'refused logins', labelNames: ['reason'], registers }),
    httpDuration: new Histogram({
      name: 'herald_http_request_duration_seconds', help: 'HTTP request latency', labelNames: ['method', 'route', 'status'], registers,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    }),
  }
}
