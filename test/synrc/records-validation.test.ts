// synrc §2.2, §5 "anything else", issue 12: what the schema refuses, and the [] / STRING_EXT / untyped cases it takes.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { Atom, Float, ImproperList, NIL, Tuple, atom, bin, tuple, type Term } from '../../src/dialects/synrc/etf/term.ts'
import { KNOWN_ATOMS, RecordError, fromRecord, schemaFor, toRecord, type Schema } from '../../src/dialects/synrc/records/index.ts'

const A = schemaFor('a')
const B = schemaFor('legacy')
const anyFrom = (o: unknown, s: Schema = A): Tuple => fromRecord(o as never, s as typeof A)
const nils = (name: string, n: number): Tuple => new Tuple([atom(name), ...Array<Term>(n).fill(NIL)])

/** a Message of layout A with element `el` (1-based, as Appendix A counts) replaced */
function message(el: number, v: Term): Tuple {
  const t = anyFrom({ $: 'Message', msg_id: bin('c1'), files: [{ $: 'Desc', payload: bin('hi') }] })
  const e = [...t.elements]
  e[el - 1] = v
  return new Tuple(e)
}

function refuses(fn: () => unknown, want: Partial<Pick<RecordError, 'record' | 'field' | 'path' | 'expected' | 'got'>>): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof RecordError, `a RecordError, not ${String(e)}`)
    for (const [k, v] of Object.entries(want)) assert.equal(e[k as keyof typeof want], v, k)
    return true
  })
}

describe('toRecord refuses what does not fit (§2.2)', () => {
  test('a field of the wrong type names the record, the field and what was expected', () => {
    refuses(() => toRecord(message(7, atom('ok')), A),
      { record: 'Message', field: 'msg_id', path: 'Message.msg_id', expected: 'binary()', got: 'atom ok' })
    refuses(() => toRecord(message(2, bin('1')), A), { field: 'id', expected: 'integer()', got: 'binary (1 bytes)' })
    refuses(() => toRecord(message(2, new Float(1)), A), { field: 'id', got: 'float 1' })
    refuses(() => toRecord(message(16, new ImproperList([1], 2)), A), { field: 'mentioned', got: 'improper list' })
  })
  test('an error inside a nested record gives its path', () => {
    const desc = tuple(atom('Desc'), NIL, 5, bin('x'), NIL, NIL)
    refuses(() => toRecord(message(11, [desc]), A),
      { record: 'Desc', field: 'mime', path: 'Message.files[0].mime', expected: 'binary()', got: 'integer 5' })
    const badLink = message(7, 42) // a Message whose msg_id is an integer, as the link of another
    refuses(() => toRecord(message(13, badLink), A), { record: 'Message', path: 'Message.link.msg_id' })
  })
  test('wrong arity: at the top, and for a nested record', () => {
    const short = new Tuple(message(2, NIL).elements.slice(0, 16))
    refuses(() => toRecord(short, A),
      { record: 'Message', expected: "#'Message'{} with 17 elements in layout a", got: 'tuple of 16 tagged Message' })
    refuses(() => toRecord(message(11, [tuple(atom('Desc'), NIL, bin('text'))]), A),
      { path: 'Message.files[0]', expected: "#'Desc'{} (6 elements)" })
  })
  test('an atom outside the field\'s enum', () => {
    refuses(() => toRecord(message(17, atom('ban')), A), { field: 'status', got: 'atom ban' })
    refuses(() => toRecord(message(3, atom('cur2')), A), { field: 'container', expected: 'chain | cur' })
    refuses(() => toRecord(message(12, [atom('sys'), atom('bogus')]), A), { path: 'Message.type[1]' })
  })
  test('not a record, an unknown record', () => {
    refuses(() => toRecord(bin('x'), A), { expected: 'a record', got: 'binary (1 bytes)' })
    refuses(() => toRecord(tuple(atom('Person'), NIL), A), { record: 'Person', expected: 'a known record' })
    refuses(() => toRecord(tuple(1, 2), A), { expected: 'a record' })
  })
  test('a nested record of the wrong kind', () => {
    refuses(() => toRecord(message(4, tuple(atom('act'), NIL, NIL)), A), { field: 'feed_id', expected: "#'muc'{} (2 elements) | #'p2p'{} (3 elements)" })
  })
})

