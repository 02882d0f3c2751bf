// Seeded random Erlang terms for the ETF round-trip tests and the fuzz script (synrc §2.3): every type the codec
// writes, with the edge values of each tag (int32 bounds, 2^53, LARGE_BIG, -0.0, subnormals, unicode atoms,
// 65535/65536-long byte lists, improper lists, flatmaps up to 32 keys).
import { Atom, ErlMap, Float, ImproperList, Tuple, atom, type Term } from '../../src/dialects/synrc/etf/term.ts'

/** xorshift32: small, fast, reproducible. */
export function rng(seed: number): () => number {
  let s = seed >>> 0 || 0x9e3779b9
  return () => {
    s ^= s << 13; s >>>= 0
    s ^= s >>> 17
    s ^= s << 5; s >>>= 0
    return s / 4294967296
  }
}

const ATOMS: Atom[] = ['ok', 'Message', '', 'chain', 'a b', 'élève', '日本', '😀x', 'z'.repeat(255), 'α'.repeat(200), 'true', 'undefined'].map(atom)
const FLOATS = [0, -0, 5e-324, 2.2250738585072014e-308, 1.7976931348623157e308, -1.5, 1e15, 123456789.125, 0.1]
const INTS: (number | bigint)[] = [0, 255, 256, -1, -256, 2147483647, 2147483648, -2147483648, -2147483649, 1686700000000, 2 ** 53 - 1, -(2 ** 53 - 1), 2n ** 53n, -(2n ** 53n) - 1n, 2n ** 64n, 2n ** 2040n - 1n, 2n ** 2040n]

export class TermGen {
  private readonly r: () => number
  constructor(seed: number) { this.r = rng(seed) }
  int(n: number): number { return Math.floor(this.r() * n) }
  pick<X>(xs: X[]): X { return xs[this.int(xs.length)] }

  bigint(bits: number): bigint {
    let v = 0n
    for (let b = 0; b < bits; b += 30) v = (v << 30n) | BigInt(this.int(2 ** 30))
    return v >> BigInt(Math.max(0, Math.ceil(bits / 30) * 30 - bits))
  }

  leaf(): Term {
    const sign = this.r() < 0.5 ? -1 : 1
    switch (this.int(16)) {
      case 0: return this.int(256)
      case 1: return this.int(2 ** 32) - 2 ** 31
      case 2: return sign * this.int(2 ** 53)
      case 3: return BigInt(sign) * this.bigint(54 + this.int(200))
      case 4: return BigInt(sign) * this.bigint(2041 + this.int(100))
      case 5: return new Float((this.r() - 0.5) * 10 ** (this.int(600) - 300))
      case 6: return new Float(this.pick(FLOATS) * sign)
      case 7: return this.pick(ATOMS)
      case 8: return Buffer.from(Array.from({ length: this.int(24) }, () => this.int(256)))
      case 9: return Array.from({ length: 1 + this.int(12) }, () => this.int(256))
      case 10: return Array.from({ length: 1 + this.int(4) }, () => this.int(70000))
      case 11: return []
      case 12: return this.pick(INTS)
      case 13: return this.int(400) === 0 ? new Array(65535 + this.int(2)).fill(7) : Buffer.from('hello')
      case 14: return new Tuple([])
      default: return Buffer.from(Array.from({ length: 1 + this.int(8) }, () => String.fromCodePoint(1 + this.int(0x7ff))).join(''), 'utf8')
    }
  }

  term(depth: number): Term {
    if (depth === 0) return this.leaf()
    switch (this.int(12)) {
      case 7: return new Tuple(Array.from({ length: this.int(6) }, () => this.term(depth - 1)))
      case 8: return Array.from({ length: 1 + this.int(5) }, () => this.term(depth - 1))
      case 9: return new ImproperList(Array.from({ length: 1 + this.int(3) }, () => this.term(depth - 1)), this.pick<Term>([atom('a'), 1, Buffer.from('t'), new Tuple([]), new Float(2.5)]))
      case 10: return this.map(this.int(6), depth)
      case 11:
        if (this.int(40) === 0) return new Tuple(Array.from({ length: 256 + this.int(20) }, () => this.leaf()))
        if (this.int(40) === 0) return this.map(32, 1)
        return new Tuple([this.pick(['Message', 'Desc', 'p2p'].map(atom)), this.term(depth - 1), this.term(depth - 1)])
      default: return this.leaf()
    }
  }

  /** Up to n distinct keys (duplicates are dropped: a map cannot hold them). */
  map(n: number, depth: number): ErlMap {
    const pairs: [Term, Term][] = []
    const seen = new Set<string>()
    for (let i = 0; i < n; i++) {
      const k = this.term(depth - 1)
      const id = keyId(k)
      if (seen.has(id)) continue
      seen.add(id)
      pairs.push([k, this.term(depth - 1)])
    }
    return new ErlMap(pairs)
  }
}

/** A string equal for equal map keys (0.0 and -0.0 are one key on OTP 25; 1 and 1.0 are two). */
function keyId(t: Term): string {
  if (typeof t === 'number' || typeof t === 'bigint') return `i${t}`
  if (t instanceof Float) return `f${t.value === 0 ? 0 : t.value}`
  if (t instanceof Atom) return `a${t.name}`
  if (t instanceof Uint8Array) return `b${Buffer.from(t).toString('hex')}`
  if (t instanceof Tuple) return `t(${t.elements.map(keyId).join(',')})`
  if (Array.isArray(t)) return `l(${t.map(keyId).join(',')})`
  if (t instanceof ImproperList) return `l(${t.elements.map(keyId).join(',')}|${keyId(t.tail)})`
  return `m(${(t as ErlMap).pairs.map(([k, v]) => keyId(k) + '=' + keyId(v)).sort().join(',')})`
}
