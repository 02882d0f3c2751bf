// ETF encoder (synrc §2.1, §2.3): byte-identical to OTP 25 term_to_binary/1, or to term_to_binary(T,[{minor_version,2}])
// with { atoms: 'utf8' }. No compressed output: Node's bundled zlib deflates differently from the VM's, so
// term_to_binary(T,[compressed]) bytes cannot be matched (and the server never compresses, §2.1).
// Writes into one growing scratch buffer; atom encodings are computed once per atom.
import { EtfError } from './error.ts'
import { listParts, compareTerms, sortedPairs } from './order.ts'
import * as T from './tags.ts'
import { Atom, ErlMap, Float, ImproperList, Tuple, type Term } from './term.ts'

export interface EncodeOptions {
  /** 'latin1' (default): ATOM_EXT 100 as OTP 25; 'utf8': SMALL_ATOM_UTF8 119 / ATOM_UTF8 118 as OTP 26 */
  atoms?: 'latin1' | 'utf8'
}

/** Deeper JS values than this are refused (the encoder recurses). */
const MAX_ENCODE_DEPTH = 1000
const SCRATCH_KEEP = 1 << 20

let out = Buffer.allocUnsafe(64 * 1024)
let pos = 0

function grow(n: number): void {
  let size = out.length * 2
  while (size < pos + n) size *= 2
  const next = Buffer.allocUnsafe(size)
  out.copy(next, 0, 0, pos)
  out = next
}

const fail = (message: string): never => { throw new EtfError(message, pos) }

/** Encodes one term as a full ETF payload (version byte 131 first). */
export function encode(term: Term, opts?: EncodeOptions): Buffer {
  pos = 0
  const atomTable = opts?.atoms === 'utf8' ? utf8Atoms : latin1Atoms
  if (out.length < 16) grow(16)
  out[pos++] = T.VERSION
  try {
    writeTerm(term, atomTable, 0)
  } catch (e) {
    if (e instanceof RangeError && /call stack/.test(e.message)) fail('term nested too deep for the stack')
    throw e
  }
  const result = Buffer.allocUnsafe(pos)
  out.copy(result, 0, 0, pos)
  if (out.length > SCRATCH_KEEP) out = Buffer.allocUnsafe(64 * 1024)
  return result
}

function writeTerm(t: Term, atoms: Map<Atom, Buffer>, depth: number): void {
  if (pos + 16 > out.length) grow(16)
  if (typeof t === 'number') return writeNumber(t)
  if (t instanceof Atom) return writeAtom(t, atoms)
  if (t instanceof Uint8Array) return writeBinary(t)
  if (Array.isArray(t)) return writeList(t, atoms, depth)
  if (t instanceof Tuple) return writeTuple(t.elements, atoms, depth)
  if (typeof t === 'bigint') return writeBigint(t)
  if (t instanceof Float) return writeFloat(t.value)
  if (t instanceof ImproperList) return writeImproper(t, atoms, depth)
  if (t instanceof ErlMap) return writeMap(t, atoms, depth)
  fail(`cannot encode a JS ${t === null ? 'null' : typeof t} as an Erlang term`)
}

function writeU32(v: number): void {
  out[pos++] = v >>> 24
  out[pos++] = (v >>> 16) & 255
  out[pos++] = (v >>> 8) & 255
  out[pos++] = v & 255
}

function writeNumber(n: number): void {
  if (!Number.isInteger(n)) fail(`${n} is not an integer (wrap floats in Float)`)
  if (n >= 0 && n <= 255) {
    out[pos++] = T.SMALL_INTEGER_EXT
    out[pos++] = n
  } else if (n >= -2147483648 && n <= 2147483647) {
    out[pos++] = T.INTEGER_EXT
    writeU32(n >>> 0)
  } else if (Number.isSafeInteger(n)) {
    // |n| < 2^53: at most 7 magnitude bytes, SMALL_BIG_EXT little-endian
    let m = Math.abs(n)
    const start = pos
    pos += 3
    let len = 0
    while (m > 0) {
      out[pos++] = m % 256
      m = Math.floor(m / 256)
      len++
    }
    out[start] = T.SMALL_BIG_EXT
    out[start + 1] = len
    out[start + 2] = n < 0 ? 1 : 0
  } else {
    writeBigint(BigInt(n))
  }
}

function writeBigint(n: bigint): void {
  if (n >= -2147483648n && n <= 2147483647n) return writeNumber(Number(n))
  const neg = n < 0n
  let hex = (neg ? -n : n).toString(16)
  if (hex.length & 1) hex = '0' + hex
  const len = hex.length >> 1
  if (pos + 6 + len > out.length) grow(6 + len)
  if (len <= 255) {
    out[pos++] = T.SMALL_BIG_EXT
    out[pos++] = len
  } else {
    out[pos++] = T.LARGE_BIG_EXT
    writeU32(len)
  }
  out[pos++] = neg ? 1 : 0
  for (let i = len - 1; i >= 0; i--) out[pos++] = parseInt(hex.substr(i * 2, 2), 16)
}

