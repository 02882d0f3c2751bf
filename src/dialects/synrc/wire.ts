// One ETF term per MQTT payload (§2.1), as record objects of layout A whatever the wire speaks: the handlers are
// written once, and the legacy layout B (§4.2) is a translation here — Contact.unread ↔ nread, Profile.update ↔ date,
// {ok,Code}/{ok2,Code,Src} ↔ {ok,Code,Src}, ExtendedStar ↔ RoomStar, PushService ↔ pushService.
import { decode, encode, EtfError } from './etf/codec.ts'
import { atom, tuple, type Term } from './etf/term.ts'
import { fromRecord, RecordError, schemaFor, toRecord, type Layout } from './records/index.ts'

/** a record object: `$` is its name, fields by name ([] is null); strings are binaries (Uint8Array) */
export type Rec = { $: string } & Record<string, any>

export class WireError extends Error {
  override name = 'WireError'
}

const RENAME_TO_LEGACY: Record<string, string> = { RoomStar: 'ExtendedStar', pushService: 'PushService', publishService: 'PublishService' }
const RENAME_FROM_LEGACY: Record<string, string> = Object.fromEntries(Object.entries(RENAME_TO_LEGACY).map(([a, b]) => [b, a]))

export interface WireOptions {
  layout: Layout
  maxBytes: number
  /** OTP 26 atom tags (SMALL_ATOM_UTF8) instead of OTP 25's ATOM_EXT */
  utf8Atoms?: boolean
}

export class Wire {
  private readonly schema
  constructor(private readonly o: WireOptions) {
    this.schema = schemaFor(o.layout)
  }

  get layout(): Layout { return this.o.layout }

  /** bytes → a record object in layout A terms; WireError when it is not one term of this layout's records */
  decode(bytes: Uint8Array): Rec {
    if (bytes.length > this.o.maxBytes) throw new WireError(`payload of ${bytes.length} bytes is over ${this.o.maxBytes}`)
    let term: Term
    try {
      term = decode(bytes, { atom: this.schema.atoms, maxDepth: 32, maxLength: 100_000, maxSize: this.o.maxBytes * 4, maxInflated: this.o.maxBytes })
    } catch (err) {
      if (err instanceof EtfError) throw new WireError(`not an ETF term: ${err.message}`)
      throw err
    }
    let rec: Rec
    try {
      rec = toRecord(term, this.schema) as Rec
    } catch (err) {
      if (err instanceof RecordError) throw new WireError(err.message)
      throw err
    }
    return this.o.layout === 'legacy' ? fromLegacy(rec) as Rec : rec
  }

  /** a record object in layout A terms → this layout's bytes */
  encode(rec: Rec): Buffer {
    const obj = this.o.layout === 'legacy' ? toLegacy(rec) : rec
    return encode(fromRecord(obj as never, this.schema), { atoms: this.o.utf8Atoms ? 'utf8' : 'latin1' })
  }

  /** §6.15: `{io, Code, Data}`; code is `{ok|error, Atom, Src}` in A, `{ok|error, Atom}` or `{ok2|error2, Atom, Src}` in B */
  io(code: IoCode | null, data: unknown = null): Rec {
    return { $: 'io', code: code ? { $: code.ok ? 'ok' : 'error', code: code.code, src: code.src ?? null } : null, data }
  }
}

export interface IoCode { ok: boolean; code: string; src?: unknown }
export const ok = (code: string, src?: unknown): IoCode => ({ ok: true, code, src })
export const error = (code: string, src?: unknown): IoCode => ({ ok: false, code, src })

/** walk a value: record objects are mapped by `fn`, lists and nested records recursively */
function mapRecords(v: unknown, fn: (r: Rec) => Rec): unknown {
  if (Array.isArray(v)) return v.map((x) => mapRecords(x, fn))
  if (v && typeof v === 'object' && typeof (v as Rec).$ === 'string' && !(v instanceof Uint8Array)) {
    const r = fn(v as Rec)
    const out: Rec = { $: r.$ }
    for (const [k, x] of Object.entries(r)) if (k !== '$') out[k] = mapRecords(x, fn)
    return out
  }
  return v
}

function toLegacy(rec: Rec): Rec {
  return mapRecords(rec, (r) => {
    const name = RENAME_TO_LEGACY[r.$]
    if (name) return { ...r, $: name }
    if (r.$ === 'Contact') {
      const { nread, ...rest } = r
      return { ...rest, unread: nread }
    }
    if (r.$ === 'Profile') {
      const { date, update: _untyped, ...rest } = r
      return { ...rest, update: date }
    }
    if (r.$ === 'ok' || r.$ === 'error') {
      return r.src === null || r.src === undefined ? { $: r.$, code: r.code } : { $: `${r.$}2`, code: r.code, src: r.src }
    }
    return r
  }) as Rec
}

function fromLegacy(rec: Rec): Rec {
  return mapRecords(rec, (r) => {
    const name = RENAME_FROM_LEGACY[r.$]
    if (name) return { ...r, $: name }
    if (r.$ === 'Contact') {
      const { unread, ...rest } = r
      return { ...rest, nread: unread }
    }
    if (r.$ === 'Profile') {
      const { update, ...rest } = r
      return { ...rest, update: null, date: update }
    }
    if (r.$ === 'ok' || r.$ === 'error') return { ...r, src: null }
    if (r.$ === 'ok2' || r.$ === 'error2') return { ...r, $: r.$.slice(0, -1) }
    return r
  }) as Rec
}

/** `{A, B}` as a plain tuple term (e.g. io's `{ClientId, Token}` src) */
export const pair = (a: Term, b: Term): Term => tuple(a, b)
export { atom }
