// ETF decoder (synrc §2.1, §2.3), safe by construction: every read is bounds-checked, every count is checked
// against the limits and the bytes left before anything is allocated, depth is bounded, unknown atoms are refused
// (as binary_to_term(B,[safe])), a compressed term's size is checked before inflating. It throws only EtfError.
import { inflateSync } from 'node:zlib'
import { EtfError } from './error.ts'
import { compareTerms, sortedPairs } from './order.ts'
import * as T from './tags.ts'
import { Atom, ErlMap, Float, ImproperList, NIL, Tuple, type Term } from './term.ts'

export interface DecodeOptions {
  /** which atoms may appear: a set of names, a predicate, or 'any' (the VM's plain binary_to_term) */
  atom: ReadonlySet<string> | ((name: string) => boolean) | 'any'
  /** nesting of tuples, lists and maps (default 64, at most MAX_DEPTH) */
  maxDepth?: number
  /** elements of one list, tuple, string or map (default 1,000,000) */
  maxLength?: number
  /** bytes of term data: the payload, or what a compressed payload inflates to (default 16 MiB) */
  maxSize?: number
  /** size a COMPRESSED term may declare, checked before inflating (default 1 MiB, never above maxSize) */
  maxInflated?: number
  /** copy binaries out of the input instead of returning views into it (default false) */
  copyBinaries?: boolean
}

/** The decoder recurses once per level; this keeps it far from the JS stack limit. */
export const MAX_DEPTH = 1000
/** Integers wider than this many bytes (~157,800 decimal digits) are refused. */
export const MAX_BIG_BYTES = 65536

const DEFAULTS = { maxDepth: 64, maxLength: 1_000_000, maxSize: 16 * 1024 * 1024, maxInflated: 1024 * 1024 }

const UNSUPPORTED: Record<number, string> = {
  82: 'ATOM_CACHE_REF', 88: 'NEW_PID_EXT', 89: 'NEW_PORT_EXT', 90: 'NEWER_REFERENCE_EXT', 101: 'REFERENCE_EXT',
  102: 'PORT_EXT', 103: 'PID_EXT', 112: 'NEW_FUN_EXT', 113: 'EXPORT_EXT', 114: 'NEW_REFERENCE_EXT', 117: 'FUN_EXT',
  120: 'V4_PORT_EXT', 121: 'LOCAL_EXT', 80: 'COMPRESSED (only allowed at the top)',
  73: 'VM-internal tag', 74: 'VM-internal tag', 75: 'VM-internal tag', 76: 'VM-internal tag',
}

// ASCII atom names by their bytes (a 1024-slot hash cache): records repeat the same few atoms, and this skips
// making a string and looking it up in the atom table; the allow check still runs on every atom
const ATOM_SLOTS = 1024
const cachedBytes: (Uint8Array | undefined)[] = new Array(ATOM_SLOTS)
const cachedAtoms: Atom[] = new Array(ATOM_SLOTS)
const MAX_CACHED_ATOM = 48

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'))
const utf8 = new TextDecoder('utf-8', { fatal: true })
const FLOAT_TEXT = /^[ ]*[-+]?[0-9]+(\.[0-9]*)?([eE][-+]?[0-9]+)?$/

/** Decodes one ETF payload (version byte 131 first); trailing bytes are an error. */
export function decode(bytes: Uint8Array, opts: DecodeOptions): Term {
  if (!(bytes instanceof Uint8Array)) throw new EtfError('input is not bytes')
  const maxSize = opts.maxSize ?? DEFAULTS.maxSize
  if (bytes.length > maxSize) throw new EtfError(`payload of ${bytes.length} bytes is over the limit of ${maxSize}`, 0)
  if (bytes.length < 2) throw new EtfError('truncated term', bytes.length)
  if (bytes[0] !== T.VERSION) throw new EtfError(`bad version byte ${bytes[0]} (expected 131)`, 0)
  let buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  let start = 1
  if (buf[1] === T.COMPRESSED) {
    buf = inflate(buf, Math.min(opts.maxInflated ?? DEFAULTS.maxInflated, maxSize))
    start = 0
  }
  const d = new Decoder(buf, start, opts)
  let t: Term
  try {
    t = d.term(0)
  } catch (e) {
    // MAX_DEPTH keeps the recursion shallow; a caller already deep in its own stack still gets an EtfError
    if (e instanceof RangeError && /call stack/.test(e.message)) throw new EtfError('term nested too deep for the stack', d.pos)
    throw e
  }
  if (d.pos !== buf.length) throw new EtfError(`${buf.length - d.pos} trailing bytes after the term`, d.pos)
  return t
}

