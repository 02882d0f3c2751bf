// MQTT load generator on raw sockets: publishers write pre-encoded PUBLISH packets in batches, subscribers count
// PUBLISH frames and read the send time of 1 in SAMPLE of them, QoS 1 is acknowledged with pre-encoded PUBACKs.
// A scenario is a set of streams (a publisher, a topic, its subscribers); each stream keeps at most `window`
// messages per subscriber outstanding, so every broker gets the same bounded load and no queue grows without end.
// Its own CPU time is measured per phase (process.cpuUsage: every thread of this process), beside the broker's.
import { performance } from 'node:perf_hooks'
import type { BrokerUnderTest } from './brokers.ts'
import { PUBLISH, PublishTemplate, TAIL, TAIL_PHASE, TAIL_TIME, type ProtocolVersion } from './mqtt-wire.ts'
import { procStats } from './proc.ts'
import { RawClient, publishPacketId, type Endpoint } from './raw-client.ts'
import { percentile } from './stats.ts'

export interface Scenario {
  name: string
  qos: 0 | 1
  /** fanout: 1 publisher to `clients` subscribers on one topic; pairs: `clients` publisher/subscriber pairs */
  pattern: 'fanout' | 'pairs'
  clients: number
  /** measured messages per publisher */
  messages: number
  /** warm-up messages per publisher, sent and delivered before measuring */
  warmup: number
  /** messages per publisher published but not yet delivered to every subscriber */
  window: number
  payloadBytes: number
  timeLimitMs: number
  /** 4: MQTT 3.1.1; 5: MQTT 5 CONNECT, and a user property on every PUBLISH */
  protocol: ProtocolVersion
}

export interface RunResult {
  expected: number
  delivered: number
  lost: number
  seconds: number
  /** deliveries per second */
  rate: number
  p50: number
  p99: number
  /** latency samples behind p50/p99 */
  samples: number
  peakRss: number
  brokerCpuMs: number
  loadCpuMs: number
  /** the part of loadCpuMs spent in the kernel (socket reads and writes, loopback TCP) */
  loadSysMs: number
  timedOut: boolean
}

/** 1 in SAMPLE deliveries has its latency read (a power of two) */
export const SAMPLE = 16
const STALL_MS = 2000

let runs = 0

export function endpointOf(b: BrokerUnderTest): Endpoint {
  const u = new URL(b.url)
  return { host: u.hostname, port: Number(u.port) }
}

export function connectAll(b: BrokerUnderTest, ids: string[], protocol: ProtocolVersion, clean = true, sessionExpiry = 0): Promise<RawClient[]> {
  const to = endpointOf(b)
  return Promise.all(ids.map((clientId) => RawClient.connect(to, {
    clientId, username: b.username, password: b.password, clean, keepalive: 600, protocolVersion: protocol, sessionExpiry,
  })))
}

export function closeAll(clients: RawClient[]): Promise<void> {
  return Promise.all(clients.map((c) => c.close())).then(() => {})
}

interface Stream { pub: RawClient; template: PublishTemplate; receivers: number; published: number; delivered: number; writtenOff: number; nextId: number }

/** Connect the scenario's clients, warm up, measure, disconnect. Rejects with ConnectRefused when CONNECT is refused. */
export async function runScenario(b: BrokerUnderTest, s: Scenario): Promise<RunResult> {
  const run = ++runs
  const prefix = `bench/r${process.pid}x${run}`
  const publishers = s.pattern === 'fanout' ? 1 : s.clients
  const all: RawClient[] = []
  try {
    const pubs = await connectAll(b, Array.from({ length: publishers }, (_, i) => `bench-${run}-p${i}`), s.protocol)
    all.push(...pubs)
    const subs = await connectAll(b, Array.from({ length: s.clients }, (_, i) => `bench-${run}-s${i}`), s.protocol)
    all.push(...subs)
    const streams: Stream[] = pubs.map((pub, i) => ({
      pub, template: new PublishTemplate(s.pattern === 'fanout' ? `${prefix}/fan` : `${prefix}/pair/${i}`, s.qos, s.payloadBytes, s.protocol, i),
      receivers: s.pattern === 'fanout' ? s.clients : 1, published: 0, delivered: 0, writtenOff: 0, nextId: 1,
    }))
    const streamOf = (i: number) => (s.pattern === 'fanout' ? 0 : i)
    await Promise.all(subs.map((c, i) => c.subscribe(streams[streamOf(i)].template.topic, s.qos)))
    const load = new Load(b, s, streams)
    subs.forEach((c, i) => load.attach(c, streamOf(i)))
    await load.phase(1, s.warmup, false)
    return await load.phase(2, s.messages, true)
  } finally {
    await closeAll(all)
  }
}

