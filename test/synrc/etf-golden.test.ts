// ETF golden bytes (synrc §2.3, §2.4): the spec's bytes (no Erlang needed), then every tag against what the local
// OTP 25 writes with term_to_binary/1 and term_to_binary(T,[{minor_version,2}]), decoded and re-encoded identically.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { decode, encode } from '../../src/dialects/synrc/etf/codec.ts'
import { ErlMap, Float, ImproperList, NIL, Tuple, atom, bin, tuple, type Term } from '../../src/dialects/synrc/etf/term.ts'
import { ErlangPeer, requireErlang } from './erlang.ts'

const ANY = { atom: 'any' } as const
const bytes = (hex: string): Buffer => Buffer.from(hex.replace(/\s+/g, ''), 'hex')
const ascii = (s: string): string => Buffer.from(s).toString('hex')

const message = tuple(atom('Message'), NIL, atom('chain'), tuple(atom('p2p'), bin('380670000001_1'), bin('380670000002_1')), NIL, NIL, bin('c1'),
  bin('380670000001_1'), bin('380670000002_1'), NIL, [tuple(atom('Desc'), NIL, bin('text'), bin('Hello'), NIL, NIL)], NIL, NIL, NIL, NIL, NIL, NIL)
const MESSAGE_ERL = "{'Message',[],chain,{p2p,<<\"380670000001_1\">>,<<\"380670000002_1\">>},[],[],<<\"c1\">>,<<\"380670000001_1\">>,<<\"380670000002_1\">>,[],[{'Desc',[],<<\"text\">>,<<\"Hello\">>,[],[]}],[],[],[],[],[],[]}"

describe('ETF bytes of synrc §2.4 (from the spec)', () => {
  const cases: [string, Term, string, string?][] = [
    ["{'Ack','Message',<<\"m1\">>}", tuple(atom('Ack'), atom('Message'), bin('m1')),
      '83 68 03 64 00 03 41 63 6B 64 00 07 4D 65 73 73 61 67 65 6D 00 00 00 02 6D 31',
      '83 68 03 77 03 41 63 6B 77 07 4D 65 73 73 61 67 65 6D 00 00 00 02 6D 31'],
    ['{io,{ok,sms_sent},<<>>}', tuple(atom('io'), tuple(atom('ok'), atom('sms_sent')), bin('')),
      '83 68 03 64 00 02 69 6F 68 02 64 00 02 6F 6B 64 00 08 73 6D 73 5F 73 65 6E 74 6D 00 00 00 00'],
    ['{io,{error,invalid_data,[]},[]}', tuple(atom('io'), tuple(atom('error'), atom('invalid_data'), NIL), NIL),
      '83 68 03 64 00 02 69 6F 68 03 64 00 05 65 72 72 6F 72 64 00 0C 69 6E 76 61 6C 69 64 5F 64 61 74 61 6A 6A'],
    ['[0,255,256,-1,2147483647,2147483648,-2147483649,1686700000000]', [0, 255, 256, -1, 2147483647, 2147483648, -2147483649, 1686700000000],
      '83 6C 00 00 00 08 61 00 61 FF 62 00 00 01 00 62 FF FF FF FF 62 7F FF FF FF 6E 04 00 00 00 00 80 6E 04 01 01 00 00 80 6E 06 00 00 83 27 B7 88 01 6A'],
    ['[5,7]', [5, 7], '83 6B 00 02 05 07'],
    ['[300,7]', [300, 7], '83 6C 00 00 00 02 62 00 00 01 2C 61 07 6A'],
    ['#Message{} with one Desc', message, '83 68 11 64 00 07' + ascii('Message') + '6A 64 00 05' + ascii('chain') + '68 03 64 00 03' + ascii('p2p') +
      '6D 00 00 00 0E' + ascii('380670000001_1') + '6D 00 00 00 0E' + ascii('380670000002_1') + '6A 6A 6D 00 00 00 02' + ascii('c1') +
      '6D 00 00 00 0E' + ascii('380670000001_1') + '6D 00 00 00 0E' + ascii('380670000002_1') + '6A 6C 00 00 00 01 68 06 64 00 04' + ascii('Desc') +
      '6A 6D 00 00 00 04' + ascii('text') + '6D 00 00 00 05' + ascii('Hello') + '6A 6A 6A 6A 6A 6A 6A 6A 6A'],
  ]
  for (const [name, term, otp25, minor2] of cases) {
    it(`${name}: encodes to the spec's bytes and decodes back`, () => {
      assert.equal(encode(term).toString('hex'), bytes(otp25).toString('hex'))
      assert.equal(encode(decode(bytes(otp25), ANY)).toString('hex'), bytes(otp25).toString('hex'))
      if (minor2) {
        assert.equal(encode(term, { atoms: 'utf8' }).toString('hex'), bytes(minor2).toString('hex'))
        assert.equal(encode(decode(bytes(minor2), ANY)).toString('hex'), bytes(otp25).toString('hex'))
      }
    })
  }
  it('integers decode to numbers while they are safe integers, to bigints beyond ±(2^53-1) (issue 12 §1)', () => {
    for (const n of [0, 255, -1, 2147483648, -2147483649, 2 ** 53 - 1, -(2 ** 53 - 1)]) assert.equal(decode(encode(n), ANY), n)
    for (const n of [2n ** 53n, -(2n ** 53n), 2n ** 64n, -(2n ** 2040n)]) assert.equal(decode(encode(n), ANY), n)
    assert.equal(typeof decode(encode(2n ** 53n - 1n), ANY), 'number')
  })
  it('floats decode to Float (1.0 is not 1), [] to the shared NIL, STRING_EXT to an array of small integers (§2.2)', () => {
    assert.deepEqual(decode(encode(new Float(1)), ANY), new Float(1))
    assert.equal(decode(bytes('83 6A'), ANY), NIL)
    assert.deepEqual(decode(bytes('83 6B 00 02 05 07'), ANY), [5, 7])
    const b = decode(encode(bin('m1')), ANY) as Buffer
    assert.ok(Buffer.isBuffer(b))
    assert.equal(b.toString(), 'm1')
  })
  it('timestamp 1686700000000 is SMALL_BIG_EXT 6E 06 00 00 83 27 B7 88 01 and decodes to a number (§2.3)', () => {
    assert.equal(encode(1686700000000).toString('hex'), '836e0600008327b78801')
    assert.equal(decode(bytes('83 6E 06 00 00 83 27 B7 88 01'), ANY), 1686700000000)
  })
})

