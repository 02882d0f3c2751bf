// UWPX §3.1, §12.1 item 2: NUL-framed messages, buffered per connection. Pure: bytes in, frames out, no I/O
// (the mqtt-packet habit). The C++ server parsed each TLS read whole; this one accumulates until `\0`, keeps
// several messages of one read apart, and accepts a read that ends without `\0` when it already holds one
// complete JSON object (§12.1 item 2, optional compatibility), or the last bytes before the peer closed.

export type Frame =
  /** one message's bytes, without the NUL */
  | { kind: 'message'; bytes: Buffer }
  /** a message grew past the limit: its bytes up to the next NUL are dropped */
  | { kind: 'oversized' }

const NUL = 0
const WHITESPACE = new Set([0x20, 0x09, 0x0a, 0x0d])

/** A frame holding only JSON whitespace (a CRLF left after a message taken without its NUL) is no message. */
function blank(b: Buffer): boolean {
  for (const c of b) if (!WHITESPACE.has(c)) return false
  return true
}

/** Ends in `}` (after whitespace) and parses as a JSON object: a message sent without its NUL. */
function completeObject(b: Buffer): boolean {
  let i = b.length - 1
  while (i >= 0 && WHITESPACE.has(b[i])) i--
  if (i < 0 || b[i] !== 0x7d) return false
  try {
    const v: unknown = JSON.parse(b.toString('utf8'))
    return v !== null && typeof v === 'object' && !Array.isArray(v)
  } catch {
    return false
  }
}

export class FrameParser {
  private parts: Buffer[] = []
  private size = 0
  /** inside an oversized message: drop bytes until the next NUL */
  private dropping = false

  constructor(private readonly maxBytes: number) {}

  /** Bytes of one read; the frames they complete, in order. */
  push(chunk: Buffer): Frame[] {
    const out: Frame[] = []
    let start = 0
    for (;;) {
      const nul = chunk.indexOf(NUL, start)
      const end = nul === -1 ? chunk.length : nul
      this.take(chunk.subarray(start, end), out)
      if (nul === -1) break
      this.finish(out)
      start = nul + 1
    }
    // §12.1 item 2: a read that ends without NUL but holds one whole JSON object is a message
    if (!this.dropping && this.size > 0) {
      const pending = this.pending()
      if (completeObject(pending)) this.finish(out)
    }
    return out
  }

  /** The peer closed: what it sent last without a NUL is a message too. */
  end(): Frame[] {
    const out: Frame[] = []
    if (!this.dropping && this.size > 0) this.finish(out)
    this.reset()
    return out
  }

  private take(bytes: Buffer, out: Frame[]): void {
    if (this.dropping || bytes.length === 0) return
    if (this.size + bytes.length > this.maxBytes) {
      this.reset()
      this.dropping = true
      out.push({ kind: 'oversized' })
      return
    }
    this.parts.push(bytes)
    this.size += bytes.length
  }

  private finish(out: Frame[]): void {
    if (!this.dropping) {
      const bytes = this.pending()
      if (!blank(bytes)) out.push({ kind: 'message', bytes })
    }
    this.reset()
  }

  private pending(): Buffer {
    if (this.parts.length !== 1) this.parts = [Buffer.concat(this.parts, this.size)]
    return this.parts[0] ?? Buffer.alloc(0)
  }

  private reset(): void {
    this.parts = []
    this.size = 0
    this.dropping = false
  }
}
