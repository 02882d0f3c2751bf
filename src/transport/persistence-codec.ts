// How the durable Aedes persistence (transport/persistence.ts) stores a packet, and which key range of retained topics
// a filter can match.
import type { StoredPacket } from './persistence-store.ts'

/** What Herald reads and writes of an Aedes packet (aedes-packet, mqtt-packet fields); the rest is carried as is. */
export interface Pkt {
  cmd: string
  topic?: string
  payload?: Buffer | string
  qos?: number
  retain?: boolean
  dup?: boolean
  messageId?: number
  brokerId?: string
  brokerCounter?: number
  /** aedes: absolute expiry (ms epoch) of an MQTT 5 message expiry interval */
  messageExpiry?: number
  [k: string]: unknown
}
const STRING_PAYLOAD = '$herald.payloadString'

/** Packet fields as JSON (Buffers kept as Buffers, functions and undefined left out), the payload as bytes. */
export function encodePacket(p: Pkt, omit: readonly string[] = []): StoredPacket {
  const fields: Record<string, unknown> = {}
  for (const k of Object.keys(p)) {
    const v = p[k]
    if (k === 'payload' || v === undefined || typeof v === 'function' || omit.includes(k)) continue
    fields[k] = v
  }
  let payload: Buffer | null = null
  if (typeof p.payload === 'string') {
    fields[STRING_PAYLOAD] = true
    payload = Buffer.from(p.payload)
  } else if (p.payload != null) {
    payload = Buffer.isBuffer(p.payload) ? p.payload : Buffer.from(p.payload as Uint8Array)
  }
  return { packet: JSON.stringify(fields), payload }
}

export function decodePacket(s: StoredPacket): Pkt {
  const p = JSON.parse(s.packet, (_k, v) => (v && v.type === 'Buffer' && Array.isArray(v.data) ? Buffer.from(v.data) : v)) as Pkt
  if (s.payload !== null) p.payload = p[STRING_PAYLOAD] ? s.payload.toString() : s.payload
  delete p[STRING_PAYLOAD]
  return p
}

/** The literal start of every topic a filter matches: a key range to read instead of the whole table. */
export function filterPrefix(filter: string): { exact: boolean; prefix: string } {
  const levels = filter.split('/')
  const i = levels.findIndex((l) => l === '+' || l === '#')
  if (i < 0) return { exact: true, prefix: filter }
  const literal = levels.slice(0, i).join('/')
  // `a/#` also matches `a` itself (MQTT-4.7.1-2)
  return { exact: false, prefix: i === 0 ? '' : levels[i] === '#' ? literal : `${literal}/` }
}
