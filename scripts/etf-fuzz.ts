// Fuzzes the SYNRC ETF decoder (issue 12 "Real components"): mutated payloads (bit flips, truncations, length fields
// set to edge values, splices of valid terms, inserted/deleted bytes, swapped tags) from a corpus of valid terms and
// records, plain and compressed. Counts crashes (anything thrown that is not an EtfError, or a decoded term that does
// not re-encode) and hangs (one decode over --hang-ms). Stops at --inputs or --seconds, whichever comes first.
// Usage: node --import tsx scripts/etf-fuzz.ts [--inputs 1000000] [--seconds 120] [--seed 1] [--hang-ms 100]
import { parseArgs } from 'node:util'
import { deflateSync } from 'node:zlib'
import { decode, encode, EtfError, type DecodeOptions } from '../src/dialects/synrc/etf/codec.ts'
import { NIL, atom, bin, tuple, type Term } from '../src/dialects/synrc/etf/term.ts'
import { TermGen } from '../test/synrc/etf-random.ts'

const { values: args } = parseArgs({
  options: {
    inputs: { type: 'string', default: '1000000' },
    seconds: { type: 'string', default: '120' },
    seed: { type: 'string', default: '1' },
    'hang-ms': { type: 'string', default: '100' },
  },
})
const INPUTS = Number(args.inputs)
const SECONDS = Number(args.seconds)
const HANG_MS = Number(args['hang-ms'])
const g = new TermGen(Number(args.seed))

// ---- corpus: random terms, SYNRC records, both atom styles, some compressed ----
const p2p = tuple(atom('p2p'), bin('380670000001_1'), bin('380670000002_1'))
const records: Term[] = [
  tuple(atom('Message'), 1, atom('chain'), p2p, NIL, NIL, bin('c1'), bin('a'), bin('b'), 1686700000000,
    [tuple(atom('Desc'), NIL, bin('text'), bin('Hello'), NIL, NIL)], NIL, NIL, NIL, [5, 7], NIL, NIL),
  tuple(atom('io'), tuple(atom('error'), atom('invalid_data'), NIL), NIL),
  tuple(atom('Ack'), atom('Message'), bin('m1')),
]
const corpus: Buffer[] = []
for (const r of records) corpus.push(encode(r), encode(r, { atoms: 'utf8' }))
for (let i = 0; i < 2000; i++) {
  const t = g.term(1 + g.int(3))
  const b = encode(t, { atoms: g.int(2) ? 'utf8' : 'latin1' })
  if (b.length <= 4096) corpus.push(b)
}
const compress = (b: Buffer): Buffer => {
  const head = Buffer.from([131, 80, 0, 0, 0, 0])
  head.writeUInt32BE(b.length - 1, 2)
  return Buffer.concat([head, deflateSync(b.subarray(1))])
}
for (let i = 0; i < 100; i++) corpus.push(compress(corpus[g.int(corpus.length)]))

/** Offsets and widths of the length fields in a valid, uncompressed payload (for targeted corruption). */
function lengthFields(b: Buffer): [number, number][] {
  const out: [number, number][] = []
  let p = 1
  const walk = (): void => {
    const tag = b[p++]
    switch (tag) {
      case 97: p += 1; return
      case 98: p += 4; return
      case 70: p += 8; return
      case 106: return
      case 100: case 118: { out.push([p, 2]); const n = b.readUInt16BE(p); p += 2 + n; return }
      case 115: case 119: { out.push([p, 1]); p += 1 + b[p]; return }
      case 107: { out.push([p, 2]); p += 2 + b.readUInt16BE(p); return }
      case 109: { out.push([p, 4]); p += 4 + b.readUInt32BE(p); return }
      case 110: { out.push([p, 1]); p += 2 + b[p]; return }
      case 111: { out.push([p, 4]); p += 5 + b.readUInt32BE(p); return }
      case 104: { out.push([p, 1]); const n = b[p++]; for (let i = 0; i < n; i++) walk(); return }
      case 105: { out.push([p, 4]); const n = b.readUInt32BE(p); p += 4; for (let i = 0; i < n; i++) walk(); return }
      case 108: { out.push([p, 4]); const n = b.readUInt32BE(p); p += 4; for (let i = 0; i <= n; i++) walk(); return }
      case 116: { out.push([p, 4]); const n = b.readUInt32BE(p); p += 4; for (let i = 0; i < 2 * n; i++) walk(); return }
      default: throw new Error(`corpus walker: tag ${tag}`)
    }
  }
  if (b[1] !== 80) walk()
  return out
}
const fields = corpus.map(lengthFields)

const TAGS = [70, 77, 80, 97, 98, 99, 100, 104, 105, 106, 107, 108, 109, 110, 111, 115, 116, 118, 119, 88, 103, 113, 0, 255]
const EDGE32 = [0, 1, 2, 0x7f, 0x80, 0xff, 0x100, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xffffffff]