/** 131 80 <u32 size> <zlib>: the declared size is checked first, then inflating stops at it. */
function inflate(buf: Buffer, limit: number): Buffer {
  if (buf.length < 6) throw new EtfError('truncated compressed header', buf.length)
  const size = buf.readUInt32BE(2)
  if (size > limit) throw new EtfError(`compressed term declares ${size} bytes, over the limit of ${limit}`, 2)
  let r: { buffer: Buffer; engine: { bytesWritten: number } }
  try {
    r = inflateSync(buf.subarray(6), { maxOutputLength: Math.max(size, 1), info: true }) as unknown as typeof r
  } catch (e) {
    throw new EtfError(`bad compressed data (${(e as Error).message})`, 6)
  }
  if (r.buffer.length !== size) throw new EtfError(`compressed term inflates to ${r.buffer.length} bytes, not the declared ${size}`, 2)
  if (r.engine.bytesWritten !== buf.length - 6) throw new EtfError('trailing bytes after the compressed data', 6 + r.engine.bytesWritten)
  return r.buffer
}

class Decoder {
  pos: number
  private readonly end: number
  private readonly maxDepth: number
  private readonly maxLength: number
  private readonly allow: ((name: string) => boolean) | null
  private readonly copy: boolean

  constructor(private readonly buf: Buffer, start: number, opts: DecodeOptions) {
    this.pos = start
    this.end = buf.length
    this.maxDepth = Math.min(opts.maxDepth ?? DEFAULTS.maxDepth, MAX_DEPTH)
    this.maxLength = opts.maxLength ?? DEFAULTS.maxLength
    const a = opts.atom
    this.allow = a === 'any' ? null : typeof a === 'function' ? a : (name) => a.has(name)
    this.copy = opts.copyBinaries === true
  }

  private fail(message: string, at = this.pos): never {
    throw new EtfError(message, at)
  }

  /** Makes sure n more bytes are there (the error names `at`, the start of what is being read). */
  private need(n: number, at = this.pos): void {
    if (this.pos + n > this.end) this.fail(`truncated term (${n} bytes needed, ${this.end - this.pos} left)`, at)
  }

  private u16(): number {
    this.need(2)
    const v = (this.buf[this.pos] << 8) | this.buf[this.pos + 1]
    this.pos += 2
    return v
  }

  private u32(): number {
    this.need(4)
    const v = this.buf.readUInt32BE(this.pos)
    this.pos += 4
    return v
  }

  /** A count of things still to read, each at least `unit` bytes: checked against maxLength and the bytes left. */
  private count(n: number, unit: number, what: string, at: number): number {
    if (n > this.maxLength) this.fail(`${what} of ${n} elements is over the limit of ${this.maxLength}`, at)
    if (n * unit > this.end - this.pos) this.fail(`truncated term (${what} of ${n} elements in ${this.end - this.pos} bytes)`, at)
    return n
  }

