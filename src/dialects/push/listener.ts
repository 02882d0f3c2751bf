// UWPX §3.1, §12.1 items 1–2: implicit TLS (1.2 and 1.3) from the first byte, NUL-framed JSON, requests of one
// connection answered in order, the connection kept open for more. Limits: connections per address, idle time,
// message size. A client that half-closes still gets the replies to what it sent (its last message may lack its NUL).
import type net from 'node:net'
import tls from 'node:tls'
import type { Logger } from 'pino'
import { FrameParser, type Frame } from './frames.ts'
import { ERRORS, errorReply } from './messages.ts'

export interface UwpxListenerOptions {
  cert: string
  key: string
  maxMessageBytes: number
  maxConnectionsPerAddress: number
  idleTimeoutMs: number
  /** one request frame's bytes → its reply frame */
  handle(bytes: Buffer): Promise<Buffer>
  /** a connection refused by the per-address limit */
  onRefused?(address: string): void
  log: Logger
}

/** a connection's peer, the same on its TCP socket and on the TLS socket over it */
const peerOf = (s: net.Socket): string => `${s.remoteAddress ?? ''}|${s.remotePort ?? ''}`

/** frames read ahead of the one being answered before the socket is paused */
const MAX_QUEUED = 16

export class UwpxListener {
  readonly server: tls.Server
  private perAddress = new Map<string, number>()
  private sockets = new Set<net.Socket>()
  /** the TCP sockets by peer, to end the one under a TLS socket (Node gives no public way from one to the other) */
  private byPeer = new Map<string, net.Socket>()

  constructor(private readonly o: UwpxListenerOptions) {
    this.server = tls.createServer({
      cert: o.cert, key: o.key, minVersion: 'TLSv1.2', maxVersion: 'TLSv1.3',
      handshakeTimeout: o.idleTimeoutMs, allowHalfOpen: true,
    }, (socket) => this.serve(socket))
    this.server.on('connection', (raw: net.Socket) => this.admit(raw))
    // a failed handshake only ends that connection; Node leaves its TCP socket object without a 'close' event
    // then (the TLS socket took its handle over), so it is destroyed here to be counted out
    this.server.on('tlsClientError', (_err, socket) => this.rawOf(socket)?.destroy())
  }

  /** open connections (TCP, before and after the handshake) */
  get connections(): number { return this.sockets.size }

  /** Close every open connection (the server itself is closed by whoever listens it). */
  destroyAll(): void {
    for (const s of this.sockets) s.destroy()
  }

  private admit(raw: net.Socket): void {
    const address = raw.remoteAddress ?? ''
    const n = this.perAddress.get(address) ?? 0
    if (n >= this.o.maxConnectionsPerAddress) {
      this.o.onRefused?.(address)
      raw.destroy()
      return
    }
    this.perAddress.set(address, n + 1)
    this.sockets.add(raw)
    const peer = peerOf(raw)
    this.byPeer.set(peer, raw)
    raw.once('close', () => {
      this.sockets.delete(raw)
      if (this.byPeer.get(peer) === raw) this.byPeer.delete(peer)
      const left = (this.perAddress.get(address) ?? 1) - 1
      if (left <= 0) this.perAddress.delete(address)
      else this.perAddress.set(address, left)
    })
  }

  private rawOf(socket: tls.TLSSocket): net.Socket | undefined {
    return this.byPeer.get(peerOf(socket))
  }

  private serve(socket: tls.TLSSocket): void {
    const parser = new FrameParser(this.o.maxMessageBytes)
    const queue: Frame[] = []
    let busy = false
    let ended = false
    socket.setTimeout(this.o.idleTimeoutMs, () => socket.destroy())
    socket.on('error', () => socket.destroy())
    socket.once('close', () => this.rawOf(socket)?.destroy())

    const drain = async () => {
      if (busy) return
      busy = true
      try {
        while (queue.length > 0 && !socket.destroyed) {
          const frame = queue.shift()!
          if (queue.length < MAX_QUEUED && !ended) socket.resume()
          // §3.4: an oversized request is one that cannot be parsed
          const reply = frame.kind === 'oversized' ? errorReply(ERRORS.malformed) : await this.o.handle(frame.bytes)
          if (socket.destroyed) return
          if (!socket.write(reply)) await new Promise<void>((r) => { socket.once('drain', r); socket.once('close', r) })
        }
      } catch (err) {
        this.o.log.error({ err }, 'push: UWPX connection failed')
        socket.destroy()
        return
      } finally {
        busy = false
      }
      if (ended && !socket.destroyed) socket.end()
    }

    socket.on('data', (chunk: Buffer) => {
      queue.push(...parser.push(chunk))
      if (queue.length >= MAX_QUEUED) socket.pause()
      void drain()
    })
    socket.on('end', () => {
      ended = true
      queue.push(...parser.end())
      void drain()
    })
  }
}
