// Persistent sessions: N subscribers with clean=false QoS 1 subscriptions go offline, a publisher sends M QoS 1
// messages (at most `inflight` unacknowledged), the subscribers come back with the same client ids and drain their
// queues. Every subscriber should receive all M messages (sequence numbers in the payload tail, counted once each).
import { performance } from 'node:perf_hooks'
import type { BrokerUnderTest } from './brokers.ts'
import { PUBACK, PUBLISH, PublishTemplate, TAIL, TAIL_SEQ, type ProtocolVersion } from './mqtt-wire.ts'
import { procStats } from './proc.ts'
import { closeAll, connectAll } from './raw-load.ts'

export interface PersistentScenario {
  name: string
  subscribers: number
  messages: number
  /** QoS 1 publishes the publisher keeps unacknowledged */
  inflight: number
  payloadBytes: number
  protocol: ProtocolVersion
  timeLimitMs: number
}

export interface PersistentResult {
  /** PUBACKed publishes per second while every subscriber is offline */
  publishRate: number
  /** deliveries per second from the first reconnect to the last delivery */
  drainRate: number
  expected: number
  /** distinct (subscriber, message) pairs received */
  received: number
  duplicates: number
  drainSeconds: number
  publishBrokerCpuMs: number
  drainBrokerCpuMs: number
  publishLoadCpuMs: number
  drainLoadCpuMs: number
  publishSeconds: number
  peakRss: number
  timedOut: boolean
}

const STALL_MS = 3000
const SESSION_EXPIRY = 3600 // MQTT 5: the offline session must outlive the connection
let runs = 0

export async function runPersistent(b: BrokerUnderTest, s: PersistentScenario): Promise<PersistentResult> {
  const run = ++runs
  const topic = `bench/p${process.pid}x${run}/queue`
  const ids = Array.from({ length: s.subscribers }, (_, i) => `bench-ps-${process.pid}-${run}-${i}`)
  let peakRss = 0
  const sample = () => { peakRss = Math.max(peakRss, procStats(b.pid)?.rss ?? 0) }
  const watch = setInterval(sample, 100)
  try {
    // 1. the sessions: subscribe, then leave with DISCONNECT (the session stays)
    const first = await connectAll(b, ids, s.protocol, false, SESSION_EXPIRY)
    await Promise.all(first.map((c) => c.subscribe(topic, 1)))
    await closeAll(first)

    // 2. publish M QoS 1 messages to the offline subscribers
    const [pub] = await connectAll(b, [`bench-ps-${process.pid}-${run}-pub`], s.protocol)
    const template = new PublishTemplate(topic, 1, s.payloadBytes, s.protocol, 0)
    const cpu0 = procStats(b.pid)?.cpuMs ?? NaN, load0 = process.cpuUsage()
    const t0 = performance.now()
    let sent = 0, acked = 0, timedOut = false
    await new Promise<void>((resolve) => {
      const send = () => {
        const k = Math.min(s.messages - sent, s.inflight - (sent - acked))
        if (k <= 0) return
        pub.write(template.batch(k, 1, (sent % 0xffff) + 1, sent, performance.now()))
        sent += k
      }
      const limit = setTimeout(() => { timedOut = true; resolve() }, s.timeLimitMs)
      pub.onFrame = (first) => { if (first >> 4 === PUBACK) acked++ }
      pub.afterChunk = () => {
        if (acked >= s.messages) { clearTimeout(limit); resolve() } else send()
      }
      send()
    })
    const publishSeconds = (performance.now() - t0) / 1000
    const cpu1 = procStats(b.pid)?.cpuMs ?? NaN, publishLoad = process.cpuUsage(load0)
    await pub.close()

    // 3. the subscribers come back (clean=false, no SUBSCRIBE) and drain
    const seen = ids.map(() => new Uint8Array(s.messages))
    let received = 0, duplicates = 0, last = performance.now()
    const expected = s.subscribers * s.messages
    const load1 = process.cpuUsage()
    const t1 = performance.now()
    const back = await connectAll(b, ids, s.protocol, false, SESSION_EXPIRY)
    await new Promise<void>((resolve) => {
      const end = () => { clearInterval(stall); clearTimeout(limit); resolve() }
      const limit = setTimeout(() => { timedOut = true; end() }, s.timeLimitMs)
      const stall = setInterval(() => { if (performance.now() - last > STALL_MS) end() }, 200)
      back.forEach((c, i) => {
        c.onFrame = (firstByte, buf, body, endAt) => {
          if (firstByte >> 4 !== PUBLISH) return
          if (firstByte & 0x06) {
            const at = body + 2 + buf.readUInt16BE(body)
            c.ack((buf[at] << 8) | buf[at + 1])
          }
          const seq = buf.readUInt32LE(endAt - TAIL + TAIL_SEQ)
          if (seq >= s.messages) return
          if (seen[i][seq]) duplicates++
          else { seen[i][seq] = 1; received++ }
          last = performance.now()
        }
        c.afterChunk = () => { if (received >= expected) end() }
      })
      if (received >= expected) end()
    })
    const drainSeconds = (last - t1) / 1000
    const cpu2 = procStats(b.pid)?.cpuMs ?? NaN, drainLoad = process.cpuUsage(load1)
    await closeAll(back)

    // 4. end the sessions so the broker holds nothing for the next scenario
    await closeAll(await connectAll(b, ids, s.protocol, true, 0))
    return {
      publishRate: acked / publishSeconds,
      drainRate: received / drainSeconds,
      expected, received, duplicates, drainSeconds, publishSeconds,
      publishBrokerCpuMs: cpu1 - cpu0,
      drainBrokerCpuMs: cpu2 - cpu1,
      publishLoadCpuMs: (publishLoad.user + publishLoad.system) / 1000,
      drainLoadCpuMs: (drainLoad.user + drainLoad.system) / 1000,
      peakRss, timedOut,
    }
  } finally {
    clearInterval(watch)
  }
}
