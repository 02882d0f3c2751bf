// Erlang term order as the VM uses it for map keys (synrc §2.3 MAP_EXT): term_to_binary writes a small map's keys
// in this order. It is the standard order number < atom < tuple < map < list < binary, made exact: every integer
// sorts before every float, at any depth (checked on OTP 25: #{2=>a,1.5=>b} and #{{2}=>a,{1.5}=>b} both put 2 first).
import { Atom, ErlMap, Float, ImproperList, Tuple, type Term } from './term.ts'

const RANK_INT = 0
const RANK_FLOAT = 1
const RANK_ATOM = 2
const RANK_TUPLE = 3
const RANK_MAP = 4
const RANK_LIST = 5
const RANK_BINARY = 6

function rank(t: Term): number {
  if (typeof t === 'number' || typeof t === 'bigint') return RANK_INT
  if (t instanceof Float) return RANK_FLOAT
  if (t instanceof Atom) return RANK_ATOM
  if (t instanceof Tuple) return RANK_TUPLE
  if (t instanceof ErlMap) return RANK_MAP
  if (Array.isArray(t) || t instanceof ImproperList) return RANK_LIST
  return RANK_BINARY
}

/** A list as its elements and its final tail ([] for a proper list); nested improper tails are flattened. */
export function listParts(t: Term[] | ImproperList): [Term[], Term] {
  if (Array.isArray(t)) return [t, NIL_TAIL]
  let elements = t.elements
  let tail = t.tail
  while (Array.isArray(tail) || tail instanceof ImproperList) {
    if (Array.isArray(tail)) return [tail.length === 0 ? elements : elements.concat(tail), NIL_TAIL]
    elements = elements.concat(tail.elements)
    tail = tail.tail
  }
  return [elements, tail]
}
const NIL_TAIL: Term[] = []

const atomBytes = new Map<Atom, Buffer>()
function bytesOf(a: Atom): Buffer {
  let b = atomBytes.get(a)
  if (!b) {
    b = Buffer.from(a.name, 'utf8')
    if (atomBytes.size < 65536) atomBytes.set(a, b)
  }
  return b
}

const sign = (n: number): number => (n < 0 ? -1 : n > 0 ? 1 : 0)

/** Compares two terms in exact (map-key) order: negative, 0 or positive. */
export function compareTerms(a: Term, b: Term): number {
  const ra = rank(a)
  const rb = rank(b)
  if (ra !== rb) return ra - rb
  switch (ra) {
    case RANK_INT: return (a as number | bigint) < (b as number | bigint) ? -1 : (a as number | bigint) > (b as number | bigint) ? 1 : 0
    // 0.0 and -0.0 are the same key on OTP 25
    case RANK_FLOAT: { const x = (a as Float).value, y = (b as Float).value; return x < y ? -1 : x > y ? 1 : 0 }
    case RANK_ATOM: return a === b ? 0 : sign(Buffer.compare(bytesOf(a as Atom), bytesOf(b as Atom)))
    case RANK_TUPLE: return compareSeq((a as Tuple).elements, (b as Tuple).elements)
    case RANK_MAP: return compareMaps(a as ErlMap, b as ErlMap)
    case RANK_LIST: return compareLists(a as Term[] | ImproperList, b as Term[] | ImproperList)
    default: return sign(Buffer.compare(a as Uint8Array, b as Uint8Array))
  }
}

function compareSeq(x: Term[], y: Term[]): number {
  if (x.length !== y.length) return x.length - y.length
  for (let i = 0; i < x.length; i++) {
    const c = compareTerms(x[i], y[i])
    if (c !== 0) return c
  }
  return 0
}

/** Maps: by size, then keys in key order, then values in that order. */
function compareMaps(a: ErlMap, b: ErlMap): number {
  if (a.pairs.length !== b.pairs.length) return a.pairs.length - b.pairs.length
  const pa = sortedPairs(a.pairs)
  const pb = sortedPairs(b.pairs)
  for (let i = 0; i < pa.length; i++) {
    const c = compareTerms(pa[i][0], pb[i][0])
    if (c !== 0) return c
  }
  for (let i = 0; i < pa.length; i++) {
    const c = compareTerms(pa[i][1], pb[i][1])
    if (c !== 0) return c
  }
  return 0
}

/** Lists compare cell by cell; where one runs out, its tail ([] or a non-list) meets the other's next cell. */
function compareLists(a: Term[] | ImproperList, b: Term[] | ImproperList): number {
  const [ea, ta] = listParts(a)
  const [eb, tb] = listParts(b)
  const n = Math.min(ea.length, eb.length)
  for (let i = 0; i < n; i++) {
    const c = compareTerms(ea[i], eb[i])
    if (c !== 0) return c
  }
  if (ea.length === eb.length) return Array.isArray(ta) && Array.isArray(tb) ? 0 : compareTerms(ta, tb)
  // one side is at its tail, the other at a cons cell: [] and numbers/atoms/tuples/maps sort before it, binaries after
  const tail = ea.length < eb.length ? ta : tb
  const c = Array.isArray(tail) ? -1 : rank(tail) < RANK_LIST ? -1 : 1
  return ea.length < eb.length ? c : -c
}

/** The pairs in key order (a sorted copy; the input is left as given). */
export function sortedPairs(pairs: [Term, Term][]): [Term, Term][] {
  return pairs.length < 2 ? pairs : pairs.slice().sort((x, y) => compareTerms(x[0], y[0]))
}