const big = (e: number): bigint => 2n ** BigInt(e)
const ints = (n: number, v: number): number[] => new Array(n).fill(v)
const keys33 = (): ErlMap => new ErlMap(Array.from({ length: 33 }, (_, i) => [i + 1, atom('v')] as [Term, Term]))

// [Erlang expression, the same term in JS]: every tag the encoder writes, at the edges of each choice
const ENCODED: [string, Term][] = [
  ['0', 0], ['255', 255], ['256', 256], ['-1', -1], ['-2147483648', -2147483648], ['2147483647', 2147483647],
  ['2147483648', 2147483648], ['-2147483649', -2147483649], ['1686700000000', 1686700000000],
  ['9007199254740991', 2 ** 53 - 1], ['9007199254740992', big(53)], ['-9007199254740993', -(big(53) + 1n)], ['1 bsl 64', big(64)],
  ['(1 bsl 2040) - 1', big(2040) - 1n], ['1 bsl 2040', big(2040)], ['-(1 bsl 4000)', -big(4000)],
  ['1.5', new Float(1.5)], ['-0.0', new Float(-0)], ['0.0', new Float(0)], ['5.0e-324', new Float(5e-324)],
  ['1.7976931348623157e308', new Float(1.7976931348623157e308)], ['0.1', new Float(0.1)],
  ['ok', atom('ok')], ["'Message'", atom('Message')], ["''", atom('')], ['list_to_atom([233,108,232,118,101])', atom('élève')],
  ['list_to_atom([16#65E5,16#672C])', atom('日本')], ['list_to_atom(lists:duplicate(255,$z))', atom('z'.repeat(255))],
  ['list_to_atom(lists:duplicate(200,16#3B1))', atom('α'.repeat(200))], ['list_to_atom([16#1F600])', atom('😀')],
  ['{}', tuple()], ['{1,{2}}', tuple(1, tuple(2))], ['list_to_tuple(lists:seq(1,255))', new Tuple(Array.from({ length: 255 }, (_, i) => i + 1))],
  ['list_to_tuple(lists:seq(1,256))', new Tuple(Array.from({ length: 256 }, (_, i) => i + 1))],
  ['[]', NIL], ['"hello"', [104, 101, 108, 108, 111]], ['lists:duplicate(65535,7)', ints(65535, 7)], ['lists:duplicate(65536,7)', ints(65536, 7)],
  ['[a]', [atom('a')]], ['[[]]', [NIL]], ['[1|2]', new ImproperList([1], 2)], ['[a,b|c]', new ImproperList([atom('a'), atom('b')], atom('c'))],
  ['[1|[2]]', new ImproperList([1], [2])], ['[1,2.5]', [1, new Float(2.5)]],
  ['<<>>', bin('')], ['<<"m1">>', bin('m1')], ['<<0:8000>>', Buffer.alloc(1000)],
  ['#{}', new ErlMap([])],
  ['#{b => 1, a => 2, <<"x">> => 3, [] => 4, {} => 5, [1] => 6, 3 => 7, #{} => 8, 1.5 => 9}',
    new ErlMap([[atom('b'), 1], [atom('a'), 2], [bin('x'), 3], [NIL, 4], [tuple(), 5], [[1], 6], [3, 7], [new ErlMap([]), 8], [new Float(1.5), 9]])],
  ['#{1.5 => a, 2 => b, 1 => c, 1.0 => d}', new ErlMap([[new Float(1.5), atom('a')], [2, atom('b')], [1, atom('c')], [new Float(1), atom('d')]])],
  ['#{{2} => a, {1.5} => b, [1|2] => c, [1,2] => d, [1] => e}', new ErlMap([[tuple(2), atom('a')], [tuple(new Float(1.5)), atom('b')],
    [new ImproperList([1], 2), atom('c')], [[1, 2], atom('d')], [[1], atom('e')]])],
  ["#{list_to_atom([16#FFFD]) => 1, list_to_atom([16#1F600]) => 2, 'z' => 3}", new ErlMap([[atom('\u{fffd}'), 1], [atom('😀'), 2], [atom('z'), 3]])],
  ['#{<<1,2>> => a, <<1>> => b, <<2>> => c}', new ErlMap([[bin('\x01\x02'), atom('a')], [bin('\x01'), atom('b')], [bin('\x02'), atom('c')]])],
  [MESSAGE_ERL, message],
]