function writeFloat(v: number): void {
  if (!Number.isFinite(v)) fail(`${v} is not an Erlang float`)
  out[pos++] = T.NEW_FLOAT_EXT
  out.writeDoubleBE(v, pos)
  pos += 8
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/
const latin1Atoms = new Map<Atom, Buffer>()
const utf8Atoms = new Map<Atom, Buffer>()

function writeAtom(a: Atom, atoms: Map<Atom, Buffer>): void {
  let b = atoms.get(a)
  if (!b) {
    b = atomBytes(a, atoms === utf8Atoms)
    if (atoms.size < 100_000) atoms.set(a, b)
  }
  const n = b.length
  if (pos + n > out.length) grow(n)
  if (n < 32) for (let i = 0; i < n; i++) out[pos + i] = b[i]
  else out.set(b, pos)
  pos += n
}

/** OTP 25 writes ATOM_EXT for atoms whose characters are all latin1, and UTF-8 tags for the others. */
function atomBytes(a: Atom, utf8: boolean): Buffer {
  const name = a.name
  if (LONE_SURROGATE.test(name)) fail(`atom name is not valid Unicode`)
  const chars = [...name].length
  if (chars > T.MAX_ATOM_CHARS) fail(`atom of ${chars} characters (Erlang's limit is ${T.MAX_ATOM_CHARS})`)
  if (!utf8 && isLatin1(name)) {
    const body = Buffer.from(name, 'latin1')
    return Buffer.concat([Buffer.from([T.ATOM_EXT, 0, body.length]), body])
  }
  const body = Buffer.from(name, 'utf8')
  const head = body.length <= 255 ? Buffer.from([T.SMALL_ATOM_UTF8_EXT, body.length]) : Buffer.from([T.ATOM_UTF8_EXT, body.length >> 8, body.length & 255])
  return Buffer.concat([head, body])
}

function isLatin1(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 255) return false
  return true
}

function writeBinary(b: Uint8Array): void {
  const n = b.length
  if (pos + 5 + n > out.length) grow(5 + n)
  out[pos++] = T.BINARY_EXT
  writeU32(n)
  if (n < 32) for (let i = 0; i < n; i++) out[pos + i] = b[i]
  else out.set(b, pos)
  pos += n
}

function writeTuple(elements: Term[], atoms: Map<Atom, Buffer>, depth: number): void {
  if (depth >= MAX_ENCODE_DEPTH) fail(`term nested deeper than ${MAX_ENCODE_DEPTH}`)
  const n = elements.length
  if (n <= 255) {
    out[pos++] = T.SMALL_TUPLE_EXT
    out[pos++] = n
  } else {
    out[pos++] = T.LARGE_TUPLE_EXT
    writeU32(n)
  }
  for (let i = 0; i < n; i++) writeTerm(elements[i], atoms, depth + 1)
}

/** A byte-valued element of a would-be STRING_EXT (Erlang does not tell 5 from 5n). */
const byteOf = (e: Term): number => (typeof e === 'number' ? ((e & 255) === e ? e : -1) : typeof e === 'bigint' && e >= 0n && e <= 255n ? Number(e) : -1)

/** Erlang writes a proper list of integers 0..255 up to 65535 long as STRING_EXT (synrc §2.2 caution). */
function writeList(list: Term[], atoms: Map<Atom, Buffer>, depth: number): void {
  const n = list.length
  if (n === 0) {
    out[pos++] = T.NIL_EXT
    return
  }
  if (depth >= MAX_ENCODE_DEPTH) fail(`term nested deeper than ${MAX_ENCODE_DEPTH}`)
  if (n <= 65535 && isByteList(list)) {
    if (pos + 3 + n > out.length) grow(3 + n)
    out[pos++] = T.STRING_EXT
    out[pos++] = n >> 8
    out[pos++] = n & 255
    for (let i = 0; i < n; i++) out[pos++] = byteOf(list[i])
    return
  }
  out[pos++] = T.LIST_EXT
  writeU32(n)
  for (let i = 0; i < n; i++) writeTerm(list[i], atoms, depth + 1)
  if (pos + 1 > out.length) grow(1)
  out[pos++] = T.NIL_EXT
}

function isByteList(list: Term[]): boolean {
  for (let i = 0; i < list.length; i++) if (byteOf(list[i]) < 0) return false
  return true
}

/** [a,b|T]: a tail that is itself a list is merged first, as the VM holds [1|[2]] as [1,2]. */
function writeImproper(l: ImproperList, atoms: Map<Atom, Buffer>, depth: number): void {
  const [elements, tail] = listParts(l)
  if (Array.isArray(tail)) return writeList(elements, atoms, depth)
  if (elements.length === 0) return writeTerm(tail, atoms, depth)
  if (depth >= MAX_ENCODE_DEPTH) fail(`term nested deeper than ${MAX_ENCODE_DEPTH}`)
  out[pos++] = T.LIST_EXT
  writeU32(elements.length)
  for (let i = 0; i < elements.length; i++) writeTerm(elements[i], atoms, depth + 1)
  writeTerm(tail, atoms, depth + 1)
}

/** Maps of up to 32 keys go out in key order (as the VM's flatmaps); larger ones in the order given (see codec.ts). */
function writeMap(m: ErlMap, atoms: Map<Atom, Buffer>, depth: number): void {
  if (depth >= MAX_ENCODE_DEPTH) fail(`term nested deeper than ${MAX_ENCODE_DEPTH}`)
  const n = m.pairs.length
  const sorted = sortedPairs(m.pairs)
  for (let i = 1; i < n; i++) if (compareTerms(sorted[i - 1][0], sorted[i][0]) === 0) fail('map with a duplicate key')
  out[pos++] = T.MAP_EXT
  writeU32(n)
  const pairs = n <= T.FLATMAP_LIMIT ? sorted : m.pairs
  for (let i = 0; i < n; i++) {
    writeTerm(pairs[i][0], atoms, depth + 1)
    writeTerm(pairs[i][1], atoms, depth + 1)
  }
}