describe('toRecord takes what clients send (§2.2)', () => {
  for (const s of [A, B]) {
    test(`[] in every field of every record (layout ${s.layout}): null, or [] for lists`, () => {
      for (const def of s.records.values()) {
        const r = toRecord(nils(def.name, def.fields.length), s) as unknown as Record<string, unknown>
        for (const [f, , type] of def.fields) {
          const list = type.k === 'list' || type.k === 'term' || (type.k === 'union' && type.of.some((m) => m.k === 'list'))
          assert.deepEqual(r[f], list ? [] : null, `${def.name}.${f}`)
        }
      }
    })
  }
  test('a JS client\'s 0 sent as []: StickerPack.created, Room.unread', () => {
    const r = toRecord(nils('StickerPack', 9), A)
    assert.equal(r.$ === 'StickerPack' && r.created, null)
    assert.equal(anyFrom(r).elements[7], NIL)
  })
  test('STRING_EXT (an array of small integers) for list(integer()) fields', () => {
    const r = toRecord(message(16, [5, 7]), A)
    assert.ok(r.$ === 'Message')
    assert.deepEqual(r.mentioned, [5, 7])
    const room = toRecord(anyFrom({ $: 'Room', mentions: [300, 7], readers: [1, 2] }), A)
    assert.ok(room.$ === 'Room')
    assert.deepEqual(room.mentions, [300, 7])
  })
  test('big integers: ms timestamps and values past 2^53', () => {
    const r = toRecord(message(10, 1686700000000), A)
    assert.ok(r.$ === 'Message' && r.created === 1686700000000)
    const big = toRecord(message(2, 2n ** 64n), A)
    assert.ok(big.$ === 'Message' && big.id === 2n ** 64n)
  })
  test('untyped fields keep their terms; recognised records inside them become objects', () => {
    const idx = toRecord(tuple(atom('Index'), tuple(atom('nick'), bin('N')), [bin('380_1')]), A)
    assert.ok(idx.$ === 'Index')
    assert.deepEqual(idx.id, tuple(atom('nick'), bin('N')))
    const member = anyFrom({ $: 'Member', phone_id: bin('380_1'), status: 'member' })
    const errs = toRecord(tuple(atom('errors'), [bin('permissions_denied')], member), A)
    assert.ok(errs.$ === 'errors')
    assert.equal((errs.data as { $: string }).$, 'Member')
    // a tuple with a record's name and arity that does not validate stays a term
    const odd = tuple(atom('p2p'), 1, 2)
    const e2 = toRecord(tuple(atom('errors'), NIL, odd), A)
    assert.ok(e2.$ === 'errors' && e2.data === odd)
  })
  test('io: code may be <<>> or a list (§6.1, §6.3); data may be {atom, bin} or any record (§6.15)', () => {
    const tok = tuple(atom('Auth'), bin('tok'))
    const r = toRecord(tuple(atom('io'), bin(''), tok), A)
    assert.ok(r.$ === 'io')
    assert.deepEqual(r.code, bin(''))
    assert.equal(r.data, tok)
    const okAdded = tuple(atom('ok'), atom('added'))
    const friend = toRecord(tuple(atom('io'), okAdded, okAdded), B)
    assert.deepEqual(friend, { $: 'io', code: { $: 'ok', code: 'added' }, data: { $: 'ok', code: 'added' } })
    refuses(() => toRecord(tuple(atom('io'), NIL, 5), A), { field: 'data' })
  })
  test('Auth type list (§6.1) in both layouts; ver only in A as an atom', () => {
    assert.doesNotThrow(() => anyFrom({ $: 'Auth', type: 'list' }, A))
    assert.doesNotThrow(() => anyFrom({ $: 'Auth', type: 'list' }, B))
    assert.doesNotThrow(() => anyFrom({ $: 'Auth', type: 'ver' }, A))
    assert.throws(() => anyFrom({ $: 'Auth', type: 'ver' }, B), /Auth\.type/)
    assert.doesNotThrow(() => anyFrom({ $: 'Auth', type: tuple(atom('ver'), [49, 49]) }, B))
  })
})

