// Term ↔ record object, driven by the schema table (synrc §2.2): a record is recognised by (name, arity);
// [] means "undefined/empty" in every field (JS clients send any falsy value as [], §2.2) and reads as null,
// or as [] where the field is a list; a missing field of an object gets the record's default.
import { Atom, ErlMap, Float, ImproperList, NIL, Tuple, atom, isAtom, isBinary, isNil, isTuple, type Term } from '../etf/term.ts'
import { admitsList, describeType, type FieldType, type RecordDef, type Table } from './dsl.ts'

export type Layout = 'a' | 'legacy'

export interface Schema<S extends Table = Table> {
  readonly layout: Layout
  readonly table: S
  /** record name → definition (one arity per name in a layout) */
  readonly records: ReadonlyMap<string, RecordDef>
  /** record names, enum atoms and the flows' atoms: what the codec's safe decoding accepts */
  readonly atoms: ReadonlySet<string>
}

/** A term or an object that does not fit the schema: which record, which field, what was expected. */
export class RecordError extends Error {
  constructor(
    /** the innermost record being read or written ('' at the top) */
    readonly record: string,
    /** its field, or undefined when the record itself (name, arity, an unknown key) is wrong */
    readonly field: string | undefined,
    readonly expected: string,
    readonly got: string,
    /** where, from the outermost record: Message.files[0].mime */
    readonly path: string,
  ) {
    super(`${path || record || 'term'}: expected ${expected}, got ${got}`)
    this.name = 'RecordError'
  }
}

interface At { record: string; field: string | undefined; path: string }

const fail = (at: At, expected: string, got: string): never => {
  throw new RecordError(at.record, at.field, expected, got, at.path)
}

/** a short description of a term (or a JS value) for error messages */
export function describeTerm(v: unknown): string {
  if (typeof v === 'number' || typeof v === 'bigint') return `integer ${v}`
  if (v instanceof Atom) return `atom ${v.name}`
  if (isBinary(v)) return `binary (${v.length} bytes)`
  if (v instanceof Float) return `float ${v.value}`
  if (isTuple(v)) return `tuple of ${v.arity}${isAtom(v.elements[0]) ? ` tagged ${v.elements[0].name}` : ''}`
  if (Array.isArray(v)) return v.length === 0 ? '[]' : `list of ${v.length}`
  if (v instanceof ImproperList) return 'improper list'
  if (v instanceof ErlMap) return 'map'
  if (v === null) return 'null'
  if (isRecordObject(v)) return `record object ${v.$}`
  return typeof v === 'string' ? `string '${v}'` : typeof v
}

function isRecordObject(v: unknown): v is { $: string } & Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array) &&
    typeof (v as { $?: unknown }).$ === 'string'
}

function expectedRecord(names: readonly string[] | '*', s: Schema): string {
  if (names === '*') return 'a record'
  return names.map((n) => `#'${n}'{} (${(s.records.get(n)?.fields.length ?? 0) + 1} elements)`).join(' | ')
}

/** the record of this schema that (name, arity) names, or undefined (synrc §2.2) */
function recognise(t: Tuple, s: Schema): RecordDef | undefined {
  const head = t.elements[0]
  if (!(head instanceof Atom)) return undefined
  const def = s.records.get(head.name)
  return def && def.fields.length + 1 === t.arity ? def : undefined
}

// ---- term → object ----

/** The record object of a term, or a RecordError naming the record, the field and what was expected
 *  (typed for callers in index.ts: toRecord). */
export function termToRecordObject(term: Term, schema: Schema): Record<string, unknown> {
  const at = { record: '', field: undefined, path: '' }
  if (!isTuple(term) || !isAtom(term.elements[0])) return fail(at, 'a record', describeTerm(term))
  const name = term.elements[0].name
  const def = recognise(term, schema)
  if (!def) {
    const known = schema.records.get(name)
    const expected = known ? `#'${name}'{} with ${known.fields.length + 1} elements in layout ${schema.layout}` : 'a known record'
    return fail({ ...at, record: name }, expected, describeTerm(term))
  }
  return readRecord(term, def, schema, '')
}

