// The SYNRC record schema (issue 12 "Records"): layout A by default, the legacy layout B by choice; one table per
// layout drives encoding (fromRecord), decoding (toRecord), validation, the TS types and the atom table.
import type { Term, Tuple } from '../etf/term.ts'
import { atomsOf } from './atoms.ts'
import { recordObjectToTerm, termToRecordObject, type Layout, type Schema } from './convert.ts'
import type { RecordDef, Table } from './dsl.ts'
import { TABLE_A, type TableA } from './schema-a.ts'
import { TABLE_LEGACY, type TableLegacy } from './schema-legacy.ts'
import type { AnyRecordInput, AnyRecordOf, RecordInput, RecordOf } from './types.ts'

function compile<S extends Table>(layout: Layout, table: S): Schema<S> {
  const records = new Map<string, RecordDef>(Object.values(table).map((d) => [d.name, d]))
  return { layout, table, records, atoms: atomsOf(table) }
}

const SCHEMA_A = compile('a', TABLE_A)
const SCHEMA_LEGACY = compile('legacy', TABLE_LEGACY)

export function schemaFor(layout: 'a'): Schema<TableA>
export function schemaFor(layout: 'legacy'): Schema<TableLegacy>
export function schemaFor(layout: Layout): Schema<TableA> | Schema<TableLegacy>
export function schemaFor(layout: Layout): Schema<TableA> | Schema<TableLegacy> {
  if (layout === 'a') return SCHEMA_A
  if (layout === 'legacy') return SCHEMA_LEGACY
  throw new Error(`unknown SYNRC layout ${String(layout)} (a | legacy)`)
}

/** the atoms of both layouts, for a codec that decodes before it knows the layout (synrc §2.1 safe decoding) */
export const KNOWN_ATOMS: ReadonlySet<string> = new Set([...SCHEMA_A.atoms, ...SCHEMA_LEGACY.atoms])

type SchemaA = Schema<TableA>
type SchemaLegacy = Schema<TableLegacy>
/** what schemaFor(config.layout) gives */
export type AnySchema = SchemaA | SchemaLegacy

/** The record object of a term ({ $: 'Message', id, … }), or a RecordError naming the record, the field and what
 *  was expected. A term is a record when its (name, arity) is one of the layout's (synrc §2.2). */
export function toRecord(term: Term, schema: SchemaA): AnyRecordA
export function toRecord(term: Term, schema: SchemaLegacy): AnyRecordLegacy
export function toRecord(term: Term, schema: AnySchema): AnyRecordA | AnyRecordLegacy
export function toRecord(term: Term, schema: Schema): unknown {
  return termToRecordObject(term, schema)
}

/** The tuple of a record object: missing fields get their defaults, null gives [], in field order, so that the
 *  codec writes Erlang's own bytes. Nested record objects are converted too; a RecordError if anything does not fit. */
export function fromRecord(obj: AnyInputA, schema: SchemaA): Tuple
export function fromRecord(obj: AnyInputLegacy, schema: SchemaLegacy): Tuple
// a schema of either layout: a record of either, with the fields of both (the run-time check is the layout's)
export function fromRecord<Sc extends AnySchema>(
  obj: NoInfer<[Sc] extends [SchemaA] ? never : [Sc] extends [SchemaLegacy] ? never : AnyInputEither>, schema: Sc): Tuple
export function fromRecord(obj: unknown, schema: Schema): Tuple {
  return recordObjectToTerm(obj, schema)
}

export type RecordName = keyof TableA & string
export type LegacyRecordName = keyof TableLegacy & string
/** a decoded record of layout A, e.g. RecordA<'Message'> */
export type RecordA<N extends RecordName> = RecordOf<TableA, N>
export type RecordLegacy<N extends LegacyRecordName> = RecordOf<TableLegacy, N>
export type AnyRecordA = AnyRecordOf<TableA>
export type AnyRecordLegacy = AnyRecordOf<TableLegacy>
/** what fromRecord takes: missing fields get their defaults */
export type InputA<N extends RecordName> = RecordInput<TableA, N>
export type InputLegacy<N extends LegacyRecordName> = RecordInput<TableLegacy, N>
export type AnyInputA = AnyRecordInput<TableA>
export type AnyInputLegacy = AnyRecordInput<TableLegacy>
export type AnyRecord = AnyRecordA | AnyRecordLegacy
/** the input for a schema of either layout */
export type AnyInputEither = AnyRecordInput<TableA | TableLegacy>

export { TABLE_A, TABLE_LEGACY, type TableA, type TableLegacy }
export { RecordError, describeTerm, type Layout, type Schema } from './convert.ts'
export { FLOW_ATOMS } from './atoms.ts'
export type { FieldDef, FieldType, RecordDef, Table } from './dsl.ts'
export type { Int, RecordOf, RecordInput, AnyRecordOf, AnyRecordInput, TermValue } from './types.ts'
