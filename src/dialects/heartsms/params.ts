// heartsms §2: parameter merging (path > body > query), what counts as missing, the order missing fields are
// reported in, the at-least-one rule, item lists, and the String()/Number()/Boolean() casts, driven by declarations.

export type FieldType = 's' | 'n' | 'b' | 'any'

export interface Field { name: string; type: FieldType }

export interface ParamSpec {
  /** required fields, checked in this order */
  req: Field[]
  /** optional fields */
  opt: Field[]
  /** at least one of the optional fields must be present */
  one: boolean
  /** `/add` routes: the item list (or single object for `devices/add`), validated before `req` */
  list?: { name: string; single: boolean; item: ParamSpec }
}

export type Values = Record<string, any>

export type Checked = { ok: true; values: Values; items: Values[] } | { ok: false; error: string }

/** `'device_id:n'` → number field; `:b` boolean; `:any` uncast; plain names are strings. */
function field(decl: string): Field {
  const [name, type] = decl.split(':')
  return { name, type: (type ?? 's') as FieldType }
}

export interface SpecInput {
  req?: string[]
  opt?: string[]
  one?: boolean
  list?: { name: string; single?: boolean; item: SpecInput }
}

/** Build a spec from a compact declaration; `account_id` is the inherited first required field unless `noAccount`. */
export function spec(s: SpecInput, noAccount = false): ParamSpec {
  const req = [...(noAccount ? [] : ['account_id']), ...(s.req ?? [])].map(field)
  return {
    req,
    opt: (s.opt ?? []).map(field),
    one: s.one ?? false,
    list: s.list && { name: s.list.name, single: s.list.single ?? false, item: spec(s.list.item, true) },
  }
}

/** Missing: absent, `null` or `""`; `0` and `false` are present. */
export function present(v: unknown): boolean {
  return v !== undefined && v !== null && v !== ''
}

export function merge(query: unknown, body: unknown, path: unknown): Values {
  const obj = (x: unknown) => (x && typeof x === 'object' && !Array.isArray(x) ? (x as Values) : {})
  return { ...obj(query), ...obj(body), ...obj(path) }
}

function cast(v: unknown, t: FieldType): unknown {
  switch (t) {
    case 's': return String(v)
    case 'n': return Number(v)
    case 'b': return Boolean(v)
    default: return v
  }
}

const missingError = (name: string) => `missing required parameter ${name}`

/** Check one object against a spec (no list handling); returns the error message or the cast values. */
function checkFields(s: ParamSpec, input: Values): { error?: string; values: Values } {
  for (const f of s.req) if (!present(input[f.name])) return { error: missingError(f.name), values: {} }
  if (s.one && !s.opt.some((f) => present(input[f.name]))) return { error: missingError(''), values: {} }
  const values: Values = {}
  for (const f of s.req) values[f.name] = cast(input[f.name], f.type)
  for (const f of s.opt) if (present(input[f.name])) values[f.name] = cast(input[f.name], f.type)
  return { values }
}

export function check(s: ParamSpec, input: Values): Checked {
  const items: Values[] = []
  if (s.list) {
    const raw = input[s.list.name]
    const list = s.list.single ? (present(raw) ? [raw] : []) : Array.isArray(raw) ? raw : []
    if (list.length === 0) return { ok: false, error: missingError(s.list.name) }
    for (const it of list) {
      const r = checkFields(s.list.item, it && typeof it === 'object' ? (it as Values) : {})
      if (r.error !== undefined) return { ok: false, error: r.error }
      items.push(r.values)
    }
  }
  const r = checkFields(s, input)
  if (r.error !== undefined) return { ok: false, error: r.error }
  return { ok: true, values: r.values, items }
}
