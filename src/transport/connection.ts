// Herald's side of one MQTT connection: a Duplex between the socket (TCP, TLS or WebSocket stream) and the broker.
// Inbound it reads MQTT fixed headers (type byte + remaining-length varint, MQTT 3.1.1 §2.2.3) and closes the
// connection on a packet announced larger than the limit, before its body is buffered. Outbound it holds the PUBACK
// or PUBREC of a PUBLISH that Herald is still handling (`hold`), and sends a client's acknowledgements in the order of
// its PUBLISHes (§4.6), whatever the order their handling ends in. Under MQTT 5 it also keeps the Receive Maximum both
// ways (§4.9): a client with more unacknowledged QoS 1/2 PUBLISHes than Herald's is reported (DISCONNECT 0x93), and
// Herald's QoS 1/2 PUBLISHes beyond the client's wait for its PUBACK/PUBCOMP; a packet over the limit is let through
// up to its fixed header only, so that Aedes answers DISCONNECT 0x95 (MQTT-3.2.2-15).
import type { TLSSocket } from 'node:tls'
import { Duplex } from 'node:stream'
import type { Limited, TrafficStats } from './limits.ts'

const PUBLISH = 3
const PUBACK = 4
const PUBREC = 5
const PUBCOMP = 7
/** an acknowledgement longer than this (MQTT 5 properties) is passed on as it is, not held */
const MAX_HELD_ACK = 1024

/** Follows fixed headers through a byte stream: false when one is malformed or announces more than `max`. */
class InboundLimit {
  private skip = 0
  private inHeader = false
  private first = 0
  private length = 0
  private mult = 1
  private lenBytes = 0
  /** body bytes of the current packet passed so far, and whether its byte 2 (a PUBREC's reason code) is wanted */
  private bodyAt = 0
  private pubrec = false
  /** the remaining length had more than four bytes */
  malformed = false
  /** each packet's fixed header, once its length is known */
  onHeader?: (type: number, flags: number) => void
  /** the reason code of a PUBREC from the client (MQTT 5, §3.5.2.1) */
  onPubrecReason?: (code: number) => void

  constructor(private max: number, private stats?: TrafficStats) {}

  /** -1: all well; else the offset in `chunk` just past the length byte that broke the limit (or was malformed) */
  feed(chunk: Buffer): number {
    let i = 0
    while (i < chunk.length) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, chunk.length - i)
        if (this.pubrec && this.bodyAt + n > 2) {
          this.pubrec = false
          this.onPubrecReason?.(chunk[i + 2 - this.bodyAt])
        }
        this.bodyAt += n
        this.skip -= n
        i += n
        continue
      }
      const b = chunk[i++]
      if (!this.inHeader) {
        this.inHeader = true
        this.first = b
        this.length = 0
        this.mult = 1
        this.lenBytes = 0
        continue
      }
      this.length += (b & 0x7f) * this.mult
      this.mult *= 128
      if (++this.lenBytes > 4) this.malformed = true
      if (this.malformed || this.length > this.max) return i
      if (b & 0x80) continue
      this.inHeader = false
      this.skip = this.length
      this.bodyAt = 0
      this.pubrec = this.first >> 4 === PUBREC && this.length >= 3
      if (this.stats) {
        this.stats.packetsIn++
        if (this.first >> 4 === PUBLISH) this.stats.publishIn++
      }
      this.onHeader?.(this.first >> 4, this.first & 0x0f)
    }
    return -1
  }
}

/** The client's QoS 1/2 PUBLISHes not yet acknowledged, and how many it may have (MQTT 5 Receive Maximum, §4.9; 3.1.1:
 * HERALD_MQTT_MAX_INFLIGHT_IN for QoS 2, whose PUBLISHes never released were unbounded, GHSA-5jvp-3p2v-5qgf) */
interface Inbound {
  max: number
  inFlight: number
  onExceeded: () => void
  /** 3.1.1: QoS 2 PUBLISHes only, answered by PUBCOMP */
  qos2Only: boolean
}

