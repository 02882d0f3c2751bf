// Herald's side of one MQTT connection: a Duplex between the socket (TCP, TLS or WebSocket stream) and the broker.
// Inbound it reads MQTT fixed headers (type byte + remaining-length varint, MQTT 3.1.1 §2.2.3) and closes the
// connection on a packet announced larger than the limit, before its body is buffered. Outbound it holds the PUBACK
// or PUBREC of a PUBLISH that Herald is still handling (`hold`), and sends a client's acknowledgements in the order of
// its PUBLISHes (§4.6), whatever the order their handling ends in.
import type { TLSSocket } from 'node:tls'
import { Duplex } from 'node:stream'

const PUBACK = 4
const PUBREC = 5
/** an acknowledgement longer than this (MQTT 5 properties) is passed on as it is, not held */
const MAX_HELD_ACK = 1024

/** Follows fixed headers through a byte stream: false when one is malformed or announces more than `max`. */
class InboundLimit {
  private skip = 0
  private inHeader = false
  private length = 0
  private mult = 1
  private lenBytes = 0

  constructor(private max: number) {}

  feed(chunk: Buffer): boolean {
    let i = 0
    while (i < chunk.length) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, chunk.length - i)
        this.skip -= n
        i += n
        continue
      }
      const b = chunk[i++]
      if (!this.inHeader) {
        this.inHeader = true
        this.length = 0
        this.mult = 1
        this.lenBytes = 0
        continue
      }
      this.length += (b & 0x7f) * this.mult
      this.mult *= 128
      if (++this.lenBytes > 4 || this.length > this.max) return false
      if (b & 0x80) continue
      this.inHeader = false
      this.skip = this.length
    }
    return true
  }
}

interface PendingAck { bytes: Buffer; ready: boolean }

export interface ConnectionInfo {
  /** the listener the connection came in on: `mqtt`, `mqtts`, `ws`, `wss`, or an extra listener's name */
  listener: string
  remoteAddress?: string
  /** the underlying socket or stream (a TLSSocket for `mqtts`) */
  socket: Duplex
  /** a WebSocket's TLS socket (`wss`): its client certificate is the connection's */
  tlsSocket?: TLSSocket
}

export class MqttConnection extends Duplex {
  readonly info: ConnectionInfo
  private limit: InboundLimit
  // outbound packet being followed: body bytes left to pass, or a header being read
  private skip = 0
  private inHeader = false
  private length = 0
  private mult = 1
  /** the acknowledgement being collected (header and body bytes), and its body bytes still to come (-1: in header) */
  private ack: number[] | undefined
  private ackLeft = -1
  private acks: PendingAck[] = []
  private holds = new Map<number, Promise<void>>()
  private flushLater = false

  constructor(private inner: Duplex, info: Omit<ConnectionInfo, 'socket'>, maxPacketSize: number) {
    super({ allowHalfOpen: true })
    this.info = { ...info, socket: inner }
    this.limit = new InboundLimit(maxPacketSize)
    inner.on('data', (chunk: Buffer) => {
      if (!this.limit.feed(chunk)) {
        inner.pause()
        this.destroy(new Error(`packet larger than ${maxPacketSize} bytes or with a malformed length`))
        return
      }
      if (!this.push(chunk)) inner.pause()
    })
    inner.on('end', () => this.push(null))
    inner.on('error', (err) => this.destroy(err))
    inner.on('close', () => this.destroy())
  }

  /** The acknowledgement (PUBACK/PUBREC) of the client's PUBLISH `messageId` waits until `until` settles. */
  hold(messageId: number, until: Promise<void>): void {
    this.holds.set(messageId, until)
  }

  override _read(): void {
    this.inner.resume()
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.done(this.send(chunk), cb)
  }

  override _writev(chunks: { chunk: Buffer }[], cb: (err?: Error | null) => void): void {
    this.inner.cork()
    let ok = true
    for (const c of chunks) ok = this.send(c.chunk) && ok
    this.inner.uncork()
    this.done(ok, cb)
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.inner.end()
    cb()
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.holds.clear()
    this.acks = []
    if (!this.inner.destroyed) this.inner.destroy()
    cb(err)
  }

  private done(ok: boolean, cb: (err?: Error | null) => void): void {
    if (this.flushLater) this.flush()
    if (ok || this.inner.destroyed) cb()
    else this.inner.once('drain', () => cb())
  }

  private get atBoundary(): boolean {
    return this.skip === 0 && !this.inHeader && !this.ack
  }

  /** Pass the bytes on, except acknowledgements, which are queued; false when the socket wants us to wait. */
  private send(chunk: Buffer): boolean {
    let ok = true
    let from = 0
    let i = 0
    const n = chunk.length
    while (i < n) {
      if (this.skip > 0) {
        const k = Math.min(this.skip, n - i)
        this.skip -= k
        i += k
      } else if (this.ack) {
        const b = chunk[i++]
        this.ack.push(b)
        from = i
        if (this.ackLeft < 0) {
          this.length += (b & 0x7f) * this.mult
          this.mult *= 128
          if (b & 0x80) continue
          if (this.length > MAX_HELD_ACK) {
            // not one we hold: let it through as it is
            ok = this.inner.write(Buffer.from(this.ack)) && ok
            this.ack = undefined
            this.skip = this.length
            continue
          }
          this.ackLeft = this.length
        } else {
          this.ackLeft--
        }
        if (this.ackLeft === 0) this.queueAck()
      } else if (this.inHeader) {
        const b = chunk[i++]
        this.length += (b & 0x7f) * this.mult
        this.mult *= 128
        if (!(b & 0x80)) {
          this.inHeader = false
          this.skip = this.length
        }
      } else {
        const type = chunk[i] >> 4
        this.length = 0
        this.mult = 1
        if (type === PUBACK || type === PUBREC) {
          if (i > from) ok = this.inner.write(chunk.subarray(from, i)) && ok
          this.ack = [chunk[i++]]
          this.ackLeft = -1
          from = i
        } else {
          this.inHeader = true
          i++
        }
      }
    }
    if (from < n) ok = this.inner.write(from === 0 ? chunk : chunk.subarray(from)) && ok
    return ok
  }

  private queueAck(): void {
    const bytes = Buffer.from(this.ack!)
    this.ack = undefined
    const header = bytes.length - this.length
    const id = this.length >= 2 ? bytes.readUInt16BE(header) : -1
    const hold = this.holds.get(id)
    const entry: PendingAck = { bytes, ready: !hold }
    if (hold) {
      this.holds.delete(id)
      void hold.then(() => { entry.ready = true; this.flush() })
    }
    this.acks.push(entry)
    this.flush()
  }

  /** write the acknowledgements that may go, in order; only between two packets */
  private flush(): void {
    if (!this.atBoundary) { this.flushLater = true; return }
    this.flushLater = false
    while (this.acks.length > 0 && this.acks[0].ready && !this.inner.destroyed) this.inner.write(this.acks.shift()!.bytes)
  }
}
