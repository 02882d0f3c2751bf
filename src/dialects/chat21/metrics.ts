// chat21 §11.1: Prometheus counters per outgoing message, on the Herald instance's registry. Counted in plain
// maps on the message path and copied into Prometheus at scrape time, like the broker's own counters.
import { Counter, type Registry } from 'prom-client'
import type { Doc } from './store.ts'
import { rk } from './topics.ts'

/** Label values are client-chosen: each is cut to this length… */
export const MAX_LABEL_LENGTH = 100
/** …and a counter keeps at most this many label sets; later new ones are counted under `OTHER`. */
export const MAX_SERIES = 10_000
export const OTHER = '_other'

class LabelledTally<L extends string> {
  private series = new Map<string, { labels: Record<L, string>; value: number }>()

  constructor(registry: Registry, name: string, help: string, private labelNames: L[]) {
    const series = this.series
    new Counter<L>({
      name, help, labelNames, registers: [registry],
      collect() {
        this.reset()
        for (const s of series.values()) this.inc(s.labels, s.value)
      },
    })
  }

  inc(values: string[]): void {
    let cut = values.map((v) => v.slice(0, MAX_LABEL_LENGTH))
    let key = cut.join('\u0000')
    let s = this.series.get(key)
    if (!s && this.series.size >= MAX_SERIES) {
      cut = values.map(() => OTHER)
      key = cut.join('\u0000')
      s = this.series.get(key)
    }
    if (!s) {
      s = { labels: Object.fromEntries(this.labelNames.map((n, i) => [n, cut[i]])) as Record<L, string>, value: 0 }
      this.series.set(key, s)
    }
    s.value++
  }
}

const attr = (msg: Doc, k: string): string | undefined => {
  const v = msg.attributes?.[k]
  return typeof v === 'string' && v !== '' ? v : undefined
}

export class Chat21Metrics {
  private perTopic: LabelledTally<'topic'>
  private perProject: LabelledTally<'project_id'>
  private perIp: LabelledTally<'ip_address'>
  private perProjectIp: LabelledTally<'project_id' | 'ip_address'>

  constructor(registry: Registry) {
    this.perTopic = new LabelledTally(registry, 'chat21_messages_per_topic_total', 'chat21 outgoing messages routed, per outgoing routing key', ['topic'])
    this.perProject = new LabelledTally(registry, 'chat21_messages_per_project_total', 'chat21 outgoing messages routed, per attributes.projectId', ['project_id'])
    this.perIp = new LabelledTally(registry, 'chat21_messages_per_ip_total', 'chat21 outgoing messages routed, per attributes.ipAddress', ['ip_address'])
    this.perProjectIp = new LabelledTally(registry, 'chat21_messages_per_project_ip_total', 'chat21 outgoing messages routed, per attributes.projectId and attributes.ipAddress', ['project_id', 'ip_address'])
  }

  /** One outgoing message routed; `topic` in MQTT form, labelled as the original's AMQP routing key. */
  outgoing(topic: string, msg: Doc): void {
    this.perTopic.inc([rk(topic)])
    const project = attr(msg, 'projectId')
    const ip = attr(msg, 'ipAddress')
    if (project) this.perProject.inc([project])
    if (ip) this.perIp.inc([ip])
    if (project && ip) this.perProjectIp.inc([project, ip])
  }
}