function readRecord(t: Tuple, def: RecordDef, s: Schema, path: string): Record<string, unknown> {
  const out: Record<string, unknown> = { $: def.name }
  const base = path ? `${path}.` : `${def.name}.`
  for (let i = 0; i < def.fields.length; i++) {
    const [name, , type] = def.fields[i]
    const v = t.elements[i + 1]
    const at = { record: def.name, field: name, path: base + name }
    out[name] = isNil(v) ? (admitsList(type) ? [] : null) : readValue(v, type, s, at)
  }
  return out
}

/** whether v has the outer shape of the type (the union's candidates) */
function shapeOk(v: Term, t: FieldType, s: Schema): boolean {
  switch (t.k) {
    case 'bin': return isBinary(v)
    case 'int': return typeof v === 'number' || typeof v === 'bigint'
    case 'atom': return v instanceof Atom
    case 'enum': return v instanceof Atom && t.atoms.includes(v.name)
    case 'list': return Array.isArray(v)
    case 'tuple': return isTuple(v) && v.arity === t.of.length
    case 'rec': {
      const def = isTuple(v) ? recognise(v, s) : undefined
      return def !== undefined && (t.names === '*' || t.names.includes(def.name))
    }
    case 'union': return t.of.some((m) => shapeOk(v, m, s))
    case 'term': return true
  }
}

function readValue(v: Term, t: FieldType, s: Schema, at: At): unknown {
  switch (t.k) {
    case 'bin': return isBinary(v) ? v : fail(at, 'binary()', describeTerm(v))
    case 'int': return typeof v === 'number' || typeof v === 'bigint' ? v : fail(at, 'integer()', describeTerm(v))
    case 'atom':
      return v instanceof Atom && s.atoms.has(v.name) ? v.name : fail(at, 'a known atom', describeTerm(v))
    case 'enum':
      return v instanceof Atom && t.atoms.includes(v.name) ? v.name : fail(at, describeType(t), describeTerm(v))
    case 'list':
      if (!Array.isArray(v)) return fail(at, describeType(t), describeTerm(v))
      return v.map((e, i) => readValue(e, t.of, s, { ...at, path: `${at.path}[${i}]` }))
    case 'tuple': return checkTuple(v, t, s, at)
    case 'rec': {
      const def = isTuple(v) ? recognise(v, s) : undefined
      if (!def || (t.names !== '*' && !t.names.includes(def.name))) return fail(at, expectedRecord(t.names, s), describeTerm(v))
      return readRecord(v as Tuple, def, s, at.path)
    }
    case 'union': {
      const fits = t.of.filter((m) => shapeOk(v, m, s))
      if (fits.length === 0) return fail(at, describeType(t), describeTerm(v))
      // the first candidate whose shape fits decides; its own error is the most precise one
      for (const m of fits.slice(0, -1)) {
        try { return readValue(v, m, s, at) } catch (e) { if (!(e instanceof RecordError)) throw e }
      }
      return readValue(v, fits[fits.length - 1], s, at)
    }
    case 'term': return readUntyped(v, s, at)
  }
}

// a plain tuple is the same Term in both directions; its elements are checked as terms of their types
function checkTuple(v: unknown, t: FieldType & { k: 'tuple' }, s: Schema, at: At): Tuple {
  if (!isTuple(v) || v.arity !== t.of.length) return fail(at, describeType(t), describeTerm(v))
  v.elements.forEach((e, i) => readValue(e, t.of[i], s, { ...at, path: `${at.path}{${i}}` }))
  return v
}

// an untyped field keeps its Term; a tuple the schema recognises that also validates becomes a record object
function readUntyped(v: Term, s: Schema, at: At): unknown {
  if (Array.isArray(v)) return v.map((e, i) => readUntyped(e, s, { ...at, path: `${at.path}[${i}]` }))
  const def = isTuple(v) ? recognise(v, s) : undefined
  if (!def) return v
  try { return readRecord(v as Tuple, def, s, at.path) } catch (e) {
    if (e instanceof RecordError) return v
    throw e
  }
}

// ---- object → term ----

/** The tuple of a record object, every missing field given its default, in field order (Erlang's own bytes)
 *  (typed for callers in index.ts: fromRecord). */
export function recordObjectToTerm(obj: unknown, schema: Schema): Tuple {
  const at = { record: '', field: undefined, path: '' }
  if (!isRecordObject(obj)) return fail(at, 'a record object { $: name, … }', describeTerm(obj))
  const def = schema.records.get(obj.$)
  if (!def) return fail({ ...at, record: obj.$ }, `a record of layout ${schema.layout}`, `record object ${obj.$}`)
  return writeRecord(obj, def, schema, '')
}

