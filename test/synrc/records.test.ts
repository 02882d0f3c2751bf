// synrc §2.2, §3, §4.2, Appendices A and B: the record schema of both layouts (defaults, field order,
// recognition by (name, arity), round trips, the §2.4 Message).
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { Atom, NIL, Tuple, atom, bin, isBinary, tuple, type Term } from '../../src/dialects/synrc/etf/term.ts'
import { fromRecord, schemaFor, toRecord, type FieldType, type Schema } from '../../src/dialects/synrc/records/index.ts'

/** a term in Erlang syntax, binaries as <<"…">> */
function show(t: Term): string {
  if (typeof t === 'number' || typeof t === 'bigint') return String(t)
  if (t instanceof Atom) return /^[a-z][a-zA-Z0-9_@]*$/.test(t.name) ? t.name : `'${t.name}'`
  if (isBinary(t)) return t.length === 0 ? '<<>>' : `<<"${Buffer.from(t).toString('utf8')}">>`
  if (t instanceof Tuple) return `{${t.elements.map(show).join(',')}}`
  if (Array.isArray(t)) return `[${t.map(show).join(',')}]`
  throw new Error('show: unexpected term')
}

const A = schemaFor('a')
const B = schemaFor('legacy')
const anyFrom = (o: unknown, s: Schema): Tuple => fromRecord(o as never, s as typeof A)

// each record with every field at its default, as Appendix A gives it
const DEFAULTS_A: Record<string, string> = {
  Index: "{'Index',[],[]}",
  Typing: "{'Typing',[],[]}",
  Search: "{'Search',[],[],[],[],[],[]}",
  Feature: "{'Feature',[],[],<<>>,[]}",
  Service: "{'Service',[],[],[],[],[],[],[]}",
  Desc: "{'Desc',[],<<\"text\">>,[],[],[]}",
  Presence: "{'Presence',<<>>,[]}",
  Friend: "{'Friend',[],[],[],[]}",
  Tag: "{'Tag',[],[],[],[]}",
  Link: "{'Link',[],[],[],[],[],[]}",
  StickerPack: "{'StickerPack',[],[],[],[],[],[],0,0,0}",
  Message: "{'Message',[],chain,[],[],[],[],[],[],[],[],[],[],[],[],[],[]}",
  Member: "{'Member',[],chain,[],[],[],[],[],[],[],[],[],0,0,[],[],[],[]}",
  Room: "{'Room',[],[],[],[],[],[],[],[],[],[],0,0,[],[],[],0,0,[]}",
  Contact: "{'Contact',[],[],[],[],[],[],0,[],[],0,0,[],[],[]}",
  Star: "{'Star',[],[],[],[],[],[]}",
  RoomStar: "{'RoomStar',[],[]}",
  Ack: "{'Ack','Message',[]}",
  Auth: "{'Auth',[],[],[],[],[],[],[],[],[],[],[],[],[],[]}",
  Roster: "{'Roster',[],[],[],[],[],[],[],[],[],[],[],0,[]}",
  Profile: "{'Profile',[],[],[],[],[],0,0,[],[]}",
  History: "{'History',[],[],0,0,[],[]}",
  push: '{push,[],[],[],[],[],[]}',
  io: '{io,[],[]}',
  ok: '{ok,[],[]}',
  error: '{error,[],[]}',
  errors: '{errors,[],[]}',
  p2p: '{p2p,[],[]}',
  muc: '{muc,[]}',
  act: '{act,[],[]}',
  pushService: '{pushService,[],[],0,[],[],[]}',
  publishService: '{publishService,[],[],0}',
  ftp: '{ftp,[],[],[],[],[],[],[],[],[]}',
  ftpack: '{ftpack,[],[],[],[],[],[],[],[],[]}',
  reader: '{reader,[],[],[],[],[],[],[],[]}',
  writer: '{writer,[],[],[],[],[]}',
}

