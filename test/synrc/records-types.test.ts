// issue 12: the TypeScript record types are computed from the schema table, so they cannot drift from it.
// The type assertions here are checked by `npm run check` (tsc); the runtime tests tie the table to decoded objects.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Tuple, atom, bin } from '../../src/dialects/synrc/etf/term.ts'
import {
  fromRecord, schemaFor, toRecord, type AnyRecordA, type AnySchema, type InputA, type Int, type RecordA,
  type RecordLegacy,
} from '../../src/dialects/synrc/records/index.ts'

type Eq<X, Y> = (<T>() => T extends X ? 1 : 2) extends (<T>() => T extends Y ? 1 : 2) ? true : false
const holds = <T extends true>(): T | undefined => undefined

// field names and order come from the table: A's Contact has nread and presence, B's unread
holds<Eq<keyof RecordA<'Contact'>, '$' | 'phone_id' | 'avatar' | 'names' | 'surnames' | 'nick' | 'reader' | 'nread' |
  'last_msg' | 'presence' | 'update' | 'created' | 'settings' | 'services' | 'status'>>()
holds<Eq<Exclude<keyof RecordLegacy<'Contact'>, keyof RecordA<'Contact'>>, 'unread'>>()
holds<Eq<Exclude<keyof RecordA<'Profile'>, keyof RecordLegacy<'Profile'>>, 'date'>>()
// field types: enums are their atoms' names, binaries Uint8Array, integers number | bigint, [] is null
holds<Eq<RecordA<'Message'>['container'], 'chain' | 'cur' | null>>()
holds<Eq<RecordA<'Message'>['msg_id'], Uint8Array | null>>()
holds<Eq<RecordA<'Message'>['created'], Int | null>>()
holds<Eq<RecordA<'Message'>['files'], RecordA<'Desc'>[] | null>>()
holds<Eq<RecordA<'Message'>['link'], Int | RecordA<'Message'> | null>>()
holds<Eq<RecordA<'Message'>['feed_id'], RecordA<'muc'> | RecordA<'p2p'> | null>>()
holds<Eq<RecordA<'Presence'>['status'], 'offline' | 'online' | Uint8Array | null>>()
holds<Eq<RecordLegacy<'Auth'>['phone'], Uint8Array | Tuple | null>>()
holds<Eq<RecordA<'Feature'>['value'], Uint8Array | 'true' | null>>()
holds<Eq<RecordLegacy<'io'>['code'] extends infer C ? Extract<C, { $: string }>['$'] : never, 'ok' | 'error' | 'ok2' | 'error2'>>()
holds<Eq<RecordA<'io'>['code'] extends infer C ? Extract<C, { $: string }>['$'] : never, 'ok' | 'error'>>()
// the A/B names: RoomStar and ExtendedStar
holds<Eq<Extract<AnyRecordA, { $: 'RoomStar' }>['$'], 'RoomStar'>>()
holds<Eq<Extract<AnyRecordA, { $: 'ExtendedStar' }>, never>>()

// inputs: every field optional, nested records partial; a wrong field or value does not compile
const ok: InputA<'Message'> = { $: 'Message', msg_id: bin('c1'), files: [{ $: 'Desc', payload: bin('hi') }] }
// @ts-expect-error B's Contact field is not A's
const _wrongField: InputA<'Contact'> = { $: 'Contact', unread: 1 }
// @ts-expect-error not one of Message.status's atoms
const _wrongAtom: InputA<'Message'> = { $: 'Message', status: 'ban' }
// @ts-expect-error a binary is a Uint8Array, not a string
const _wrongBin: InputA<'Message'> = { $: 'Message', msg_id: 'c1' }

// code that works on either layout (schemaFor(config.layout)): the fields of both layouts, checked at run time
function layoutAgnostic(s: AnySchema): Tuple {
  const ack = toRecord(fromRecord({ $: 'Ack', id: bin('m1') }, s), s)
  holds<Eq<Extract<typeof ack, { $: 'ExtendedStar' }>['$'], 'ExtendedStar'>>()
  assert.equal(ack.$, 'Ack')
  return fromRecord({ $: 'Contact', unread: 1, nread: 1 }, s)
}
// never called: what must not compile
export function notCompiling(s: AnySchema): Tuple[] {
  return [
    // @ts-expect-error no such field in either layout
    fromRecord({ $: 'Contact', bogus: 1 }, s),
    // @ts-expect-error a single-layout schema keeps its own fields
    fromRecord({ $: 'Contact', unread: 1 }, schemaFor('a')),
  ]
}

test('a layout-agnostic caller: the run-time check is the layout\'s', () => {
  assert.throws(() => layoutAgnostic(schemaFor('a')), /Contact\.unread/)
  assert.throws(() => layoutAgnostic(schemaFor('legacy')), /Contact\.nread/)
})

test('a decoded record has the table\'s fields, in order, under $ its name', () => {
  const A = schemaFor('a')
  for (const def of A.records.values()) {
    const obj = toRecord(fromRecord({ $: def.name } as never, A), A)
    assert.deepEqual(Object.keys(obj), ['$', ...def.fields.map(([n]) => n)], def.name)
  }
  const m = toRecord(fromRecord(ok, A), A)
  // narrowing on $ gives the typed record
  if (m.$ !== 'Message') assert.fail('not a Message')
  const files: RecordA<'Desc'>[] | null = m.files
  assert.deepEqual(files?.map((d) => d.payload), [bin('hi')])
  assert.deepEqual(fromRecord(ok, A).elements.slice(0, 3), [atom('Message'), [], atom('chain')])
})
