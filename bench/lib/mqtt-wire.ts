// The load generator's MQTT on the wire: packets encoded once by mqtt-packet, then copied and patched in place
// (packet id, phase, send time), and an incremental frame splitter that reads only the bytes the load needs.
import * as mqttPacket from 'mqtt-packet'
import type { Packet } from 'mqtt-packet'

export type ProtocolVersion = 4 | 5

/** MQTT control packet types (the high nibble of the first byte) */
export const CONNACK = 2, PUBLISH = 3, PUBACK = 4, SUBACK = 9, PINGRESP = 13, DISCONNECT = 14

/**
 * The last TAIL bytes of every bench payload: phase u8, unused u8, stream u16le, sequence u32le, send time f64le
 * (performance.now()). Read from the end of the frame, so neither the topic nor MQTT 5 properties need parsing.
 */
export const TAIL = 16
export const TAIL_PHASE = 0, TAIL_STREAM = 2, TAIL_SEQ = 4, TAIL_TIME = 8

export function encode(packet: Packet, protocolVersion: ProtocolVersion): Buffer {
  return mqttPacket.generate(packet, { protocolVersion })
}

/** Length of the fixed header (type byte and the remaining-length varint) of an encoded packet. */
export function fixedHeaderLength(buf: Buffer): number {
  let i = 1
  while (buf[i] & 0x80) i++
  return i + 1
}

export interface ConnectOptions {
  clientId: string
  username?: string
  password?: string
  clean: boolean
  keepalive: number
  protocolVersion: ProtocolVersion
  /** MQTT 5: seconds the session outlives the connection (0: it ends with it) */
  sessionExpiry?: number
}

export function connectPacket(o: ConnectOptions): Buffer {
  return encode({
    cmd: 'connect', protocolId: 'MQTT', protocolVersion: o.protocolVersion, clientId: o.clientId, clean: o.clean,
    keepalive: o.keepalive, username: o.username, password: o.password === undefined ? undefined : Buffer.from(o.password),
    ...(o.protocolVersion === 5 && o.sessionExpiry ? { properties: { sessionExpiryInterval: o.sessionExpiry } } : {}),
  }, o.protocolVersion)
}

export function subscribePacket(topic: string, qos: 0 | 1, messageId: number, protocolVersion: ProtocolVersion): Buffer {
  return encode({ cmd: 'subscribe', messageId, subscriptions: [{ topic, qos }] }, protocolVersion)
}

export function disconnectPacket(protocolVersion: ProtocolVersion): Buffer {
  return encode({ cmd: 'disconnect' }, protocolVersion)
}

/** One PUBLISH shape (topic, QoS, payload size, protocol), encoded once; copies differ only in patched bytes. */
export class PublishTemplate {
  readonly bytes: Buffer
  /** offset of the packet id (QoS 1), -1 at QoS 0 */
  readonly packetIdAt: number
  readonly tailAt: number

  constructor(readonly topic: string, qos: 0 | 1, payloadBytes: number, protocolVersion: ProtocolVersion, stream: number) {
    const payload = Buffer.alloc(Math.max(TAIL, payloadBytes), 0x2e)
    payload.writeUInt16LE(stream, payload.length - TAIL + TAIL_STREAM)
    this.bytes = encode({
      cmd: 'publish', topic, qos, dup: false, retain: false, payload,
      ...(qos ? { messageId: 1 } : {}),
      // the MQTT 5 scenarios carry a user property, so the broker parses and forwards properties
      ...(protocolVersion === 5 ? { properties: { userProperties: { bench: 'herald' } } } : {}),
    }, protocolVersion)
    const body = fixedHeaderLength(this.bytes)
    this.packetIdAt = qos ? body + 2 + this.bytes.readUInt16BE(body) : -1
    this.tailAt = this.bytes.length - TAIL
  }

  /** `count` copies in one buffer (one socket write), packet ids from `firstId` (wrapping 1..65535), sequence from `seq`. */
  batch(count: number, phase: number, firstId: number, seq: number, now: number): Buffer {
    const len = this.bytes.length
    const out = Buffer.allocUnsafe(len * count)
    for (let k = 0, at = 0; k < count; k++, at += len) {
      this.bytes.copy(out, at)
      if (this.packetIdAt >= 0) {
        const id = ((firstId + k - 1) % 0xffff) + 1
        out[at + this.packetIdAt] = id >> 8
        out[at + this.packetIdAt + 1] = id & 0xff
      }
      const t = at + this.tailAt
      out[t + TAIL_PHASE] = phase
      out.writeUInt32LE((seq + k) >>> 0, t + TAIL_SEQ)
      out.writeDoubleLE(now, t + TAIL_TIME)
    }
    return out
  }
}

/** PUBACKs for a list of packet ids, in one buffer (the 4-byte form, which MQTT 5 reads as reason code 0). */
export class PubackWriter {
  private readonly template: Buffer
  constructor(protocolVersion: ProtocolVersion) {
    this.template = encode({ cmd: 'puback', messageId: 1 }, protocolVersion)
  }

  encode(ids: Uint16Array, count: number): Buffer {
    const len = this.template.length
    const out = Buffer.allocUnsafe(len * count)
    for (let k = 0, at = 0; k < count; k++, at += len) {
      this.template.copy(out, at)
      out[at + 2] = ids[k] >> 8
      out[at + 3] = ids[k] & 0xff
    }
    return out
  }
}

/** Called once per whole frame: its first byte, the buffer holding it, where its body starts and where it ends. */
export type FrameHandler = (first: number, buf: Buffer, body: number, end: number) => void

/**
 * Splits a TCP byte stream into MQTT frames without decoding them. A frame cut across chunks is kept (only its
 * bytes are copied) until the rest arrives. A remaining length over 4 bytes of varint is a protocol error.
 */
export class FrameParser {
  private rest: Buffer | null = null

  /** Hand every whole frame of `chunk`'s first `length` bytes to `onFrame` (synchronously); keep the rest. */
  push(chunk: Buffer, onFrame: FrameHandler, length = chunk.length): void {
    const buf = this.rest ? Buffer.concat([this.rest, chunk.subarray(0, length)]) : chunk
    const n = this.rest ? buf.length : length
    this.rest = null
    let at = 0
    while (at < n) {
      // fixed header: type/flags byte, then remaining length as a varint of 1–4 bytes
      let i = at + 1, len = 0, shift = 0, complete = false
      while (i < n) {
        const b = buf[i++]
        len += (b & 0x7f) * 2 ** shift
        if ((b & 0x80) === 0) { complete = true; break }
        shift += 7
        if (shift > 21) throw new Error('malformed MQTT remaining length')
      }
      if (!complete || i + len > n) break
      onFrame(buf[at], buf, i, i + len)
      at = i + len
    }
    if (at < n) this.rest = Buffer.from(buf.subarray(at, n))
  }

  /** bytes of an incomplete frame held for the next chunk */
  get pending(): number {
    return this.rest?.length ?? 0
  }
}

/** The reason code of a CONNACK body (MQTT 3.1.1 return code or MQTT 5 reason code; 0 is success). */
export function connackCode(buf: Buffer, body: number, end: number): number {
  return end - body >= 2 ? buf[body + 1] : 0x80
}