class Load {
  private phaseId = 0
  private perPublisher = 0
  private latencies = new Float64Array(0)
  private samples = 0
  private record = false
  private count = 0
  private writtenOff = 0
  private expected = 0
  private lastDelivery = 0
  private lastProgress = 0
  private done: (() => void) | undefined

  constructor(private b: BrokerUnderTest, private s: Scenario, private streams: Stream[]) {}

  /** Count `c`'s deliveries to stream `i`; after each chunk, the stream may publish again. */
  attach(c: RawClient, i: number): void {
    const st = this.streams[i]
    let seen = 0
    c.onFrame = (first, buf, body, end) => {
      if (first >> 4 !== PUBLISH) return
      if (first & 0x06) c.ack(publishPacketId(first, buf, body))
      if (end - body < TAIL || buf[end - TAIL + TAIL_PHASE] !== this.phaseId) return // a late message of an earlier phase
      st.delivered++
      this.count++
      if ((++seen & (SAMPLE - 1)) === 0 && this.record) {
        this.latencies[this.samples++] = performance.now() - buf.readDoubleLE(end - TAIL + TAIL_TIME)
      }
    }
    c.afterChunk = () => {
      if (st.delivered === 0) return
      this.lastProgress = this.lastDelivery = performance.now()
      if (this.count + this.writtenOff >= this.expected) this.done?.()
      else this.pump(st)
    }
  }

  /**
   * Publish as many messages as the stream's window allows, in one write, once at least half the window is free
   * (or the phase's last messages): the load then writes (and the broker reads) batches, not one frame per syscall.
   */
  private pump(st: Stream): void {
    const outstanding = st.published * st.receivers - st.delivered - st.writtenOff
    const room = Math.ceil((this.s.window * st.receivers - outstanding) / st.receivers)
    const left = this.perPublisher - st.published
    const k = Math.min(left, room)
    if (k <= 0 || k < Math.min(left, Math.ceil(this.s.window / 2))) return
    st.pub.write(st.template.batch(k, this.phaseId, st.nextId, st.published, performance.now()))
    st.nextId = ((st.nextId + k - 1) % 0xffff) + 1
    st.published += k
  }

  /** A stream that made no progress for a while lost its outstanding messages (QoS 0 may drop): write them off. */
  private unstall(): void {
    for (const st of this.streams) {
      const outstanding = st.published * st.receivers - st.delivered - st.writtenOff
      st.writtenOff += outstanding
      this.writtenOff += outstanding
      this.pump(st)
    }
    this.lastProgress = performance.now()
  }

  async phase(id: number, perPublisher: number, record: boolean): Promise<RunResult> {
    this.phaseId = id
    this.perPublisher = perPublisher
    this.record = record
    this.count = this.writtenOff = this.samples = 0
    for (const st of this.streams) st.published = st.delivered = st.writtenOff = 0
    this.expected = this.streams.reduce((n, st) => n + perPublisher * st.receivers, 0)
    if (record) this.latencies = new Float64Array(Math.ceil(this.expected / SAMPLE) + this.streams.length * 2)
    const before = procStats(this.b.pid)
    const loadBefore = process.cpuUsage()
    let peakRss = before?.rss ?? 0
    const start = performance.now()
    this.lastDelivery = this.lastProgress = start
    let timedOut = false
    await new Promise<void>((resolve) => {
      const finish = () => { clearInterval(watch); this.done = undefined; resolve() }
      const watch = setInterval(() => {
        peakRss = Math.max(peakRss, procStats(this.b.pid)?.rss ?? 0)
        const now = performance.now()
        if (now - start > this.s.timeLimitMs) { timedOut = true; finish() } else if (now - this.lastProgress > STALL_MS) this.unstall()
        if (this.count + this.writtenOff >= this.expected) finish()
      }, 100)
      this.done = finish
      for (const st of this.streams) this.pump(st)
    })
    const after = procStats(this.b.pid)
    const load = process.cpuUsage(loadBefore)
    const seconds = (this.lastDelivery - start) / 1000
    const n = Math.min(this.samples, this.latencies.length)
    return {
      expected: this.expected,
      delivered: this.count,
      lost: Math.max(0, this.expected - this.count),
      seconds,
      rate: seconds > 0 ? this.count / seconds : 0,
      p50: percentile(this.latencies, record ? n : 0, 50),
      p99: percentile(this.latencies, record ? n : 0, 99),
      samples: record ? n : 0,
      peakRss: Math.max(peakRss, after?.rss ?? 0),
      brokerCpuMs: before && after ? after.cpuMs - before.cpuMs : NaN,
      loadCpuMs: (load.user + load.system) / 1000,
      loadSysMs: load.system / 1000,
      timedOut,
    }
  }
}