/**
 * What keeps one connection from costing the broker what it cannot send (issue 11 §4): the broker is never made to wait
 * for this socket (a frozen client slows no other subscriber); past `maxQueuedBytes` queued in the socket, PUBLISHes to
 * the client are not written (counted) and its input is not read; a socket that does not drain for `drainTimeout` ms is
 * closed.
 */
export interface ConnectionGuard {
  stats: TrafficStats
  maxQueuedBytes: number
  drainTimeout: number
  limited: Limited
}

/** MQTT 5 flow control of one connection (§4.9) */
interface Flow {
  /** the client's Receive Maximum (65535: not limited here), and Herald's QoS 1/2 PUBLISHes it has not acknowledged */
  outMax: number
  outFlight: number
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
  private flow: Flow | undefined
  /** outbound bytes waiting for the client's Receive Maximum (from the start of a QoS 1/2 PUBLISH), and their writes */
  private heldOut: Buffer[] = []
  private heldCbs: (() => void)[] = []
  /** 3.1.1 / 3.1: Herald's QoS 1/2 PUBLISHes the client has not acknowledged (v5: `flow.outFlight`); undefined until counted */
  private unacked: number | undefined
  /** a v5 packet over the limit was passed up to its header: the rest of the input is ignored */
  private rejecting = false
  private inbound: Inbound | undefined
  /** bytes of `heldOut` */
  private heldBytes = 0
  /** the outbound PUBLISH being followed is not written (the socket is over its queue bound) */
  private discard = false
  private drainTimer: NodeJS.Timeout | undefined
  /** the broker wants input, which waits for the socket to drain */
  private readWanted = false

  constructor(private inner: Duplex, info: Omit<ConnectionInfo, 'socket'>, maxPacketSize: number, private guard?: ConnectionGuard) {
    super({ allowHalfOpen: true })
    this.info = { ...info, socket: inner }
    this.limit = new InboundLimit(maxPacketSize, guard?.stats)
    if (guard) {
      inner.on('drain', () => {
        if (this.drainTimer) { clearTimeout(this.drainTimer); this.drainTimer = undefined }
        if (this.readWanted && !this.overQueued()) { this.readWanted = false; inner.resume() }
      })
    }
    inner.on('data', (chunk: Buffer) => {
      if (this.rejecting) return
      if (guard) guard.stats.bytesIn += chunk.length
      const over = this.limit.feed(chunk)
      if (over >= 0) {
        inner.pause()
        if (this.flow && !this.limit.malformed) {
          // Aedes sees the announced length and answers DISCONNECT 0x95; should it not, the connection goes anyway
          this.rejecting = true
          this.push(chunk.subarray(0, over))
          setTimeout(() => this.destroy(), 5000).unref()
          return
        }
        this.destroy(new Error(`packet larger than ${maxPacketSize} bytes or with a malformed length`))
        return
      }
      if (!this.push(chunk)) inner.pause()
      // what the client sends is answered, and a client that does not read its answers is not read either
      else if (this.overQueued()) { inner.pause(); this.readWanted = true }
    })
    inner.on('end', () => this.push(null))
    inner.on('error', (err) => this.destroy(err))
    inner.on('close', () => this.destroy())
  }

  /**
   * The client's CONNECT was MQTT 5: count its unacknowledged QoS 1/2 PUBLISHes against `receiveMaximum` (more:
   * `onExceeded`), and hold Herald's beyond `clientReceiveMaximum` until the client acknowledges earlier ones.
   */
  mqtt5(receiveMaximum: number, clientReceiveMaximum: number, onExceeded: () => void): void {
    const flow: Flow = { outMax: clientReceiveMaximum, outFlight: 0 }
    this.flow = flow
    const count = this.countInbound(receiveMaximum, onExceeded)
    this.limit.onHeader = (type, flags) => {
      if (type === PUBLISH && (flags & 0x06) !== 0) {
        count()
      } else if (type === PUBACK || type === PUBCOMP) {
        this.released()
      }
    }
    // a PUBREC with a failure reason code ends the QoS 2 exchange (MQTT 5.0 §4.3.3)
    this.limit.onPubrecReason = (code) => { if (code >= 0x80) this.released() }
  }

