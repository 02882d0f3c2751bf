// chat21 §11.1: Prometheus counters per outgoing message, on the Herald instance's registry. Counted in plain
// maps on the message path and copied into Prometheus at scrape time, like the broker's own counters. User ids and
// client addresses stay out of label values unless chat21.metrics.originalLabels is on.
import { Counter, type Registry } from 'prom-client'
import { JSON_REFUSALS, type JsonRefusal } from './json.ts'
import type { Doc } from './store.ts'
import { isGroup, rk } from './topics.ts'

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

/** The outgoing routing key with its sender and recipient ids replaced: who talks to whom stays out of labels. */
export function topicShape(topic: string, msg: Doc): string {
  const p = topic.split('/')
  if (p.length !== 8) return rk(topic)
  p[4] = ':sender'
  p[6] = isGroup(p[6], msg) ? ':group' : ':recipient'
  return p.join('.')
}

export interface Chat21MetricsOptions {
  /** the original's labels (§11.1): user ids in `topic`, and the per-IP counters; off by default */
  originalLabels?: boolean
}

export class Chat21Metrics {
  private perTopic: LabelledTally<'topic'>
  private perProject: LabelledTally<'project_id'>
  private perIp?: LabelledTally<'ip_address'>
  private perProjectIp?: LabelledTally<'project_id' | 'ip_address'>
  private drops: Counter<'reason'>
  private originalLabels: boolean

  constructor(registry: Registry, o: Chat21MetricsOptions = {}) {
    this.originalLabels = o.originalLabels === true
    this.perTopic = new LabelledTally(registry, 'chat21_messages_per_topic_total', this.originalLabels
      ? 'chat21 outgoing messages routed, per outgoing routing key'
      : 'chat21 outgoing messages routed, per outgoing routing key with the ids replaced by :sender, :recipient or :group', ['topic'])
    this.perProject = new LabelledTally(registry, 'chat21_messages_per_project_total', 'chat21 outgoing messages routed, per attributes.projectId', ['project_id'])
    // client addresses are personal data: these two counters exist only when the operator asks for them
    if (this.originalLabels) {
      this.perIp = new LabelledTally(registry, 'chat21_messages_per_ip_total', 'chat21 outgoing messages routed, per attributes.ipAddress', ['ip_address'])
      this.perProjectIp = new LabelledTally(registry, 'chat21_messages_per_project_ip_total', 'chat21 outgoing messages routed, per attributes.projectId and attributes.ipAddress', ['project_id', 'ip_address'])
    }
    this.drops = new Counter({
      name: 'chat21_messages_dropped_total', help: 'chat21 client payloads dropped unread over MQTT (too large, too deeply nested, not a JSON object)',
      labelNames: ['reason'], registers: [registry],
    })
    for (const reason of JSON_REFUSALS) this.drops.inc({ reason }, 0)
  }

  /** One outgoing message routed; `topic` in MQTT form, labelled as the original's AMQP routing key (§11.1). */
  outgoing(topic: string, msg: Doc): void {
    this.perTopic.inc([this.originalLabels ? rk(topic) : topicShape(topic, msg)])
    const project = attr(msg, 'projectId')
    if (project) this.perProject.inc([project])
    if (!this.originalLabels) return
    const ip = attr(msg, 'ipAddress')
    if (ip) this.perIp!.inc([ip])
    if (project && ip) this.perProjectIp!.inc([project, ip])
  }

  /** A client payload the observer refused before handling it (and, on the embedded broker, before its PUBACK). */
  dropped(reason: JsonRefusal): void {
    this.drops.inc({ reason })
  }
}
