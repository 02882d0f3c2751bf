// The observer (§3.2): one shared subscription per client command; each topic shape has its own filter, so no
// suffix-based dispatch (§17.8). Outgoing messages are routed concurrently; one sender's messages reach the group
// commit in arrival order (Flow.senders) and copies are published in commit order. Other commands of one user are
// handled one after the other.
import type { BusMessage } from '../../../core/bus/types.ts'
import { parseObject } from '../json.ts'
import type { Doc } from '../store.ts'
import { validId } from '../topics.ts'
import { archiveConversation } from './archive.ts'
import type { Flow } from './context.ts'
import { updateConversation } from './conversations.ts'
import { sendMessage } from './direct.ts'
import { presence } from './presence.ts'
import { receipt } from './receipts.ts'
import { KeyedSerial } from './serial.ts'

export class Observer {
  private serial = new KeyedSerial()
  private unsubscribe: (() => Promise<void>)[] = []
  private stopping = false

  constructor(private flow: Flow) {}

  private on(filter: string, key: ((p: string[]) => string) | null, handle: (p: string[], msg: BusMessage) => Promise<unknown>) {
    return this.flow.bus().subscribe(filter, (msg) => {
      if (this.stopping) return
      const parts = msg.topic.split('/')
      const task = async () => {
        try {
          await handle(parts, msg)
        } catch (err) {
          this.flow.log.error({ err, topic: msg.topic }, 'chat21 command failed')
        }
      }
      const done = key ? this.serial.run(key(parts), task) : this.track(task())
      // acknowledged once handled (stored): on the embedded broker the client's PUBACK waits for it (beforeAck,
      // where commands run as they arrive, their order kept above); an external broker waits for Herald's ack
      return done
    }, { shared: true, qos: 1, beforeAck: true })
  }

  private inflight = new Set<Promise<void>>()

  private track(p: Promise<void>): Promise<void> {
    this.inflight.add(p)
    p.finally(() => this.inflight.delete(p))
    return p
  }

  async start(): Promise<void> {
    const t = this.flow.topics
    // handled before the broker acknowledges (beforeAck): a refused payload is dropped and counted before its PUBACK
    const json = (msg: BusMessage): Doc | null => {
      const r = parseObject(msg.payload, this.flow.opts.json)
      if (r.ok) return r.value as Doc
      this.flow.metrics.dropped(r.reason)
      this.flow.log.debug({ topic: msg.topic, reason: r.reason }, 'chat21: payload is not an acceptable JSON object, dropped')
      return null
    }
    const subs = await Promise.all([
      this.on(t.outgoingFilter(), null, async (p, msg) => {
        const body = json(msg)
        if (body && validId(p[4]) && validId(p[6])) await sendMessage(this.flow, p[4], p[6], body)
      }),
      this.on(t.receiptFilter(), (p) => p[3], async (p, msg) => {
        const body = json(msg)
        if (body && [p[3], p[5], p[6]].every(validId)) await receipt(this.flow, p[3], p[5], p[6], body)
      }),
      this.on(t.conversationUpdateFilter(), (p) => p[3], async (p, msg) => {
        const body = json(msg)
        if (body && validId(p[3]) && validId(p[5])) await updateConversation(this.flow, p[3], p[5], body)
      }),
      this.on(t.archiveFilter(), (p) => p[3], async (p) => {
        if (validId(p[3]) && validId(p[5])) await archiveConversation(this.flow, p[3], p[5])
      }),
      this.on(t.presenceFilter(), (p) => p[3], async (p, msg) => {
        if (!validId(p[3])) return
        // §4.6: a payload without a truthy `connected` (whatever it is) means offline
        const r = parseObject(msg.payload, this.flow.opts.json)
        await presence(this.flow, p[3], r.ok ? r.value as Doc : null)
      }),
    ])
    this.unsubscribe.push(...subs)
  }

  async stop(): Promise<void> {
    this.stopping = true
    await Promise.allSettled(this.unsubscribe.map((u) => u()))
    await this.serial.idle()
    await Promise.allSettled([...this.inflight])
  }
}