  /**
   * MQTT 3.1.1 / 3.1: more than `max` of the client's QoS 2 PUBLISHes not completed (PUBCOMP, i.e. until its PUBREL):
   * `onExceeded`. QoS 1 is not counted: 3.1.1 sets no in-flight limit a client could keep, and a pipelining publisher
   * has thousands in one read before the first PUBACK goes out.
   */
  inflightLimit(max: number, onExceeded: () => void): void {
    const count = max > 0 ? this.countInbound(max, onExceeded, true) : undefined
    // the client's PUBACKs and PUBCOMPs also end Herald's deliveries it had in flight (stats())
    this.unacked = 0
    this.limit.onHeader = (type, flags) => {
      if (type === PUBLISH && (flags & 0x06) === 0x04) count?.()
      else if ((type === PUBACK || type === PUBCOMP) && this.unacked! > 0) this.unacked!--
    }
  }

  private countInbound(max: number, onExceeded: () => void, qos2Only = false): () => void {
    const inbound: Inbound = { max, inFlight: 0, onExceeded, qos2Only }
    this.inbound = inbound
    let reported = false
    return () => { if (++inbound.inFlight > inbound.max && !reported) { reported = true; inbound.onExceeded() } }
  }

  /** what waits for the client: unread socket bytes and PUBLISHes held for its Receive Maximum; Herald's unacknowledged QoS 1/2 (v5) */
  stats(): { queuedBytes: number; inflight?: number } {
    return { queuedBytes: this.inner.writableLength + this.heldBytes, inflight: this.flow?.outFlight ?? this.unacked }
  }

  /** one of Herald's QoS 1/2 PUBLISHes was acknowledged by the client */
  private released(): void {
    const flow = this.flow!
    if (flow.outFlight > 0) flow.outFlight--
    if (this.heldOut.length === 0 || flow.outFlight >= flow.outMax) return
    const held = this.heldOut
    this.heldOut = []
    this.heldBytes = 0
    for (const b of held) this.send(b)
    if (this.heldOut.length === 0) for (const cb of this.heldCbs.splice(0)) cb()
  }

  /** one of the client's QoS 1/2 PUBLISHes was answered (PUBACK, PUBCOMP, or a PUBREC with a failure code) */
  private answered(byPubcomp = false): void {
    if (this.inbound && this.inbound.inFlight > 0 && (byPubcomp || !this.inbound.qos2Only)) this.inbound.inFlight--
  }

  /** The acknowledgement (PUBACK/PUBREC) of the client's PUBLISH `messageId` waits until `until` settles. */
  hold(messageId: number, until: Promise<void>): void {
    this.holds.set(messageId, until)
  }

  override _read(): void {
    if (this.overQueued()) { this.readWanted = true; return }
    this.inner.resume()
  }

  /**
   * the socket holds more than the guard's bound of bytes it could not send yet (at least its high-water mark, so that
   * a 'drain' follows). Bytes held for the client's Receive Maximum are not counted: the PUBACKs that release them
   * must be read.
   */
  private overQueued(): boolean {
    return this.guard !== undefined && this.inner.writableLength >= Math.max(this.guard.maxQueuedBytes, this.inner.writableHighWaterMark)
  }

  /** the socket did not take everything: it has drainTimeout ms to drain (Aedes' drainTimeout, which it never sees) */
  private armDrain(): void {
    if (!this.guard || this.guard.drainTimeout <= 0 || this.drainTimer || this.inner.writableLength === 0) return
    this.drainTimer = setTimeout(() => {
      this.guard!.limited('drain-timeout')
      this.destroy(new Error('drain timeout'))
    }, this.guard.drainTimeout)
    this.drainTimer.unref()
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
    this.heldOut = []
    this.heldBytes = 0
    if (this.drainTimer) clearTimeout(this.drainTimer)
    for (const c of this.heldCbs.splice(0)) c()
    if (!this.inner.destroyed) this.inner.destroy()
    cb(err)
  }