// bytes Erlang reads but never writes (decode-only tags and non-canonical forms): decode must read the same term
const DECODE_ONLY: [string, string][] = [
  ['SMALL_ATOM_EXT 115', '83 73 02' + ascii('ok')],
  ['ATOM_UTF8_EXT 118 short', '83 76 00 02' + ascii('ok')],
  ['LARGE_TUPLE_EXT 105 with 2 elements', '83 69 00 00 00 02 61 01 61 02'],
  ['SMALL_BIG_EXT holding 5', '83 6E 01 00 05'],
  ['SMALL_BIG_EXT holding 0 with sign 1', '83 6E 01 01 00'],
  ['LARGE_BIG_EXT holding 2^32', '83 6F 00 00 00 05 00 00 00 00 00 01'],
  ['SMALL_BIG_EXT with a sign byte of 2', '83 6E 01 02 05'],
  ['INTEGER_EXT holding 5', '83 62 00 00 00 05'],
  ['LIST_EXT of small integers', '83 6C 00 00 00 02 61 05 61 07 6A'],
  ['LIST_EXT with a list tail', '83 6C 00 00 00 01 61 01 6C 00 00 00 01 61 02 6A'],
  ['LIST_EXT with a string tail', '83 6C 00 00 00 01 61 01 6B 00 01 02'],
  ['LIST_EXT of no elements and a tail', '83 6C 00 00 00 00 61 05'],
  ['LIST_EXT with an improper list tail', '83 6C 00 00 00 01 61 01 6C 00 00 00 01 61 02 61 03'],
  ['BIT_BINARY_EXT with 8 bits in the last byte', '83 4D 00 00 00 02 08 01 02'],
  ['BIT_BINARY_EXT empty', '83 4D 00 00 00 00 00'],
  ['MAP_EXT with keys out of order', '83 74 00 00 00 02 64 00 01 62 61 01 64 00 01 61 61 02'],
  ['NEW_FLOAT_EXT', '83 46 3F F8 00 00 00 00 00 00'],
  ['FLOAT_EXT 99', '83 63' + ascii('1.50000000000000000000e+00') + '00'.repeat(5)],
]

