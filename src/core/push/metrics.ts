// Push metrics on Herald's registry (issue 14 item 4): herald_push_sent_total{provider,outcome}, pushes accepted per
// dialect, the queue's depth and oldest age per provider (read from the table at scrape time), and the waits.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client'
import type { PushQueueStore } from './queue-store.ts'

export interface PushMetrics {
  accepted: Counter<'provider' | 'dialect'>
  sent: Counter<'provider' | 'outcome'>
  /** send() to the first attempt */
  wait: Histogram<'provider'>
  /** send() to the provider's acceptance */
  delivery: Histogram<'provider'>
}

/** one metric per name in a registry: a second dispatcher on the same registry (tests) shares the first one's */
function once<T>(registry: Registry, name: string, make: () => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? make()
}

const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600]

export function pushMetrics(registry: Registry, store: PushQueueStore, providers: readonly string[]): PushMetrics {
  const registers = [registry]
  let read: Promise<{ provider: string; depth: number; oldest: number }[] | undefined> | undefined
  // one query per scrape serves both gauges
  const depths = () => (read ??= store.depths().catch(() => undefined).finally(() => setTimeout(() => { read = undefined }, 0)))
  once(registry, 'herald_push_queue_depth', () => new Gauge({
    name: 'herald_push_queue_depth', help: 'pushes queued (waiting, being sent or waiting for a retry), per provider', labelNames: ['provider'], registers,
    async collect() {
      const d = await depths()
      if (!d) return
      for (const p of providers) this.set({ provider: p }, d.find((x) => x.provider === p)?.depth ?? 0)
    },
  }))
  once(registry, 'herald_push_queue_oldest_age_seconds', () => new Gauge({
    name: 'herald_push_queue_oldest_age_seconds', help: 'age of the oldest queued push, per provider (0 when none)', labelNames: ['provider'], registers,
    async collect() {
      const d = await depths()
      if (!d) return
      const now = Date.now()
      for (const p of providers) {
        const x = d.find((e) => e.provider === p)
        this.set({ provider: p }, x ? Math.max(0, now - x.oldest) / 1000 : 0)
      }
    },
  }))
  return {
    accepted: once(registry, 'herald_push_accepted_total', () => new Counter({ name: 'herald_push_accepted_total', help: 'pushes accepted by send() and queued, per provider and dialect', labelNames: ['provider', 'dialect'], registers })),
    sent: once(registry, 'herald_push_sent_total', () => new Counter({
      name: 'herald_push_sent_total', labelNames: ['provider', 'outcome'], registers,
      help: 'push attempts by outcome: delivered, retry (will be attempted again), gone (endpoint removed), discarded (queued for a gone endpoint), failed (rejected for good), expired',
    })),
    wait: once(registry, 'herald_push_queue_wait_seconds', () => new Histogram({ name: 'herald_push_queue_wait_seconds', help: 'time from send() to the first attempt', labelNames: ['provider'], registers, buckets: BUCKETS })),
    delivery: once(registry, 'herald_push_delivery_seconds', () => new Histogram({ name: 'herald_push_delivery_seconds', help: 'time from send() to the provider accepting the push', labelNames: ['provider'], registers, buckets: BUCKETS })),
  }
}