  private done(ok: boolean, cb: (err?: Error | null) => void): void {
    if (this.flushLater) this.flush()
    if (this.guard) {
      // the broker goes on at once: what the socket cannot take is bounded here (send), not by waiting
      if (!ok) this.armDrain()
      if (this.heldBytes > this.guard.maxQueuedBytes) {
        // a v5 client that acknowledges nothing while Herald's messages wait for its Receive Maximum
        this.guard.limited('queue-qos')
        this.destroy(new Error('messages held for the client\'s Receive Maximum over the queue bound'))
      }
      cb()
      return
    }
    // held for the client's Receive Maximum: the write completes when they go (Aedes' drainTimeout bounds the wait)
    if (this.heldOut.length > 0) { this.heldCbs.push(() => cb()); return }
    if (ok || this.inner.destroyed) cb()
    else this.inner.once('drain', () => cb())
  }

  private get atBoundary(): boolean {
    return this.skip === 0 && !this.inHeader && !this.ack
  }

  /** Pass the bytes on, except acknowledgements, which are queued; false when the socket wants us to wait. */
  private send(chunk: Buffer): boolean {
    if (this.heldOut.length > 0) { this.heldOut.push(chunk); this.heldBytes += chunk.length; return true }
    let ok = true
    let from = 0
    let i = 0
    const n = chunk.length
    while (i < n) {
      if (this.skip > 0) {
        const k = Math.min(this.skip, n - i)
        this.skip -= k
        i += k
        if (this.skip === 0 && this.discard) { this.discard = false; from = i }
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
            ok = this.out(Buffer.from(this.ack)) && ok
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
        const g = this.guard
        if (g) {
          if (type === PUBLISH && this.inner.writableLength >= g.maxQueuedBytes) {
            // not written: QoS 0 promises nothing; a QoS 1/2 one stays in a persistent session's store and is sent
            // again on its next connection (Mosquitto drops past max_queued_messages the same way)
            g.limited((chunk[i] & 0x06) === 0 ? 'queue-qos0' : 'queue-qos')
            g.stats.publishDropped++
            if (i > from) ok = this.out(chunk.subarray(from, i)) && ok
            this.discard = true
            this.inHeader = true
            i++
            from = i
            continue
          }
          g.stats.packetsOut++
          if (type === PUBLISH) g.stats.publishOut++
        }
        const flow = this.flow
        // counted for every v5 client (the admin API shows it); held only for one that set a Receive Maximum
        if (flow && type === PUBLISH && (chunk[i] & 0x06) !== 0) {
          if (flow.outMax < 65535 && flow.outFlight >= flow.outMax) {
            // from this PUBLISH on, everything waits for the client's PUBACK/PUBCOMP (released())
            if (i > from) ok = this.out(chunk.subarray(from, i)) && ok
            this.heldOut.push(chunk.subarray(i))
            this.heldBytes += n - i
            return ok
          }
          flow.outFlight++
        } else if (!flow && this.unacked !== undefined && type === PUBLISH && (chunk[i] & 0x06) !== 0) {
          this.unacked++
        }
        if (type === PUBCOMP) this.answered(true)
        if (type === PUBACK || type === PUBREC) {
          if (i > from) ok = this.out(chunk.subarray(from, i)) && ok
          this.ack = [chunk[i++]]
          this.ackLeft = -1
          from = i
        } else {
          this.inHeader = true
          i++
        }
      }
    }
    if (this.discard) return ok
    if (from < n) ok = this.out(from === 0 ? chunk : chunk.subarray(from)) && ok
    return ok
  }

  private out(b: Buffer): boolean {
    if (this.guard) this.guard.stats.bytesOut += b.length
    return this.inner.write(b)
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
    while (this.acks.length > 0 && this.acks[0].ready && !this.inner.destroyed) {
      const bytes = this.acks.shift()!.bytes
      // a PUBACK, or a PUBREC with a failure reason code (after the 2-byte header and packet id), ends the exchange
      let at = 1
      while (bytes[at] & 0x80) at++
      if (bytes[0] >> 4 === PUBACK || (bytes[at + 3] ?? 0) >= 0x80) this.answered()
      this.out(bytes)
    }
  }
}
