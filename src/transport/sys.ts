// `$SYS/broker/…` statistics as Mosquitto publishes them (its mosquitto.conf(5) `sys_interval` and the topics of
// mosquitto(8) "Broker Status"): retained, every interval, readable by superusers only (broker.ts authorizeSubscribe).
import type { TrafficStats } from './limits.ts'

export interface SysSource {
  version: string
  stats: TrafficStats
  /** clients connected now */
  connected(): number
  /** connected clients and disconnected persistent sessions, where known (else the connected ones) */
  total(): number
  /** subscriptions of connected clients */
  subscriptions(): number
  publish(topic: string, payload: string): void
}

/** Mosquitto's load averages: exponentially weighted per-minute rates over 1, 5 and 15 minutes */
class Load {
  private last = 0
  readonly avg = [0, 0, 0]

  /** `count` is the running total, `dt` the seconds since the last sample */
  sample(count: number, dt: number): void {
    const perMinute = dt > 0 ? ((count - this.last) * 60) / dt : 0
    this.last = count
    ;[1, 5, 15].forEach((minutes, i) => {
      const k = Math.exp(-dt / (minutes * 60))
      this.avg[i] = this.avg[i] * k + perMinute * (1 - k)
    })
  }
}

/** Starts publishing every `intervalS` seconds (0: never); returns the function that stops it. */
export function startSys(src: SysSource, intervalS: number, now: () => number = Date.now): () => void {
  if (intervalS <= 0) return () => {}
  const started = now()
  let at = started
  let maximum = 0
  const loads = {
    'messages/received': new Load(), 'messages/sent': new Load(),
    'publish/received': new Load(), 'publish/sent': new Load(),
    'bytes/received': new Load(), 'bytes/sent': new Load(),
    connections: new Load(),
  }
  let connects = 0
  let lastConnected = 0
  const tick = () => {
    const t = now()
    const dt = (t - at) / 1000
    at = t
    const s = src.stats
    const connected = src.connected()
    maximum = Math.max(maximum, connected)
    if (connected > lastConnected) connects += connected - lastConnected
    lastConnected = connected
    loads['messages/received'].sample(s.packetsIn, dt)
    loads['messages/sent'].sample(s.packetsOut, dt)
    loads['publish/received'].sample(s.publishIn, dt)
    loads['publish/sent'].sample(s.publishOut, dt)
    loads['bytes/received'].sample(s.bytesIn, dt)
    loads['bytes/sent'].sample(s.bytesOut, dt)
    loads.connections.sample(connects, dt)
    const values: Record<string, string | number> = {
      version: `herald version ${src.version}`,
      uptime: `${Math.floor((t - started) / 1000)} seconds`,
      'clients/connected': connected,
      'clients/active': connected,
      'clients/total': src.total(),
      'clients/maximum': maximum,
      'messages/received': s.packetsIn,
      'messages/sent': s.packetsOut,
      'publish/messages/received': s.publishIn,
      'publish/messages/sent': s.publishOut,
      'publish/messages/dropped': s.publishDropped,
      'bytes/received': s.bytesIn,
      'bytes/sent': s.bytesOut,
      'subscriptions/count': src.subscriptions(),
    }
    // Mosquitto's names: load/messages/received/1min, load/publish/sent/5min, load/bytes/received/15min, load/connections/1min
    for (const [name, load] of Object.entries(loads)) {
      ;['1min', '5min', '15min'].forEach((w, i) => { values[`load/${name}/${w}`] = load.avg[i].toFixed(2) })
    }
    for (const [k, v] of Object.entries(values)) src.publish(`$SYS/broker/${k}`, String(v))
  }
  tick()
  const timer = setInterval(tick, intervalS * 1000)
  timer.unref()
  return () => clearInterval(timer)
}