describe('ETF tags against Erlang/OTP 25 term_to_binary (synrc §2.3)', requireErlang(), () => {
  let erl: ErlangPeer
  before(() => { erl = new ErlangPeer() })
  after(async () => { await erl.close() })

  for (const [expr, term] of ENCODED) {
    it(`${expr.length > 60 ? expr.slice(0, 60) + '…' : expr}: same bytes as term_to_binary, both atom styles, and back`, async () => {
      const golden = await erl.evaluate(expr + '.')
      assert.equal(encode(term).toString('hex'), golden.otp25.toString('hex'))
      assert.equal(encode(term, { atoms: 'utf8' }).toString('hex'), golden.minor2.toString('hex'))
      assert.equal(encode(decode(golden.otp25, ANY)).toString('hex'), golden.otp25.toString('hex'))
      assert.equal(encode(decode(golden.minor2, ANY), { atoms: 'utf8' }).toString('hex'), golden.minor2.toString('hex'))
    })
  }

  it('a map of 33 keys (a VM hashmap) decodes and re-encodes in the order Erlang wrote it', async () => {
    const golden = await erl.evaluate('maps:from_list([{I, v} || I <- lists:seq(1,33)]).')
    const m = decode(golden.otp25, ANY) as ErlMap
    assert.equal(m.pairs.length, 33)
    assert.equal(encode(m).toString('hex'), golden.otp25.toString('hex'))
    // built in JS in ascending order it is still a valid map for Erlang, with the same keys
    const back = await erl.reencode(encode(keys33()))
    assert.equal((decode(back.otp25, ANY) as ErlMap).pairs.length, 33)
  })

  for (const [name, hex] of DECODE_ONLY) {
    it(`${name}: decodes to the term binary_to_term reads`, async () => {
      const theirs = await erl.reencode(bytes(hex))
      assert.equal(encode(decode(bytes(hex), ANY)).toString('hex'), theirs.otp25.toString('hex'))
    })
  }

  it('FLOAT_EXT as term_to_binary(F,[{minor_version,0}]) writes it decodes to the same float', async () => {
    for (const f of ['1.5', '-0.1', '1.7976931348623157e308', '5.0e-324', '123456.789']) {
      const old = (await erl.evaluate(`binary_to_term(term_to_binary(${f})) =:= ${f} andalso term_to_binary(${f}, [{minor_version,0}]).`)).otp25
      const etf = decode(old, ANY) as Uint8Array
      assert.equal(etf[1], 99)
      assert.equal((decode(etf, ANY) as Float).value, Number(f))
    }
  })

  it('COMPRESSED 80 from term_to_binary(T,[compressed]) decodes to the uncompressed term', async () => {
    for (const term of [message, new Array(100).fill(bin('hello')), ints(70000, 1), new Tuple([bin('x'.repeat(5000)), big(3000)])]) {
      const plain = encode(term)
      const z = await erl.compressed(plain)
      assert.equal(z[1], 80)
      assert.equal(encode(decode(z, ANY)).toString('hex'), plain.toString('hex'))
    }
  })

  it('a safe decode refuses the atoms binary_to_term(B,[safe]) would (synrc §2.1)', async () => {
    const unknown = Buffer.from('8364000c' + ascii('herald_nx_42'), 'hex')
    await assert.rejects(erl.reencode(unknown, true), /badarg/)
    assert.throws(() => decode(unknown, { atom: new Set(['ok']) }), /atom 'herald_nx_42' is not allowed/)
  })
})
