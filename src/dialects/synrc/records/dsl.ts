// The vocabulary of the record schema (synrc §2.2, Appendix A/B): a field type is a small tagged object, written
// with the constructors below so that TypeScript keeps every literal (record names, enum atoms) for the
// type-level mapping in types.ts. One table of these drives encoding, decoding, validation and the TS types.
import type { Term } from '../etf/term.ts'

export type FieldType =
  | { readonly k: 'bin' }
  | { readonly k: 'int' }
  /** any atom the schema knows (Ack.table, ok.code) */
  | { readonly k: 'atom' }
  | { readonly k: 'enum'; readonly atoms: readonly string[] }
  /** a proper list; STRING_EXT decodes to an array of small integers, so list(int) takes it as it is (§2.2) */
  | { readonly k: 'list'; readonly of: FieldType }
  /** a plain tuple such as {binary(), binary()}: its value stays a Tuple of Terms, its elements checked */
  | { readonly k: 'tuple'; readonly of: readonly FieldType[] }
  /** one of the named records, or any record of the layout ('*') */
  | { readonly k: 'rec'; readonly names: readonly string[] | '*' }
  | { readonly k: 'union'; readonly of: readonly FieldType[] }
  /** untyped: kept as a Term, except that a tuple the schema recognises (and lists of them) become records */
  | { readonly k: 'term' }

/** name, default (the Term Erlang's record definition fills in), declared type */
export type FieldDef = readonly [name: string, dflt: Term, type: FieldType]

export interface RecordDef {
  readonly name: string
  readonly fields: readonly FieldDef[]
}

/** record name → definition; one definition per name in a layout */
export type Table = { readonly [name: string]: RecordDef }

export const BIN = { k: 'bin' } as const
export const INT = { k: 'int' } as const
export const ATOM = { k: 'atom' } as const
export const TERM = { k: 'term' } as const
export const ANY_RECORD = { k: 'rec', names: '*' } as const

export const oneOf = <const A extends readonly string[]>(...atoms: A) => ({ k: 'enum', atoms }) as const
export const listOf = <const T extends FieldType>(of: T) => ({ k: 'list', of }) as const
export const tupleOf = <const T extends readonly FieldType[]>(...of: T) => ({ k: 'tuple', of }) as const
export const rec = <const N extends readonly string[]>(...names: N) => ({ k: 'rec', names }) as const
export const or = <const T extends readonly FieldType[]>(...of: T) => ({ k: 'union', of }) as const

export const field = <const N extends string, const T extends FieldType>(name: N, dflt: Term, type: T) =>
  [name, dflt, type] as const

export const record = <const N extends string, const F extends readonly FieldDef[]>(name: N, ...fields: F) =>
  ({ name, fields }) as const

/** the table keyed by record name, its type keyed the same way */
export function table<const D extends readonly RecordDef[]>(...defs: D): { readonly [R in D[number] as R['name']]: R } {
  const t: Record<string, RecordDef> = {}
  for (const d of defs) {
    if (t[d.name]) throw new Error(`record ${d.name} defined twice`)
    t[d.name] = d
  }
  return t as { readonly [R in D[number] as R['name']]: R }
}

/** whether [] (NIL) is a value of this type as a list, so that an empty field decodes to [] rather than null */
export function admitsList(t: FieldType): boolean {
  if (t.k === 'list' || t.k === 'term') return true
  return t.k === 'union' && t.of.some(admitsList)
}

/** the type in Erlang's own notation, for error messages */
export function describeType(t: FieldType): string {
  switch (t.k) {
    case 'bin': return 'binary()'
    case 'int': return 'integer()'
    case 'atom': return 'atom()'
    case 'term': return 'term()'
    case 'enum': return t.atoms.join(' | ')
    case 'list': return `list(${describeType(t.of)})`
    case 'tuple': return `{${t.of.map(describeType).join(', ')}}`
    case 'rec': return t.names === '*' ? 'a record' : t.names.map((n) => `#'${n}'{}`).join(' | ')
    case 'union': return t.of.map(describeType).join(' | ')
  }
}
