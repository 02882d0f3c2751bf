// Outbox metrics on Herald's registry: counters per queue, the depth gauges (read from the table at scrape time).
import { Counter, Gauge, Histogram, type Registry } from 'prom-client'
import type { OutboxStore } from './store.ts'

export interface OutboxMetrics {
  enqueued: Counter<'queue'>
  completed: Counter<'queue'>
  retried: Counter<'queue'>
  dead: Counter<'queue'>
  duration: Histogram<'queue' | 'outcome'>
  /** a queue this process consumes: its gauges read 0 when empty instead of being absent */
  track(queue: string): void
}

/** one metric per name in a registry: a second outbox on the same registry shares the first one's */
function once<T>(registry: Registry, name: string, make: () => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? make()
}

export function outboxMetrics(registry: Registry, store: OutboxStore): OutboxMetrics {
  const registers = [registry]
  const seen = new Set<string>()
  const gauge = (name: string, help: string, pick: (c: { live: number; dead: number }) => number) => once(registry, name, () => new Gauge({
    name, help, labelNames: ['queue'], registers,
    async collect() {
      const counts = await store.counts().catch(() => undefined)
      if (!counts) return
      this.reset()
      for (const q of seen) this.set({ queue: q }, 0)
      for (const c of counts) { seen.add(c.queue); this.set({ queue: c.queue }, pick(c)) }
    },
  }))
  gauge('herald_outbox_depth', 'outbox jobs waiting or running, per queue', (c) => c.live)
  gauge('herald_outbox_dead_jobs', 'dead-lettered outbox jobs kept for inspection or re-queueing, per queue', (c) => c.dead)
  const counter = (name: string, help: string) => once(registry, name, () => new Counter({ name, help, labelNames: ['queue'], registers }))
  return {
    enqueued: counter('herald_outbox_enqueued_total', 'outbox jobs enqueued by this process (in a transaction: counted before its commit)'),
    completed: counter('herald_outbox_completed_total', 'outbox jobs done'),
    retried: counter('herald_outbox_retried_total', 'outbox job attempts that failed and were scheduled again'),
    dead: counter('herald_outbox_dead_total', 'outbox jobs dead-lettered after their last attempt'),
    duration: once(registry, 'herald_outbox_job_duration_seconds', () => new Histogram({
      name: 'herald_outbox_job_duration_seconds', help: 'outbox job handler run time', labelNames: ['queue', 'outcome'], registers,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    })),
    track: (queue) => { seen.add(queue) },
  }
}
