// Raw MQTT 3.1.1 bytes on a plain socket, for what a well-behaved client library will not send (issue 2 bar).
import net from 'node:net'

function str(s: string | Buffer): Buffer {
  const b = typeof s === 'string' ? Buffer.from(s, 'utf8') : s
  const len = Buffer.alloc(2)
  len.writeUInt16BE(b.length)
  return Buffer.concat([len, b])
}

function remainingLength(n: number): Buffer {
  const out: number[] = []
  do {
    let byte = n % 128
    n = Math.floor(n / 128)
    if (n > 0) byte |= 0x80
    out.push(byte)
  } while (n > 0)
  return Buffer.from(out)
}

export function packet(type: number, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from([type]), remainingLength(body.length), body])
}

/** CONNECT (MQTT 3.1.1 §3.1) with an optional protocol name override. */
export function connectPacket(o: { clientId: string; username?: string; password?: string; keepalive?: number; protocol?: string; clean?: boolean }): Buffer {
  let flags = o.clean === false ? 0 : 0x02 // clean session unless told otherwise
  if (o.username !== undefined) flags |= 0x80
  if (o.password !== undefined) flags |= 0x40
  const keep = Buffer.alloc(2)
  keep.writeUInt16BE(o.keepalive ?? 30)
  const parts = [str(o.protocol ?? 'MQTT'), Buffer.from([4, flags]), keep, str(o.clientId)]
  if (o.username !== undefined) parts.push(str(o.username))
  if (o.password !== undefined) parts.push(str(o.password))
  return packet(0x10, Buffer.concat(parts))
}

/** PUBLISH QoS 0 with raw topic bytes (so invalid UTF-8 can be sent). */
export function publishPacket(topic: Buffer, payload: Buffer): Buffer {
  return packet(0x30, Buffer.concat([str(topic), payload]))
}

/** PUBLISH QoS 1 or 2 (§3.3) with its packet identifier. */
export function publishQoSPacket(topic: string, payload: string, qos: 1 | 2, id: number): Buffer {
  const pid = Buffer.alloc(2)
  pid.writeUInt16BE(id)
  return packet(0x30 | (qos << 1), Buffer.concat([str(topic), pid, Buffer.from(payload)]))
}

/** SUBSCRIBE (§3.8) to one filter. */
export function subscribePacket(id: number, filter: string, qos: 0 | 1 | 2): Buffer {
  const pid = Buffer.alloc(2)
  pid.writeUInt16BE(id)
  return packet(0x82, Buffer.concat([pid, str(filter), Buffer.from([qos])]))
}

export interface RawConn {
  socket: net.Socket
  /** everything received so far */
  received(): Buffer
  /** resolves when the server closed the connection (rejects after `ms`) */
  closed(ms?: number): Promise<void>
  /** resolves once at least `n` bytes arrived */
  bytes(n: number, ms?: number): Promise<Buffer>
}

export function raw(port: number): Promise<RawConn> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port })
    let buf = Buffer.alloc(0)
    let isClosed = false
    const waiters: (() => void)[] = []
    const wake = () => { for (const w of waiters.splice(0)) w() }
    socket.on('data', (d) => { buf = Buffer.concat([buf, d]); wake() })
    socket.on('error', () => {})
    socket.on('close', () => { isClosed = true; wake() })
    const until = (cond: () => boolean, ms: number, what: string) => new Promise<void>((ok, fail) => {
      const t = setTimeout(() => fail(new Error(`timed out waiting for ${what}`)), ms)
      const check = () => { if (cond()) { clearTimeout(t); ok() } else waiters.push(check) }
      check()
    })
    socket.once('connect', () => resolve({
      socket,
      received: () => buf,
      closed: (ms = 5000) => until(() => isClosed, ms, 'the server to close the connection'),
      bytes: async (n, ms = 5000) => { await until(() => buf.length >= n || isClosed, ms, `${n} bytes`); return buf },
    }))
    socket.once('error', reject)
  })
}
