// Fuzzes Herald's embedded broker over real sockets (issue 11 item 4): MQTT 3.1, 3.1.1 and 5 packets made valid by
// mqtt-packet, then mutated (bit flips, truncation, inserted and deleted bytes, remaining-length fields set to edge
// values, bytes spliced from other packets, random garbage), sent by many connections at once. Some connections
// start with a mutated CONNECT; the rest log in properly and then send mutated packets, so the parser, the login,
// the authorization hooks and the session code all see bad input. A control client publishes to itself at QoS 1
// throughout: every round trip must come back, and the broker process must still be alive at the end.
// Usage: node --import tsx scripts/mqtt-fuzz.ts [--packets 1000000] [--seconds 300] [--seed 1] [--sockets 32]
import { connect as tcpConnect, type Socket } from 'node:net'
import { parseArgs } from 'node:util'
import mqtt from 'mqtt'
import mqttPacket from 'mqtt-packet'
import { startHeraldBroker, type BrokerUnderTest } from '../bench/lib/brokers.ts'
import { cpuMs, procStats } from '../bench/lib/proc.ts'

export interface FuzzOptions {
  packets: number
  seconds: number
  seed: number
  /** connections sending at once */
  sockets: number
  /** packets per connection after its CONNECT */
  perConnection?: number
  log?: (line: string) => void
}

export interface FuzzResult {
  /** packets written (valid and mutated) */
  packets: number
  /** of which mutated */
  mutated: number
  bytes: number
  connections: number
  seconds: number
  controlRoundTrips: number
  /** control round trips that did not come back within 5 s */
  controlFailures: number
  /** the broker process exited during the run */
  crashed: boolean
  brokerRssMb: { before: number; after: number }
  /** CPU the fuzzer spent, as a share of one core (the broker's share beside it) */
  cpu: { fuzzer: number; broker: number }
}

/** xorshift32: the same seed gives the same run */
class Rng {
  constructor(private s: number) { if (this.s === 0) this.s = 0x9e3779b9 }
  next(): number { let x = this.s; x ^= x << 13; x ^= x >>> 17; x ^= x << 5; this.s = x >>> 0; return this.s }
  int(n: number): number { return this.next() % n }
  pick<T>(xs: readonly T[]): T { return xs[this.int(xs.length)] }
}

type Version = 3 | 4 | 5

/** one valid packet of every kind a client may send, for each protocol version */
function corpus(v: Version, auth: { username?: string; password?: string }): Buffer[] {
  const g = (p: object) => mqttPacket.generate(p as mqttPacket.Packet, { protocolVersion: v })
  const props5 = v === 5
  const out: Buffer[] = []
  const push = (p: object) => { try { out.push(g(p)) } catch { /* a kind this version lacks */ } }
  push({
    cmd: 'connect', protocolId: v === 3 ? 'MQIsdp' : 'MQTT', protocolVersion: v, clean: true, clientId: 'fz', keepalive: 30,
    username: auth.username, password: auth.password === undefined ? undefined : Buffer.from(auth.password),
    will: { topic: 'bench/will', payload: Buffer.from('w'), qos: 1, retain: false, ...(props5 ? { properties: { willDelayInterval: 1 } } : {}) },
    ...(props5 ? { properties: { sessionExpiryInterval: 10, receiveMaximum: 5, maximumPacketSize: 1000, topicAliasMaximum: 3, userProperties: { a: 'b' } } } : {}),
  })
  for (const qos of [0, 1, 2]) {
    push({
      cmd: 'publish', topic: qos === 2 ? 'bench/x/y' : '$SYS/broker/x', payload: Buffer.from('payload'), qos, retain: qos === 1, dup: false,
      messageId: qos ? 7 : undefined,
      ...(props5 ? { properties: { topicAlias: 1, messageExpiryInterval: 5, responseTopic: 'bench/r', correlationData: Buffer.from('c'), userProperties: { k: 'v' }, payloadFormatIndicator: true, contentType: 't' } } : {}),
    })
  }
  push({ cmd: 'subscribe', messageId: 9, subscriptions: [{ topic: 'bench/#', qos: 1, ...(props5 ? { nl: true, rap: true, rh: 1 } : {}) }, { topic: '+/+', qos: 2 }], ...(props5 ? { properties: { subscriptionIdentifier: 3 } } : {}) })
  push({ cmd: 'unsubscribe', messageId: 10, unsubscriptions: ['bench/#', '#'] })
  for (const cmd of ['puback', 'pubrec', 'pubrel', 'pubcomp']) push({ cmd, messageId: 7, ...(props5 ? { reasonCode: 0 } : {}) })
  push({ cmd: 'pingreq' })
  push({ cmd: 'disconnect', ...(props5 ? { reasonCode: 4, properties: { sessionExpiryInterval: 0 } } : {}) })
  if (props5) push({ cmd: 'auth', reasonCode: 0x18, properties: { authenticationMethod: 'x', authenticationData: Buffer.from('y') } })
  return out
}