// Appendix B: the records that differ, the legacy-only ones; the rest as in A
const LEGACY_ONLY: Record<string, string> = {
  Feature: "{'Feature',[],[],<<>>,<<\"DUMMY_GROUP\">>}",
  Contact: "{'Contact',[],[],[],[],[],[],0,[],0,0,[],[],[],[]}",
  ExtendedStar: "{'ExtendedStar',[],[]}",
  Profile: "{'Profile',[],[],[],[],0,0,[],[]}",
  io: '{io,[],<<>>}',
  ok: '{ok,[]}',
  error: '{error,[]}',
  ok2: '{ok2,[],[]}',
  error2: '{error2,[],[]}',
  act: '{act,<<"publish">>,[]}',
  PushService: "{'PushService',[],[],0,[],[],[]}",
  PublishService: "{'PublishService',[],[],0}",
  reader: '{reader,[],[],[],[],[],[]}',
  Whitelist: "{'Whitelist',[],0}",
  chain: '{chain,[],[],[],[],[],{[],[]}}',
  Job: "{'Job',[],chain,[],[],[],[],[],[],[],[],[],[]}",
  Schedule: "{'Schedule',[],[],[],[]}",
  mqi: '{mqi,[],[],[]}',
}
const RENAMED_IN_B: Record<string, string> = { RoomStar: 'ExtendedStar', pushService: 'PushService', publishService: 'PublishService' }
const DEFAULTS_B: Record<string, string> = {
  ...Object.fromEntries(Object.entries(DEFAULTS_A).filter(([n]) => !RENAMED_IN_B[n])),
  ...LEGACY_ONLY,
}

for (const [layout, s, expected] of [['a', A, DEFAULTS_A], ['legacy', B, DEFAULTS_B]] as const) {
  describe(`layout ${layout}: defaults (Appendix ${layout === 'a' ? 'A' : 'B'})`, () => {
    test('the table holds exactly the expected records', () => {
      assert.deepEqual([...s.records.keys()].sort(), Object.keys(expected).sort())
    })
    for (const [name, erl] of Object.entries(expected)) {
      test(`#'${name}'{} is ${erl}`, () => {
        const t = anyFrom({ $: name }, s)
        assert.equal(show(t), erl)
        // and an all-default term reads back to an object that writes the same term
        assert.deepEqual(anyFrom(toRecord(t, s), s), t)
      })
    }
  })
}

// a value of each field type; `v` picks union members and enum atoms so that several variants cover them
function sampleTerm(t: FieldType, v: number): Term {
  switch (t.k) {
    case 'bin': return bin(`b${v}`)
    case 'int': return v
    case 'atom': return atom('invalid_data')
    case 'enum': return atom(t.atoms[v % t.atoms.length])
    case 'list': return [sampleTerm(t.of, v), sampleTerm(t.of, v + 1)]
    case 'tuple': return new Tuple(t.of.map((m) => sampleTerm(m, v)))
    case 'union': return sampleTerm(t.of[v % t.of.length], v)
    default: throw new Error(`sampleTerm: ${t.k}`)
  }
}

const INTS = [7, 2n ** 60n, 1686700000000, -1]

function sampleValue(t: FieldType, s: Schema, depth: number, v: number): unknown {
  switch (t.k) {
    case 'bin': return bin(`v${v}d${depth}`)
    case 'int': return INTS[v % INTS.length]
    case 'atom': return ['invalid_data', 'Message', 'sms_sent'][v % 3]
    case 'enum': return t.atoms[(v + depth) % t.atoms.length]
    case 'list': return [sampleValue(t.of, s, depth + 1, v), sampleValue(t.of, s, depth + 1, v + 1)]
    case 'tuple': return sampleTerm(t, v)
    case 'rec': {
      const names = t.names === '*' ? ['p2p', 'Desc', 'Roster'] : t.names
      return sampleRecord(names[v % names.length], s, depth + 1, v)
    }
    case 'union': return sampleValue(t.of[(v + depth) % t.of.length], s, depth, v)
    case 'term': return [bin('t'), tuple(atom('nick'), bin('n')), sampleRecord('p2p', s, depth + 1, v), [1, bin('x')]][v % 4]
  }
}

function sampleRecord(name: string, s: Schema, depth: number, v: number): Record<string, unknown> {
  const def = s.records.get(name)!
  const out: Record<string, unknown> = { $: name }
  for (const [f, , type] of def.fields) {
    const empty = type.k === 'list' || type.k === 'term' || (type.k === 'union' && type.of.some((m) => m.k === 'list'))
    out[f] = depth >= 3 ? (empty ? [] : null) : sampleValue(type, s, depth, v)
  }
  return out
}