describe('fromRecord refuses what Erlang would not have built', () => {
  test('an unknown field (a layout\'s field used in the other)', () => {
    refuses(() => anyFrom({ $: 'Profile', date: 1 }, B), { record: 'Profile', field: 'date' })
    refuses(() => anyFrom({ $: 'Message', msgid: bin('x') }), { field: 'msgid', path: 'Message.msgid' })
  })
  test('wrong JS types', () => {
    refuses(() => anyFrom({ $: 'Message', msg_id: 'c1' }), { field: 'msg_id', expected: 'binary() (a Uint8Array)', got: "string 'c1'" })
    refuses(() => anyFrom({ $: 'Message', id: 1.5 }), { field: 'id', expected: 'integer()' })
    refuses(() => anyFrom({ $: 'Message', status: 'bogus' }), { field: 'status' })
    refuses(() => anyFrom({ $: 'Message', files: { $: 'Desc' } }), { field: 'files' })
    refuses(() => anyFrom({ $: 'Message', files: [{ $: 'Feature' }] }), { path: 'Message.files[0]' })
    refuses(() => anyFrom({ $: 'Message', files: [{ $: 'Desc', mime: 5 }] }), { record: 'Desc', path: 'Message.files[0].mime' })
    refuses(() => anyFrom({ $: 'Auth', phone: tuple(atom('fake'), 5) }, B), { path: 'Auth.phone{1}' })
  })
  test('an atom() field takes only atoms the schema knows', () => {
    assert.deepEqual(anyFrom({ $: 'Ack', table: 'Room', id: bin('r') }).elements[1], atom('Room'))
    refuses(() => anyFrom({ $: 'Ack', table: 'no_such_atom_here' }), { field: 'table', expected: 'a known atom' })
  })
  test('an unknown record, a value that is not a record object', () => {
    refuses(() => anyFrom({ $: 'Person' }), { record: 'Person' })
    refuses(() => anyFrom({ $: 'ok2', code: 'login' }, A), { record: 'ok2' })
    refuses(() => anyFrom(bin('x')), { expected: 'a record object { $: name, … }' })
  })
  test('null is [] whatever the default; undefined is the default', () => {
    const t = anyFrom({ $: 'Message', container: null, created: undefined })
    assert.equal(t.elements[2], NIL)
    assert.equal(t.elements[9], NIL)
    assert.deepEqual(anyFrom({ $: 'Desc', mime: null }).elements[2], NIL)
  })
})

describe('the atom table for safe decoding (§2.1)', () => {
  test('record names, enum atoms and the flows\' atoms, per layout and together', () => {
    for (const a of ['Message', 'Desc', 'chain', 'cur', 'p2p', 'sms_sent', 'attempts_expired', 'invalid_data',
      'session_not_found', 'invalid_sms_code', 'call_in_progress', 'jwt_sent', 'not_authorized', 'nonexised', 'true']) {
      assert.ok(A.atoms.has(a), a)
    }
    assert.ok(B.atoms.has('ok2') && B.atoms.has('not_existence') && B.atoms.has('ExtendedStar') && B.atoms.has('wallet'))
    assert.ok(!A.atoms.has('ok2') && !A.atoms.has('ExtendedStar') && !A.atoms.has('wallet'))
    for (const a of [...A.atoms, ...B.atoms]) assert.ok(KNOWN_ATOMS.has(a), a)
    assert.ok(!KNOWN_ATOMS.has('no_such_atom_here') && !KNOWN_ATOMS.has('Person'))
  })
  test('every atom a default or an enum can produce is in its layout\'s table', () => {
    for (const s of [A, B]) {
      for (const def of s.records.values()) {
        for (const [, dflt] of def.fields) if (dflt instanceof Atom) assert.ok(s.atoms.has(dflt.name), dflt.name)
      }
    }
  })
})