const EDGE_LENGTHS = [[0x00], [0x7f], [0x80, 0x01], [0xff, 0x7f], [0xff, 0xff, 0x7f], [0xff, 0xff, 0xff, 0x7f], [0xff, 0xff, 0xff, 0xff], [0x80, 0x80, 0x80, 0x80, 0x01]]

function mutate(r: Rng, b: Buffer, others: Buffer[]): Buffer {
  const x = Buffer.from(b)
  switch (r.int(8)) {
    case 0: { // bit flips
      for (let i = 0, n = 1 + r.int(4); i < n; i++) x[r.int(x.length)] ^= 1 << r.int(8)
      return x
    }
    case 1: return x.subarray(0, r.int(x.length)) // truncated
    case 2: { // a remaining length at an edge value, the rest kept
      const lenEnd = 1 + (x.subarray(1).findIndex((c) => (c & 0x80) === 0) + 1 || 1)
      return Buffer.concat([x.subarray(0, 1), Buffer.from(r.pick(EDGE_LENGTHS)), x.subarray(lenEnd)])
    }
    case 3: { // inserted bytes
      const at = r.int(x.length + 1)
      const ins = Buffer.from(Array.from({ length: 1 + r.int(8) }, () => r.int(256)))
      return Buffer.concat([x.subarray(0, at), ins, x.subarray(at)])
    }
    case 4: { // deleted bytes
      const at = r.int(x.length)
      return Buffer.concat([x.subarray(0, at), x.subarray(at + 1 + r.int(4))])
    }
    case 5: { // splice: the head of this packet, the tail of another
      const o = r.pick(others)
      return Buffer.concat([x.subarray(0, r.int(x.length)), o.subarray(r.int(o.length))])
    }
    case 6: { // a byte set to 0x00 / 0xff / 0x7f / 0x80 (flags, lengths, property ids)
      x[r.int(x.length)] = r.pick([0x00, 0xff, 0x7f, 0x80])
      return x
    }
    default: return Buffer.from(Array.from({ length: 1 + r.int(64) }, () => r.int(256))) // garbage
  }
}

/**
 * A connection: its CONNECT (mutated in 3 of 10), then up to `n` packets, each mutated with a 1 in 5 chance. A
 * malformed packet makes the broker close the connection, so after a mutated one the connection ends half the time;
 * the other half it goes on (many mutations still parse, and a broker that reads on must cope).
 */
function connection(r: Rng, corpora: Record<Version, Buffer[]>, n: number): { packets: Buffer[]; mutated: number } {
  const v = r.pick([3, 4, 4, 5] as Version[])
  const c = corpora[v]
  if (r.int(10) < 3) return { packets: [mutate(r, c[0], c)], mutated: 1 }
  const packets: Buffer[] = [c[0]]
  let mutated = 0
  for (let i = 0; i < n; i++) {
    const p = c[1 + r.int(c.length - 1)]
    if (r.int(5) > 0) { packets.push(p); continue }
    packets.push(mutate(r, p, c))
    mutated++
    if (r.int(2) === 0) break
  }
  return { packets, mutated }
}

function send(port: number, packets: Buffer[]): Promise<number> {
  return new Promise((resolve) => {
    let bytes = 0
    const s: Socket = tcpConnect({ host: '127.0.0.1', port })
    const done = () => { s.destroy(); resolve(bytes) }
    const timer = setTimeout(done, 2000)
    s.on('error', () => { clearTimeout(timer); done() })
    s.on('close', () => { clearTimeout(timer); resolve(bytes) })
    s.on('data', () => { /* answers are read and dropped */ })
    s.on('connect', () => {
      for (const p of packets) { bytes += p.length; if (!s.write(p)) break }
      // give the broker a moment to answer (or to close on us), then go
      setTimeout(() => s.end(), 20)
    })
  })
}