for (const [layout, s] of [['a', A], ['legacy', B]] as const) {
  describe(`layout ${layout}: every record round-trips object → term → object`, () => {
    for (const name of s.records.keys()) {
      test(name, () => {
        for (let v = 0; v < 4; v++) {
          const obj = sampleRecord(name, s, 0, v)
          const t = anyFrom(obj, s)
          assert.equal(t.arity, s.records.get(name)!.fields.length + 1)
          assert.deepEqual(toRecord(t, s), obj, `variant ${v}`)
          assert.deepEqual(anyFrom(toRecord(t, s), s), t, `variant ${v}: term → object → term`)
        }
      })
    }
  })
}

describe('layouts A and B differ where §4.2 says', () => {
  test('Contact: presence is element 10 in A and 14 in B; nread in A, unread in B', () => {
    const a = anyFrom({ $: 'Contact', presence: 'online', nread: 3 }, A)
    assert.equal(show(a), "{'Contact',[],[],[],[],[],[],3,[],online,0,0,[],[],[]}")
    const b = anyFrom({ $: 'Contact', presence: 'online', unread: 3 }, B)
    assert.equal(show(b), "{'Contact',[],[],[],[],[],[],3,[],0,0,[],[],online,[]}")
    assert.throws(() => anyFrom({ $: 'Contact', unread: 3 }, A), /Contact\.unread/)
    assert.throws(() => anyFrom({ $: 'Contact', nread: 3 }, B), /Contact\.nread/)
  })
  test('Contact status: nonexised in A, not_existence in B', () => {
    assert.equal(show(anyFrom({ $: 'Contact', status: 'nonexised' }, A)).endsWith(',nonexised}'), true)
    assert.equal(show(anyFrom({ $: 'Contact', status: 'not_existence' }, B)).endsWith(',not_existence}'), true)
    assert.throws(() => anyFrom({ $: 'Contact', status: 'not_existence' }, A), /Contact\.status/)
  })
  test('Auth: type is the last element in A and element 7 in B', () => {
    const a = anyFrom({ $: 'Auth', client_id: bin('reg_1'), phone: bin('380'), type: 'reg' }, A)
    assert.equal(show(a), "{'Auth',<<\"reg_1\">>,[],[],<<\"380\">>,[],[],[],[],[],[],[],[],[],reg}")
    const b = anyFrom({ $: 'Auth', client_id: bin('reg_1'), phone: bin('380'), type: 'reg' }, B)
    assert.equal(show(b), "{'Auth',<<\"reg_1\">>,[],[],<<\"380\">>,[],reg,[],[],[],[],[],[],[],[]}")
    // the same 15-tuple reads differently: element 7 is sms_code in A
    assert.throws(() => toRecord(b, A), (e: Error) => /Auth\.sms_code: expected binary/.test(e.message))
  })
  test('legacy Auth takes {fake, Phone} and {ver, "11"} (a charlist: STRING_EXT gives small ints)', () => {
    const t = tuple(atom('Auth'), NIL, NIL, NIL, tuple(atom('fake'), bin('380')), NIL, tuple(atom('ver'), [49, 49]),
      NIL, NIL, NIL, NIL, NIL, NIL, NIL, NIL)
    const r = toRecord(t, B)
    assert.equal(r.$, 'Auth')
    assert.deepEqual(anyFrom(r, B), t)
    assert.throws(() => toRecord(t, A), /Auth\.phone/)
  })
  test('Profile: 10 elements in A, 9 in B, recognised by (name, arity)', () => {
    const a = anyFrom({ $: 'Profile', phone: bin('380'), status: 'get' }, A)
    const b = anyFrom({ $: 'Profile', phone: bin('380'), status: 'get' }, B)
    assert.equal(a.arity, 10)
    assert.equal(b.arity, 9)
    assert.equal(toRecord(a, A).$, 'Profile')
    assert.equal(toRecord(b, B).$, 'Profile')
    assert.throws(() => toRecord(b, A), /with 10 elements in layout a/)
    assert.throws(() => toRecord(a, B), /with 9 elements in layout legacy/)
    assert.equal(show(anyFrom({ $: 'Profile', update: bin('x'), date: 5 }, A)), "{'Profile',[],[],[],<<\"x\">>,[],5,0,[],[]}")
    assert.equal(show(anyFrom({ $: 'Profile', update: 5 }, B)), "{'Profile',[],[],[],[],5,0,[],[]}")
  })
  test('ok/error: 3 elements in A; 2 in B, plus ok2/error2', () => {
    const okA = tuple(atom('ok'), atom('sms_sent'), NIL)
    const okB = tuple(atom('ok'), atom('sms_sent'))
    const ok2 = tuple(atom('ok2'), atom('jwt_sent'), bin('123'))
    // src admits a list ({ok2,removed,List}, §6.3), so [] reads as the empty list
    assert.deepEqual(toRecord(okA, A), { $: 'ok', code: 'sms_sent', src: [] })
    assert.deepEqual(toRecord(okB, B), { $: 'ok', code: 'sms_sent' })
    assert.deepEqual(toRecord(ok2, B), { $: 'ok2', code: 'jwt_sent', src: bin('123') })
    assert.throws(() => toRecord(okB, A), /ok.*3 elements/)
    assert.throws(() => toRecord(okA, B), /ok.*2 elements/)
    assert.throws(() => toRecord(ok2, A), /known record/)
    assert.throws(() => toRecord(tuple(atom('error'), atom('invalid_data')), A), /error.*3 elements/)
    assert.deepEqual(toRecord(tuple(atom('error2'), atom('invalid_data'), 5), B), { $: 'error2', code: 'invalid_data', src: 5 })
  })
  test('RoomStar in A is ExtendedStar in B; pushService/PushService; publishService/PublishService', () => {
    for (const [a, b] of Object.entries(RENAMED_IN_B)) {
      assert.ok(A.records.has(a) && !A.records.has(b))
      assert.ok(B.records.has(b) && !B.records.has(a))
    }
  })
  test('Feature.group, io.data and act.name defaults differ; Service.type and Link.type enums differ', () => {
    assert.equal(show(anyFrom({ $: 'Feature', key: bin('k') }, A)), "{'Feature',[],<<\"k\">>,<<>>,[]}")
    assert.equal(show(anyFrom({ $: 'Feature', key: bin('k') }, B)), "{'Feature',[],<<\"k\">>,<<>>,<<\"DUMMY_GROUP\">>}")
    assert.doesNotThrow(() => anyFrom({ $: 'Service', type: 'gcp' }, A))
    assert.throws(() => anyFrom({ $: 'Service', type: 'gcp' }, B), /Service\.type: expected email \| vox \| aws \| wallet/)
    assert.doesNotThrow(() => anyFrom({ $: 'Link', type: 'broadcast' }, A))
    assert.throws(() => anyFrom({ $: 'Link', type: 'broadcast' }, B), /Link\.type/)
    assert.doesNotThrow(() => anyFrom({ $: 'Link', status: 'gen' }, B))
  })
})

