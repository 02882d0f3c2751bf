// A bare MQTT client for the load generator: one TCP socket, pre-encoded packets out, frames in through
// FrameParser. It decodes nothing but CONNACK and SUBACK codes; the load reads what it needs from PUBLISH frames.
import net from 'node:net'
import {
  CONNACK, FrameParser, PubackWriter, SUBACK, connackCode, connectPacket, disconnectPacket,
  subscribePacket, type ConnectOptions, type FrameHandler, type ProtocolVersion,
} from './mqtt-wire.ts'

/** The broker answered CONNECT with a non-zero code, or closed the connection before any CONNACK. */
export class ConnectRefused extends Error {
  constructor(readonly code: number | 'closed', clientId: string) {
    super(`${clientId}: ${code === 'closed' ? 'connection closed before CONNACK' : `CONNACK code ${code}`}`)
  }
}

export interface Endpoint { host: string; port: number; localAddress?: string }

const ACK_BATCH = 512
const READ_BUFFER = Buffer.alloc(256 * 1024)

export class RawClient {
  readonly parser = new FrameParser()
  /** after each chunk's frames: flush what they queued */
  afterChunk: () => void = () => {}
  private handler: FrameHandler = () => {}
  /** frames that came after the CONNACK and before a handler was set (a session's queued messages): type byte, body */
  private early: Array<[number, Buffer]> | null = null
  private acks: Uint16Array | null = null // allocated at the first PUBACK: bench:connections holds 100k clients
  private ackCount = 0
  private readonly pubacks: PubackWriter
  private nextSubId = 1

  private constructor(readonly socket: net.Socket, readonly protocolVersion: ProtocolVersion) {
    this.pubacks = new PubackWriter(protocolVersion)
  }

  /** Bytes read from the socket (into the shared read buffer): split into frames, then flush what they queued. */
  private readonly received = (nread: number, buf: Buffer): void => {
    try {
      this.parser.push(buf, this.dispatch, nread)
    } catch {
      this.socket.destroy() // a malformed frame from the broker: this client is lost, the load counts it as such
      return
    }
    this.flushAcks()
    this.afterChunk()
  }

  private readonly dispatch: FrameHandler = (first, buf, body, end) => this.handler(first, buf, body, end)

  /** every frame after the CONNACK goes here; frames that came before it was set are replayed to it */
  get onFrame(): FrameHandler {
    return this.handler
  }

  set onFrame(h: FrameHandler) {
    this.handler = h
    const early = this.early
    this.early = null
    if (!early?.length) return
    for (const [first, body] of early) h(first, body, 0, body.length)
    this.flushAcks()
  }

  /** after the CONNACK: keep frames until the user sets onFrame */
  private holdFrames(): void {
    const early: Array<[number, Buffer]> = []
    this.early = early
    this.handler = (first, buf, body, end) => { early.push([first, Buffer.from(buf.subarray(body, end))]) }
  }

  static connect(to: Endpoint, o: ConnectOptions, timeoutMs = 30_000): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      // onread: every socket reads into one shared buffer, no allocation and no stream machinery per read; frames
      // are handled synchronously and FrameParser copies out a partial one, so the buffer is free again after it
      const socket = net.connect({
        host: to.host, port: to.port, localAddress: to.localAddress,
        onread: { buffer: READ_BUFFER, callback: (nread, buf) => { client.received(nread, buf as Buffer); return true } },
      })
      socket.setNoDelay(true)
      const client = new RawClient(socket, o.protocolVersion)
      const timer = setTimeout(() => fail(new Error(`${o.clientId}: no CONNACK within ${timeoutMs} ms`)), timeoutMs)
      const fail = (err: Error) => { clearTimeout(timer); socket.destroy(); reject(err) }
      socket.once('error', fail)
      socket.once('close', () => fail(new ConnectRefused('closed', o.clientId)))
      client.handler = (first, buf, body, end) => {
        if (first >> 4 !== CONNACK) return
        const code = connackCode(buf, body, end)
        if (code !== 0) return fail(new ConnectRefused(code, o.clientId))
        clearTimeout(timer)
        socket.removeAllListeners('error').removeAllListeners('close')
        socket.on('error', () => {})
        client.holdFrames()
        resolve(client)
      }
      socket.write(connectPacket(o))
    })
  }

  /** SUBSCRIBE one filter and wait for its SUBACK; rejects when the broker refuses it (0x80 or above). */
  subscribe(topic: string, qos: 0 | 1): Promise<void> {
    const id = this.nextSubId++
    return new Promise((resolve, reject) => {
      const before = this.handler // not the setter: frames held since the CONNACK stay held
      const onClose = () => reject(new Error(`connection closed before SUBACK for ${topic}`))
      this.socket.once('close', onClose)
      this.handler = (first, buf, body, end) => {
        if (first >> 4 !== SUBACK || buf.readUInt16BE(body) !== id) return before(first, buf, body, end)
        this.handler = before
        this.socket.off('close', onClose)
        const code = buf[end - 1] // one filter: the last byte is its granted QoS or failure code
        if (code >= 0x80) reject(new Error(`subscription to ${topic} refused (0x${code.toString(16)})`))
        else resolve()
      }
      this.socket.write(subscribePacket(topic, qos, id, this.protocolVersion))
    })
  }

  /** Queue a PUBACK for packet `id` (sent in one write after the chunk). */
  ack(id: number): void {
    this.acks ??= new Uint16Array(ACK_BATCH)
    this.acks[this.ackCount++] = id
    if (this.ackCount === ACK_BATCH) this.flushAcks()
  }

  private flushAcks(): void {
    if (this.ackCount === 0 || !this.acks) return
    this.socket.write(this.pubacks.encode(this.acks, this.ackCount))
    this.ackCount = 0
  }

  write(buf: Buffer): void {
    this.socket.write(buf)
  }

  get open(): boolean {
    return !this.socket.destroyed
  }

  /** DISCONNECT (a clean end: no will), then wait until the socket is closed. */
  close(): Promise<void> {
    return new Promise((resolve) => {
      if (this.socket.destroyed) return resolve()
      const t = setTimeout(() => this.socket.destroy(), 2000)
      this.socket.once('close', () => { clearTimeout(t); resolve() })
      this.socket.end(disconnectPacket(this.protocolVersion))
    })
  }
}

/** The packet id of a PUBLISH frame at QoS 1 or 2, or 0 at QoS 0. */
export function publishPacketId(first: number, buf: Buffer, body: number): number {
  if ((first & 0x06) === 0) return 0
  const at = body + 2 + buf.readUInt16BE(body)
  return (buf[at] << 8) | buf[at + 1]
}