export async function fuzz(b: BrokerUnderTest, auth: { username?: string; password?: string }, o: FuzzOptions): Promise<FuzzResult> {
  const log = o.log ?? (() => {})
  const r = new Rng(o.seed)
  const per = o.perConnection ?? 20
  const corpora = { 3: corpus(3, auth), 4: corpus(4, auth), 5: corpus(5, auth) } as Record<Version, Buffer[]>
  const port = Number(new URL(b.url).port)
  // the broker process is polled: once it is gone the run stops and reports the crash
  let alive = true
  const watch = setInterval(() => { try { process.kill(b.pid, 0) } catch { alive = false; clearInterval(watch) } }, 200)
  watch.unref()

  // the control client: QoS 1 to itself, one at a time, each must come back
  const control = await mqtt.connectAsync(b.url, { ...auth, clientId: 'fuzz-control', reconnectPeriod: 500, connectTimeout: 5000 })
  await control.subscribeAsync('bench/control', { qos: 1 })
  let trips = 0
  let failures = 0
  let controlRunning = true
  const controlLoop = (async () => {
    let seq = 0
    while (controlRunning) {
      const want = String(++seq)
      const back = new Promise<boolean>((resolve) => {
        const t = setTimeout(() => { control.off('message', on); resolve(false) }, 5000)
        const on = (_topic: string, payload: Buffer) => { if (payload.toString() === want) { clearTimeout(t); control.off('message', on); resolve(true) } }
        control.on('message', on)
      })
      control.publish('bench/control', want, { qos: 1 })
      if (await back) trips++
      else failures++
      await new Promise((res) => setTimeout(res, 100))
    }
  })()

  const rssBefore = procStats(b.pid)?.rss ?? 0
  const cpu0 = { self: process.cpuUsage(), broker: cpuMs(b.pid), at: performance.now() }
  const end = Date.now() + o.seconds * 1000
  let packets = 0
  let mutatedPackets = 0
  let bytes = 0
  let connections = 0
  let lastLog = Date.now()
  const worker = async () => {
    while (packets < o.packets && Date.now() < end && alive) {
      const conn = connection(r, corpora, per)
      packets += conn.packets.length
      mutatedPackets += conn.mutated
      connections++
      const sent = await send(port, conn.packets)
      bytes += sent
      if (Date.now() - lastLog > 10_000) { lastLog = Date.now(); log(`  ${packets} packets, ${connections} connections, control ${trips} ok / ${failures} failed`) }
    }
  }
  await Promise.all(Array.from({ length: o.sockets }, worker))
  const wall = (performance.now() - cpu0.at) / 1000
  const self = process.cpuUsage(cpu0.self)
  const brokerCpu = (cpuMs(b.pid) - cpu0.broker) / 1000
  // a last round trip after the storm
  await new Promise((res) => setTimeout(res, 500))
  controlRunning = false
  await controlLoop
  clearInterval(watch)
  const rssAfter = procStats(b.pid)?.rss ?? 0
  await control.endAsync(true).catch(() => {})
  return {
    packets, mutated: mutatedPackets, bytes, connections, seconds: wall, controlRoundTrips: trips, controlFailures: failures, crashed: !alive,
    brokerRssMb: { before: rssBefore / 2 ** 20, after: rssAfter / 2 ** 20 },
    cpu: { fuzzer: (self.user + self.system) / 1e6 / wall, broker: brokerCpu / wall },
  }
}

async function main(): Promise<void> {
  const { values: a } = parseArgs({
    options: {
      packets: { type: 'string', default: '1000000' },
      seconds: { type: 'string', default: '300' },
      seed: { type: 'string', default: '1' },
      sockets: { type: 'string', default: '32' },
    },
  })
  const b = await startHeraldBroker()
  try {
    console.log(`fuzzing Herald's embedded broker (pid ${b.pid}) at ${b.url}: up to ${a.packets} packets or ${a.seconds} s`)
    const res = await fuzz(b, { username: b.username, password: b.password }, {
      packets: Number(a.packets), seconds: Number(a.seconds), seed: Number(a.seed), sockets: Number(a.sockets), log: console.log,
    })
    console.log(JSON.stringify(res, null, 1))
    console.log(`${res.packets} packets (${res.mutated} mutated, ${(res.bytes / 2 ** 20).toFixed(1)} MB) in ${res.connections} connections over ${res.seconds.toFixed(0)} s; ` +
      `crashed: ${res.crashed}; control round trips ${res.controlRoundTrips} ok, ${res.controlFailures} failed; ` +
      `broker RSS ${res.brokerRssMb.before.toFixed(0)} → ${res.brokerRssMb.after.toFixed(0)} MB; CPU fuzzer ${(res.cpu.fuzzer * 100).toFixed(0)}%, broker ${(res.cpu.broker * 100).toFixed(0)}% of a core`)
    if (res.crashed || res.controlFailures > 0) process.exitCode = 1
  } finally {
    await b.stop()
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main()