function mutate(): Buffer {
  const k = g.int(corpus.length)
  const src = corpus[k]
  switch (g.int(8)) {
    case 0: { // bit flips
      const b = Buffer.from(src)
      for (let i = 1 + g.int(4); i > 0; i--) b[g.int(b.length)] ^= 1 << g.int(8)
      return b
    }
    case 1: return src.subarray(0, g.int(src.length)) // truncation
    case 2: { // a length field set to an edge value, or off by a little
      const f = fields[k]
      if (f.length === 0) return src.subarray(0, g.int(src.length))
      const [at, width] = f[g.int(f.length)]
      const b = Buffer.from(src)
      const old = width === 1 ? b[at] : width === 2 ? b.readUInt16BE(at) : b.readUInt32BE(at)
      const v = g.int(2) ? g.pick(EDGE32) : old + g.int(5) - 2
      const max = 2 ** (8 * width) - 1
      const w = ((v % (max + 1)) + max + 1) % (max + 1)
      if (width === 1) b[at] = w
      else if (width === 2) b.writeUInt16BE(w, at)
      else b.writeUInt32BE(w, at)
      return b
    }
    case 3: { // splice: the start of one valid term, the rest of another
      const other = corpus[g.int(corpus.length)]
      return Buffer.concat([src.subarray(0, g.int(src.length + 1)), other.subarray(1 + g.int(other.length))])
    }
    case 4: { // bytes inserted
      const at = g.int(src.length + 1)
      return Buffer.concat([src.subarray(0, at), Buffer.from(Array.from({ length: 1 + g.int(4) }, () => g.int(256))), src.subarray(at)])
    }
    case 5: { // bytes deleted
      const at = g.int(src.length)
      return Buffer.concat([src.subarray(0, at), src.subarray(at + 1 + g.int(4))])
    }
    case 6: { // a byte replaced by a tag
      const b = Buffer.from(src)
      b[1 + g.int(b.length - 1)] = g.pick(TAGS)
      return b
    }
    default: { // random bytes after a valid prefix
      const at = g.int(src.length)
      return Buffer.concat([src.subarray(0, at), Buffer.from(Array.from({ length: g.int(16) }, () => g.int(256)))])
    }
  }
}

const allowed = new Set(['Message', 'Desc', 'p2p', 'chain', 'io', 'error', 'invalid_data', 'Ack', 'ok'])
const OPTIONS: DecodeOptions[] = [{ atom: 'any' }, { atom: allowed }, { atom: 'any', maxDepth: 8, maxLength: 300, maxInflated: 4096 }]

let inputs = 0
let ok = 0
let rejected = 0
let crashes = 0
let hangs = 0
let slowest = 0
let slowestInput = ''
const samples: string[] = []
const t0 = performance.now()
const deadline = t0 + SECONDS * 1000
while (inputs < INPUTS && (inputs & 1023 || performance.now() < deadline)) {
  const input = mutate()
  const opts = OPTIONS[inputs % OPTIONS.length]
  inputs++
  const s = performance.now()
  try {
    const t = decode(input, opts)
    encode(t)
    ok++
  } catch (e) {
    if (e instanceof EtfError) rejected++
    else {
      crashes++
      if (samples.length < 5) samples.push(`${(e as Error)?.stack?.split('\n').slice(0, 3).join(' | ')} input ${input.toString('hex').slice(0, 200)}`)
    }
  }
  const ms = performance.now() - s
  if (ms > slowest) {
    slowest = ms
    slowestInput = `${input.length} bytes ${input.subarray(0, 16).toString('hex')}…`
  }
  if (ms > HANG_MS) {
    hangs++
    if (samples.length < 5) samples.push(`hang ${ms.toFixed(0)} ms: ${input.toString('hex').slice(0, 200)}`)
  }
}
const secs = (performance.now() - t0) / 1000
console.log(`etf fuzz: corpus ${corpus.length} payloads, seed ${args.seed}, hang threshold ${HANG_MS} ms`)
console.log(`inputs ${inputs.toLocaleString('en-US')}, decoded ok ${ok.toLocaleString('en-US')}, rejected (EtfError) ${rejected.toLocaleString('en-US')}, crashes ${crashes}, hangs ${hangs}`)
console.log(`${secs.toFixed(1)} s, ${Math.round(inputs / secs).toLocaleString('en-US')} inputs/s, slowest decode ${slowest.toFixed(1)} ms (${slowestInput})${inputs < INPUTS ? ` (stopped by --seconds before ${INPUTS.toLocaleString('en-US')} inputs)` : ''}`)
for (const s of samples) console.log('  ' + s)
process.exitCode = crashes || hangs ? 1 : 0