const namesOf = new WeakMap<RecordDef, ReadonlySet<string>>()
function fieldNames(def: RecordDef): ReadonlySet<string> {
  let names = namesOf.get(def)
  if (!names) namesOf.set(def, names = new Set(def.fields.map(([n]) => n)))
  return names
}

function writeRecord(obj: Record<string, unknown>, def: RecordDef, s: Schema, path: string): Tuple {
  const base = path ? `${path}.` : `${def.name}.`
  const names = fieldNames(def)
  for (const key of Object.keys(obj)) {
    if (key !== '$' && obj[key] !== undefined && !names.has(key)) {
      fail({ record: def.name, field: key, path: base + key }, `a field of #'${def.name}'{} in layout ${s.layout}`, `field ${key}`)
    }
  }
  const elements: Term[] = [atom(def.name)]
  for (const [name, dflt, type] of def.fields) {
    const v = obj[name]
    const at = { record: def.name, field: name, path: base + name }
    elements.push(v === undefined ? dflt : v === null ? NIL : writeValue(v, type, s, at))
  }
  return new Tuple(elements)
}

function fitsIn(v: unknown, t: FieldType, s: Schema): boolean {
  switch (t.k) {
    case 'bin': return v instanceof Uint8Array
    case 'int': return typeof v === 'number' || typeof v === 'bigint'
    case 'atom': return typeof v === 'string'
    case 'enum': return typeof v === 'string' && t.atoms.includes(v)
    case 'list': return Array.isArray(v)
    case 'tuple': return isTuple(v) && v.arity === t.of.length
    case 'rec': return isRecordObject(v) && (t.names === '*' ? s.records.has(v.$) : t.names.includes(v.$))
    case 'union': return t.of.some((m) => fitsIn(v, m, s))
    case 'term': return true
  }
}

function writeValue(v: unknown, t: FieldType, s: Schema, at: At): Term {
  switch (t.k) {
    case 'bin': return v instanceof Uint8Array ? v : fail(at, 'binary() (a Uint8Array)', describeTerm(v))
    case 'int':
      return Number.isSafeInteger(v) || typeof v === 'bigint' ? v as number | bigint : fail(at, 'integer()', describeTerm(v))
    case 'atom':
      return typeof v === 'string' && s.atoms.has(v) ? atom(v) : fail(at, 'a known atom', describeTerm(v))
    case 'enum':
      return typeof v === 'string' && t.atoms.includes(v) ? atom(v) : fail(at, describeType(t), describeTerm(v))
    case 'list':
      if (!Array.isArray(v)) return fail(at, describeType(t), describeTerm(v))
      return v.map((e, i) => writeValue(e, t.of, s, { ...at, path: `${at.path}[${i}]` }))
    case 'tuple': return checkTuple(v, t, s, at)
    case 'rec': {
      if (!fitsIn(v, t, s)) return fail(at, expectedRecord(t.names, s), describeTerm(v))
      const obj = v as { $: string } & Record<string, unknown>
      return writeRecord(obj, s.records.get(obj.$)!, s, at.path)
    }
    case 'union': {
      const fits = t.of.filter((m) => fitsIn(v, m, s))
      if (fits.length === 0) return fail(at, describeType(t), describeTerm(v))
      for (const m of fits.slice(0, -1)) {
        try { return writeValue(v, m, s, at) } catch (e) { if (!(e instanceof RecordError)) throw e }
      }
      return writeValue(v, fits[fits.length - 1], s, at)
    }
    case 'term': return writeUntyped(v, s, at)
  }
}

function isTerm(v: unknown): v is Term {
  return Number.isSafeInteger(v) || typeof v === 'bigint' || v instanceof Atom || v instanceof Uint8Array ||
    v instanceof Tuple || v instanceof Float || v instanceof ImproperList || v instanceof ErlMap
}

function writeUntyped(v: unknown, s: Schema, at: At): Term {
  if (Array.isArray(v)) return v.map((e, i) => writeUntyped(e, s, { ...at, path: `${at.path}[${i}]` }))
  if (isRecordObject(v)) {
    const def = s.records.get(v.$)
    return def ? writeRecord(v, def, s, at.path) : fail(at, `a record of layout ${s.layout}`, `record object ${v.$}`)
  }
  return isTerm(v) ? v : fail(at, 'term()', describeTerm(v))
}
