// Erlang terms as JavaScript values (synrc §2): the vocabulary the ETF codec (etf/codec.ts) and the record schema
// (records/) share. One JS shape per Erlang type, so a decoded term re-encodes to the same bytes:
//   integer      number (safe integers) or bigint (beyond ±2^53; the decoder gives bigint only there)
//   float        Float (a wrapper: 1.0 and 1 are different terms in Erlang)
//   atom         Atom, interned: atom('ok') === atom('ok'), so atoms compare with ===
//   binary       Uint8Array (Buffer is one)
//   tuple        Tuple (records are tuples whose first element is the record's atom)
//   proper list  Term[]  ([] is NIL; STRING_EXT decodes to an array of small integers)
//   improper     ImproperList (elements and a tail that is not [])
//   map          ErlMap (pairs in the order read or given)

export class Atom {
  private static readonly table = new Map<string, Atom>()
  private constructor(readonly name: string) {}
  /** the one Atom of this name */
  static of(name: string): Atom {
    let a = Atom.table.get(name)
    if (!a) {
      a = new Atom(name)
      Atom.table.set(name, a)
    }
    return a
  }
  toString(): string { return this.name }
}

export class Tuple {
  constructor(readonly elements: Term[]) {}
  get arity(): number { return this.elements.length }
}

export class Float {
  constructor(readonly value: number) {}
}

export class ImproperList {
  constructor(readonly elements: Term[], readonly tail: Term) {}
}

export class ErlMap {
  constructor(readonly pairs: [Term, Term][]) {}
}

export type Term = number | bigint | Float | Atom | Uint8Array | Tuple | Term[] | ImproperList | ErlMap

export const atom = (name: string): Atom => Atom.of(name)
export const tuple = (...elements: Term[]): Tuple => new Tuple(elements)
export const bin = (s: string): Uint8Array => Buffer.from(s, 'utf8')
export const NIL: Term[] = Object.freeze([]) as unknown as Term[]

export const isAtom = (t: unknown, name?: string): t is Atom => t instanceof Atom && (name === undefined || t.name === name)
export const isTuple = (t: unknown): t is Tuple => t instanceof Tuple
export const isBinary = (t: unknown): t is Uint8Array => t instanceof Uint8Array
export const isNil = (t: unknown): boolean => Array.isArray(t) && t.length === 0
