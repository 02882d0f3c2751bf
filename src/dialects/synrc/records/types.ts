// TypeScript types computed from the schema table (dsl.ts), so they cannot drift from it: a record is
// { $: name, field: value | null, … } in field order; null is [] (NIL, "undefined/empty", synrc §2.2). A plain
// tuple such as {fake, Phone} stays a Tuple of Terms (a JS array would be ambiguous with a list).
import type { Term, Tuple } from '../etf/term.ts'
import type { Table } from './dsl.ts'

export type Int = number | bigint

type Mode = 'out' | 'in'

/** the JS value of one field type: 'out' is what toRecord gives, 'in' what fromRecord takes (nested records partial) */
export type ValueOf<S extends Table, T, M extends Mode> =
  T extends { k: 'bin' } ? Uint8Array
  : T extends { k: 'int' } ? Int
  : T extends { k: 'atom' } ? string
  : T extends { k: 'enum'; atoms: readonly (infer A)[] } ? A
  : T extends { k: 'list'; of: infer E } ? ValueOf<S, E, M>[]
  : T extends { k: 'tuple' } ? Tuple
  : T extends { k: 'rec'; names: '*' } ? AnyOf<S, M>
  : T extends { k: 'rec'; names: readonly (infer N)[] } ? (N extends keyof S & string ? Shape<S, N, M> : never)
  : T extends { k: 'union'; of: readonly (infer U)[] } ? ValueOf<S, U, M>
  : T extends { k: 'term' } ? TermValue<S, M>
  : never

/** an untyped field's value: a Term, a record the schema recognised in it, or a list of these */
export type TermValue<S extends Table, M extends Mode> = Term | AnyOf<S, M> | TermValue<S, M>[]

type Fields<S extends Table, N extends keyof S> = S[N]['fields'][number]

type Shape<S extends Table, N extends keyof S & string, M extends Mode> = M extends 'out'
  ? { $: N } & { -readonly [F in Fields<S, N> as F[0]]: ValueOf<S, F[2], 'out'> | null }
  : { $: N } & { -readonly [F in Fields<S, N> as F[0]]?: ValueOf<S, F[2], 'in'> | null }

type AnyOf<S extends Table, M extends Mode> = { [N in keyof S & string]: Shape<S, N, M> }[keyof S & string]

/** a decoded record: every field present, [] as null (or [] where the field is a list) */
export type RecordOf<S extends Table, N extends keyof S & string> = Shape<S, N, 'out'>
/** what fromRecord takes: a missing field gets its default, null gives [] */
export type RecordInput<S extends Table, N extends keyof S & string> = Shape<S, N, 'in'>
export type AnyRecordOf<S extends Table> = AnyOf<S, 'out'>
export type AnyRecordInput<S extends Table> = AnyOf<S, 'in'>
