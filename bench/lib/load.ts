// MQTT load generator: publishers and subscribers (mqtt.js) in this one process, so one clock times every message.
// A scenario is a set of streams (a publisher, a topic, its subscribers); each stream keeps at most `window`
// messages per subscriber outstanding, so every broker gets the same bounded load and no queue grows without end.
import mqtt, { type MqttClient } from 'mqtt'
import type { Socket } from 'node:net'
import { performance } from 'node:perf_hooks'
import type { BrokerUnderTest } from './brokers.ts'
import { procStats } from './proc.ts'
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
  peakRss: number
  brokerCpuMs: number
  loadCpuMs: number
  timedOut: boolean
}

interface Stream { pub: MqttClient; topic: string; receivers: number; published: number; delivered: number; writtenOff: number }

const STALL_MS = 2000
const HEADER = 12 // phase u8, stream u16 (at 1), send time f64 (at 4)
let runs = 0

function connectClient(b: BrokerUnderTest, clientId: string): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const c = mqtt.connect(b.url, {
      clientId, username: b.username, password: b.password, clean: true, reconnectPeriod: 0, connectTimeout: 60_000, keepalive: 120,
    })
    c.once('connect', () => {
      c.removeAllListeners('error')
      c.on('error', () => {})
      // the load generator's own sockets skip Nagle, so its small writes never wait for a delayed ACK
      ;(c.stream as Partial<Socket>).setNoDelay?.(true)
      resolve(c)
    })
    c.once('error', (err) => { c.end(true); reject(new Error(`${b.name}: ${clientId} could not connect: ${err.message}`)) })
  })
}

async function subscribe(c: MqttClient, topic: string, qos: 0 | 1): Promise<void> {
  const granted = await c.subscribeAsync(topic, { qos })
  if (granted.some((g) => g.qos === 128)) throw new Error(`subscription to ${topic} refused`)
}

/** Connect the scenario's clients, warm up, measure, disconnect. */
export async function runScenario(b: BrokerUnderTest, s: Scenario): Promise<RunResult> {
  const run = ++runs
  const prefix = `bench/r${process.pid}x${run}`
  const publishers = s.pattern === 'fanout' ? 1 : s.clients
  const all: MqttClient[] = []
  try {
    const pubs = await Promise.all(Array.from({ length: publishers }, (_, i) => connectClient(b, `bench-${run}-p${i}`)))
    all.push(...pubs)
    const subs = await Promise.all(Array.from({ length: s.clients }, (_, i) => connectClient(b, `bench-${run}-s${i}`)))
    all.push(...subs)
    const streams: Stream[] = pubs.map((pub, i) => ({
      pub, topic: s.pattern === 'fanout' ? `${prefix}/fan` : `${prefix}/pair/${i}`,
      receivers: s.pattern === 'fanout' ? s.clients : 1, published: 0, delivered: 0, writtenOff: 0,
    }))
    await Promise.all(subs.map((c, i) => subscribe(c, streams[s.pattern === 'fanout' ? 0 : i].topic, s.qos)))
    const load = new Load(b, s, streams)
    for (const c of subs) c.on('message', (_topic, payload) => load.delivered(payload))
    await load.phase(1, s.warmup, false)
    return await load.phase(2, s.messages, true)
  } finally {
    await Promise.all(all.map((c) => c.endAsync(true).catch(() => {})))
  }
}

class Load {
  private phaseId = 0
  private perPublisher = 0
  private latencies = new Float64Array(0)
  private record = false
  private count = 0
  private writtenOff = 0
  private expected = 0
  private lastDelivery = 0
  private lastProgress = 0
  private done: (() => void) | undefined
  private template: Buffer

  constructor(private b: BrokerUnderTest, private s: Scenario, private streams: Stream[]) {
    this.template = Buffer.alloc(Math.max(HEADER, s.payloadBytes), 0x2e)
  }

  private publish(i: number): void {
    const st = this.streams[i]
    const payload = Buffer.from(this.template)
    payload.writeUInt8(this.phaseId, 0)
    payload.writeUInt16LE(i, 1)
    payload.writeDoubleLE(performance.now(), 4)
    st.published++
    st.pub.publish(st.topic, payload, { qos: this.s.qos })
  }

  private pump(i: number): void {
    const st = this.streams[i]
    const limit = this.s.window * st.receivers
    while (st.published < this.perPublisher && st.published * st.receivers - st.delivered - st.writtenOff < limit) this.publish(i)
  }

  delivered(payload: Buffer): void {
    if (payload.length < HEADER || payload[0] !== this.phaseId) return // a late message of an earlier phase
    const now = performance.now()
    const i = payload.readUInt16LE(1)
    if (this.record) this.latencies[this.count] = now - payload.readDoubleLE(4)
    this.count++
    this.streams[i].delivered++
    this.lastDelivery = this.lastProgress = now
    if (this.count + this.writtenOff >= this.expected) this.done?.()
    else this.pump(i)
  }

  /** A stream that made no progress for a while lost its outstanding messages (QoS 0 may drop): write them off. */
  private unstall(): void {
    for (let i = 0; i < this.streams.length; i++) {
      const st = this.streams[i]
      const outstanding = st.published * st.receivers - st.delivered - st.writtenOff
      st.writtenOff += outstanding
      this.writtenOff += outstanding
      this.pump(i)
    }
    this.lastProgress = performance.now()
  }

  async phase(id: number, perPublisher: number, record: boolean): Promise<RunResult> {
    this.phaseId = id
    this.perPublisher = perPublisher
    this.record = record
    this.count = 0
    this.writtenOff = 0
    for (const st of this.streams) st.published = st.delivered = st.writtenOff = 0
    this.expected = this.streams.reduce((n, st) => n + perPublisher * st.receivers, 0)
    if (record) this.latencies = new Float64Array(this.expected)
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
      for (let i = 0; i < this.streams.length; i++) this.pump(i)
    })
    const after = procStats(this.b.pid)
    const load = process.cpuUsage(loadBefore)
    const seconds = (this.lastDelivery - start) / 1000
    return {
      expected: this.expected,
      delivered: this.count,
      lost: this.expected - this.count,
      seconds,
      rate: seconds > 0 ? this.count / seconds : 0,
      p50: percentile(this.latencies, record ? this.count : 0, 50),
      p99: percentile(this.latencies, record ? this.count : 0, 99),
      peakRss: Math.max(peakRss, after?.rss ?? 0),
      brokerCpuMs: before && after ? after.cpuMs - before.cpuMs : NaN,
      loadCpuMs: (load.user + load.system) / 1000,
      timedOut,
    }
  }
}
