// Raw MQTT connections for the hardening tests (issue 11 §4): packets generated and parsed by mqtt-packet, any source
// address on the loopback network (127.0.0.x), so that per-address limits can be reached from one machine.
import net from 'node:net'
import mqttPacket, { type Packet } from 'mqtt-packet'
import type { TestHerald } from '../helpers.ts'

export interface Wire {
  socket: net.Socket
  packets: Packet[]
  /** bytes received */
  bytes: number
  isClosed: boolean
  send(p: Record<string, unknown>): void
  /** the next packet of `cmd` not yet taken (rejects after `ms`, or when the connection closes first) */
  next(cmd: string, ms?: number): Promise<Packet>
  closed(ms?: number): Promise<void>
}

export function wire(port: number, o: { localAddress?: string; protocolVersion?: 4 | 5 } = {}): Promise<Wire> {
  const version = o.protocolVersion ?? 4
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port, localAddress: o.localAddress })
    const parser = mqttPacket.parser({ protocolVersion: version })
    const waiters: (() => void)[] = []
    const wake = () => { for (const f of waiters.splice(0)) f() }
    const taken = new Set<Packet>()
    const w: Wire = {
      socket, packets: [], bytes: 0, isClosed: false,
      send: (p) => { socket.write(mqttPacket.generate(p as unknown as Packet, { protocolVersion: version })) },
      next: (cmd, ms = 5000) => new Promise((ok, fail) => {
        const t = setTimeout(() => fail(new Error(`timed out waiting for ${cmd}`)), ms)
        const check = () => {
          const p = w.packets.find((q) => q.cmd === cmd && !taken.has(q))
          if (p) { taken.add(p); clearTimeout(t); ok(p); return }
          if (w.isClosed) { clearTimeout(t); fail(new Error(`connection closed before ${cmd}`)); return }
          waiters.push(check)
        }
        check()
      }),
      closed: (ms = 5000) => new Promise((ok, fail) => {
        const t = setTimeout(() => fail(new Error('timed out waiting for the server to close the connection')), ms)
        const check = () => { if (w.isClosed) { clearTimeout(t); ok() } else waiters.push(check) }
        check()
      }),
    }
    parser.on('packet', (p: Packet) => { w.packets.push(p); wake() })
    parser.on('error', () => socket.destroy())
    socket.on('data', (d) => { w.bytes += d.length; parser.parse(d) })
    socket.on('error', () => {})
    socket.on('close', () => { w.isClosed = true; wake() })
    socket.once('connect', () => resolve(w))
    socket.once('error', reject)
  })
}

export function connectOf(clientId: string, creds: { username: string; password: string }, extra: Record<string, unknown> = {}, protocolVersion: 4 | 5 = 4): Record<string, unknown> {
  return { cmd: 'connect', protocolId: 'MQTT', protocolVersion, clean: true, clientId, keepalive: 0, username: creds.username, password: Buffer.from(creds.password), ...extra }
}

/** connected, its CONNACK read (returned) */
export async function connected(h: TestHerald, clientId: string, creds: { username: string; password: string }, o: { localAddress?: string; protocolVersion?: 4 | 5; connect?: Record<string, unknown> } = {}): Promise<{ w: Wire; connack: Packet }> {
  const w = await wire(h.ports.mqtt, o)
  w.send(connectOf(clientId, creds, o.connect, o.protocolVersion))
  return { w, connack: await w.next('connack') }
}

/** herald_mqtt_limited_total{limit} as the registry has it now */
export async function limitedCount(h: TestHerald, limit: string): Promise<number> {
  const m = h.metrics.registry.getSingleMetric('herald_mqtt_limited_total')
  if (!m) throw new Error('herald_mqtt_limited_total is not registered')
  return (await m.get()).values.find((v) => v.labels.limit === limit)?.value ?? 0
}