describe('§2.4 bytes: the records built with fromRecord', () => {
  const from = bin('380670000001_1')
  const to = bin('380670000002_1')
  const byHand = tuple(atom('Message'), NIL, atom('chain'), tuple(atom('p2p'), from, to), NIL, NIL, bin('c1'), from, to, NIL,
    [tuple(atom('Desc'), NIL, bin('text'), bin('Hello'), NIL, NIL)], NIL, NIL, NIL, NIL, NIL, NIL)
  for (const s of [A, B]) {
    test(`the Message example (layout ${s.layout})`, () => {
      const t = fromRecord({ $: 'Message', feed_id: { $: 'p2p', from, to }, msg_id: bin('c1'), from, to,
        files: [{ $: 'Desc', payload: bin('Hello') }] }, s)
      assert.deepEqual(t, byHand)
    })
  }
  test("{'Ack','Message',<<\"m1\">>}", () => {
    assert.deepEqual(fromRecord({ $: 'Ack', id: bin('m1') }, A), tuple(atom('Ack'), atom('Message'), bin('m1')))
  })
  test('{io,{error,invalid_data,[]},[]} in A and {io,{ok,sms_sent},<<>>} in B', () => {
    assert.equal(show(fromRecord({ $: 'io', code: { $: 'error', code: 'invalid_data' } }, A)), '{io,{error,invalid_data,[]},[]}')
    assert.equal(show(fromRecord({ $: 'io', code: { $: 'ok', code: 'sms_sent' } }, B)), '{io,{ok,sms_sent},<<>>}')
  })
})
