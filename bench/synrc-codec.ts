// SYNRC ETF codec benchmark (issue 12 §6): encode and decode ops/s of typical records built as terms (synrc §2.4,
// Appendix A): a Message with one Desc, a Room with 3 Members, a History page of 50 Messages; against erlpack (npm,
// native C++ ETF codec) in the same run, with the ratio Herald/erlpack and this process's CPU share.
// Decode: both read the same bytes (Herald's output, identical to term_to_binary). Encode: erlpack has no atoms or
// tuples, so it packs the JS value it decodes those bytes to (tuples as lists, atoms and binaries as strings): the same
// shape and nearly the same size. Figures only: it never fails on a threshold.
// Usage: npm run bench:synrc-codec [-- --seconds 1 --rounds 3]
import { createRequire } from 'node:module'
import { parseArgs } from 'node:util'
import { decode, encode } from '../src/dialects/synrc/etf/codec.ts'
import { NIL, atom, bin, tuple, type Term, type Tuple } from '../src/dialects/synrc/etf/term.ts'
import { fmt, median, table } from './lib/stats.ts'

const { values: args } = parseArgs({ options: { seconds: { type: 'string', default: '1' }, rounds: { type: 'string', default: '3' } } })
const SECONDS = Number(args.seconds)
const ROUNDS = Number(args.rounds)

interface Erlpack { pack(v: unknown): Buffer; unpack(b: Uint8Array): unknown }
let erlpack: Erlpack | null = null
try {
  erlpack = createRequire(import.meta.url)('erlpack') as Erlpack
} catch (e) {
  console.log(`erlpack not available (${(e as Error).message.split('\n')[0]}): Herald figures only`)
}

// ---- the records, as Appendix A lays them out ----
const p2p = tuple(atom('p2p'), bin('380670000001_1'), bin('380670000002_1'))
const desc = tuple(atom('Desc'), bin('d-1'), bin('text'), bin('Hello, how are you doing today? See you at 7.'), NIL, NIL)
const message = (i: number): Tuple => tuple(atom('Message'), 1000 + i, atom('chain'), p2p, 999 + i, 1001 + i, bin(`c1-${i}-8f3a2b`),
  bin('380670000001_1'), bin('380670000002_1'), 1686700000000 + i, [desc], NIL, NIL, [bin('380670000002_1')], NIL, NIL, NIL)
const member = (i: number): Tuple => tuple(atom('Member'), 50 + i, atom('chain'), tuple(atom('muc'), bin('room-42')), NIL, NIL, NIL,
  bin(`38067000000${i}_1`), bin(`https://cdn.example/avatar/${i}.png`), bin(`Name${i}`), bin(`Surname${i}`), NIL, 0, 1686700000000,
  NIL, NIL, atom('online'), atom(i === 0 ? 'owner' : 'member'))
const room = tuple(atom('Room'), bin('room-42'), bin('Weekend hiking'), NIL, bin('Trips and photos'), NIL, [member(0), member(1), member(2)],
  [member(0)], NIL, atom('group'), NIL, 0, 3, [5, 7], NIL, 1049, 1686700000000, 1686600000000, atom('patch'))
const history = tuple(atom('History'), bin('380670000001_1'), p2p, 50, 1000, Array.from({ length: 50 }, (_, i) => message(i)), atom('get'))

const CASES: [string, Term][] = [['Message+Desc', message(0)], ['Room+3 Members', room], ['History of 50 Messages', history]]
const ATOMS = new Set(['Message', 'Desc', 'chain', 'p2p', 'muc', 'Member', 'Room', 'History', 'online', 'owner', 'member', 'group', 'patch', 'get'])

/** ops/s of fn over SECONDS, median of ROUNDS; the loop checks the clock every 64 calls. */
function rate(fn: () => unknown): number {
  const rounds: number[] = []
  for (let r = 0; r < ROUNDS; r++) {
    const end = performance.now() + SECONDS * 1000
    const t0 = performance.now()
    let n = 0
    while (performance.now() < end) for (let i = 0; i < 64; i++, n++) fn()
    rounds.push(n / ((performance.now() - t0) / 1000))
  }
  return median(rounds)
}

const wall0 = performance.now()
const cpu0 = process.cpuUsage()
const rows: string[][] = []
for (const [name, term] of CASES) {
  const etf = encode(term)
  const opts = { atom: ATOMS }
  const hEnc = rate(() => encode(term))
  const hDec = rate(() => decode(etf, opts))
  let eEnc = NaN
  let eDec = NaN
  let eSize = NaN
  if (erlpack) {
    const ep = erlpack
    const plain = ep.unpack(etf)
    eSize = ep.pack(plain).length
    eEnc = rate(() => ep.pack(plain))
    eDec = rate(() => ep.unpack(etf))
  }
  rows.push([name, fmt(etf.length), fmt(eSize), fmt(hEnc), fmt(eEnc), fmt(hEnc / eEnc, 2), fmt(hDec), fmt(eDec), fmt(hDec / eDec, 2)])
}
const cpu = process.cpuUsage(cpu0)
const wall = performance.now() - wall0

console.log(`synrc codec bench: ${SECONDS}s x ${ROUNDS} rounds per figure (median), Node ${process.version}, reference erlpack ${erlpack ? '0.1.4 (native)' : 'absent'}`)
console.log(table(['record', 'ETF bytes', 'erlpack bytes', 'encode/s', 'erlpack enc/s', 'ratio', 'decode/s', 'erlpack dec/s', 'ratio'], rows))
console.log(`ratio = Herald/erlpack (above 1: Herald faster). bench CPU: ${fmt((cpu.user + cpu.system) / 1000)} ms over ${fmt(wall)} ms wall = ${fmt(((cpu.user + cpu.system) / 1000 / wall) * 100)}% of one core`)