  term(depth: number): Term {
    const at = this.pos
    this.need(1)
    const buf = this.buf
    const tag = buf[this.pos++]
    switch (tag) {
      case T.SMALL_INTEGER_EXT:
        this.need(1)
        return buf[this.pos++]
      case T.INTEGER_EXT: {
        this.need(4)
        const v = buf.readInt32BE(this.pos)
        this.pos += 4
        return v
      }
      case T.ATOM_EXT: return this.atom(this.u16(), false, at)
      case T.SMALL_ATOM_EXT: this.need(1); return this.atom(buf[this.pos++], false, at)
      case T.ATOM_UTF8_EXT: return this.atom(this.u16(), true, at)
      case T.SMALL_ATOM_UTF8_EXT: this.need(1); return this.atom(buf[this.pos++], true, at)
      case T.BINARY_EXT: {
        const n = this.u32()
        this.need(n, at)
        const b = this.copy ? Buffer.from(buf.subarray(this.pos, this.pos + n)) : Buffer.from(buf.buffer, buf.byteOffset + this.pos, n)
        this.pos += n
        return b
      }
      case T.NIL_EXT: return NIL
      case T.SMALL_TUPLE_EXT: this.need(1); return this.tuple(buf[this.pos++], depth, at)
      case T.LARGE_TUPLE_EXT: return this.tuple(this.u32(), depth, at)
      case T.LIST_EXT: return this.list(this.u32(), depth, at)
      case T.STRING_EXT: {
        const n = this.count(this.u16(), 1, 'string', at)
        const list: number[] = new Array(n)
        for (let i = 0; i < n; i++) list[i] = buf[this.pos + i]
        this.pos += n
        return list
      }
      case T.SMALL_BIG_EXT: this.need(1); return this.big(buf[this.pos++], at)
      case T.LARGE_BIG_EXT: return this.big(this.u32(), at)
      case T.NEW_FLOAT_EXT: {
        this.need(8)
        const v = buf.readDoubleBE(this.pos)
        if (!Number.isFinite(v)) this.fail('float is not finite (NaN or infinity)', at)
        this.pos += 8
        return new Float(v)
      }
      case T.FLOAT_EXT: return this.oldFloat(at)
      case T.MAP_EXT: return this.map(this.u32(), depth, at)
      case T.BIT_BINARY_EXT: return this.bitBinary(at)
      default:
        return this.fail(UNSUPPORTED[tag] ? `unsupported term ${UNSUPPORTED[tag]} (tag ${tag})` : `unknown tag ${tag}`, at)
    }
  }

  private atom(n: number, isUtf8: boolean, at: number): Atom {
    this.need(n, at)
    const buf = this.buf
    const s = this.pos
    if (n <= MAX_CACHED_ATOM) {
      let h = 0x811c9dc5
      let ascii = 0
      for (let i = s; i < s + n; i++) {
        h = Math.imul(h ^ buf[i], 0x01000193)
        ascii |= buf[i]
      }
      if (ascii < 128) {
        const slot = (h ^ (h >>> 16) ^ n) & (ATOM_SLOTS - 1)
        const c = cachedBytes[slot]
        let hit = c !== undefined && c.length === n
        for (let i = 0; hit && i < n; i++) hit = c![i] === buf[s + i]
        if (hit) {
          const a = cachedAtoms[slot]
          if (this.allow !== null && !this.allow(a.name)) this.fail(`atom '${a.name}' is not allowed`, at)
          this.pos = s + n
          return a
        }
        // checked before Atom.of, so refused names never enter the atom table
        const name = buf.toString('latin1', s, s + n)
        if (this.allow !== null && !this.allow(name)) this.fail(`atom '${name}' is not allowed`, at)
        const a = Atom.of(name)
        cachedBytes[slot] = Uint8Array.prototype.slice.call(buf, s, s + n)
        cachedAtoms[slot] = a
        this.pos = s + n
        return a
      }
    }
    let name: string
    if (!isUtf8) {
      if (n > T.MAX_ATOM_CHARS) this.fail(`atom of ${n} characters (the limit is ${T.MAX_ATOM_CHARS})`, at)
      name = buf.toString('latin1', s, s + n)
    } else {
      let ascii = true
      for (let i = s; i < s + n; i++) if (buf[i] > 127) { ascii = false; break }
      if (ascii) name = buf.toString('latin1', s, s + n)
      else {
        try {
          name = utf8.decode(buf.subarray(s, s + n))
        } catch {
          return this.fail('atom is not valid UTF-8', at)
        }
      }
      if (n > T.MAX_ATOM_CHARS && [...name].length > T.MAX_ATOM_CHARS) this.fail(`atom of more than ${T.MAX_ATOM_CHARS} characters`, at)
    }
    if (this.allow !== null && !this.allow(name)) this.fail(`atom '${name.length > 64 ? name.slice(0, 64) + '…' : name}' is not allowed`, at)
    this.pos = s + n
    return Atom.of(name)
  }

  private enter(depth: number, at: number): void {
    if (depth >= this.maxDepth) this.fail(`term nested deeper than ${this.maxDepth}`, at)
  }

  private tuple(n: number, depth: number, at: number): Tuple {
    this.count(n, 1, 'tuple', at)
    if (n > 0) this.enter(depth, at)
    const elements: Term[] = new Array(n)
    for (let i = 0; i < n; i++) elements[i] = this.term(depth + 1)
    return new Tuple(elements)
  }

  /** LIST_EXT: n elements and a tail; a tail that is itself a list is merged, as the VM holds it. */
  private list(n: number, depth: number, at: number): Term {
    this.count(n, 1, 'list', at)
    this.need(n + 1, at)
    this.enter(depth, at)
    const elements: Term[] = new Array(n)
    for (let i = 0; i < n; i++) elements[i] = this.term(depth + 1)
    const tail = this.term(depth + 1)
    if (Array.isArray(tail)) return tail.length === 0 ? elements : elements.concat(tail)
    if (n === 0) return tail
    if (tail instanceof ImproperList) return new ImproperList(elements.concat(tail.elements), tail.tail)
    return new ImproperList(elements, tail)
  }

  private map(n: number, depth: number, at: number): ErlMap {
    this.count(n, 2, 'map', at)
    if (n > 0) this.enter(depth, at)
    const pairs: [Term, Term][] = new Array(n)
    for (let i = 0; i < n; i++) {
      const k = this.term(depth + 1)
      pairs[i] = [k, this.term(depth + 1)]
    }
    // binary_to_term refuses a map with a repeated key
    const sorted = sortedPairs(pairs)
    for (let i = 1; i < n; i++) if (compareTerms(sorted[i - 1][0], sorted[i][0]) === 0) this.fail('map with a duplicate key', at)
    return new ErlMap(pairs)
  }

  /** SMALL_BIG/LARGE_BIG: magnitude little-endian; a number when it is a safe integer, else a bigint. */
  private big(n: number, at: number): number | bigint {
    if (n > MAX_BIG_BYTES) this.fail(`integer of ${n} bytes is over the limit of ${MAX_BIG_BYTES}`, at)
    this.need(1 + n, at)
    const buf = this.buf
    const neg = buf[this.pos++] !== 0
    const s = this.pos
    this.pos += n
    if (n <= 6) {
      let v = 0
      for (let i = n - 1; i >= 0; i--) v = v * 256 + buf[s + i]
      return neg ? (v === 0 ? 0 : -v) : v
    }
    let hex = '0x'
    for (let i = n - 1; i >= 0; i--) hex += HEX[buf[s + i]]
    const v = BigInt(hex)
    if (v <= 9007199254740991n) return neg ? (v === 0n ? 0 : -Number(v)) : Number(v)
    return neg ? -v : v
  }

  /** FLOAT_EXT: 31 bytes of "%.20e" text, NUL-padded (never written by OTP since R13, still accepted). */
  private oldFloat(at: number): Float {
    this.need(31)
    const raw = this.buf.toString('latin1', this.pos, this.pos + 31)
    this.pos += 31
    const text = raw.replace(/\0+$/, '')
    const v = FLOAT_TEXT.test(text) ? Number(text) : NaN
    if (!Number.isFinite(v)) this.fail('FLOAT_EXT is not a finite float', at)
    return new Float(v)
  }

  /** Only whole-byte bit binaries (as the VM reads them, they are binaries); a partial last byte has no JS term. */
  private bitBinary(at: number): Uint8Array {
    const n = this.u32()
    this.need(1)
    const bits = this.buf[this.pos++]
    if (!((n > 0 && bits === 8) || (n === 0 && bits === 0))) {
      this.fail(bits >= 1 && bits <= 7 && n > 0 ? 'bit strings (BIT_BINARY_EXT with a partial last byte) are not supported' : `malformed BIT_BINARY_EXT (${n} bytes, ${bits} bits)`, at)
    }
    this.need(n, at)
    const b = Buffer.from(this.buf.subarray(this.pos, this.pos + n))
    this.pos += n
    return b
  }
}
