// Safe ETF decoding (synrc §2.1; issue 12 §1): every limit, every malformed input gives an EtfError with an offset,
// and nothing else is ever thrown.
import assert from 'node:assert/strict'
import { deflateSync } from 'node:zlib'
import { describe, it } from 'node:test'
import { decode, encode, EtfError, MAX_DEPTH, type DecodeOptions } from '../../src/dialects/synrc/etf/codec.ts'
import { ErlMap, Float, ImproperList, NIL, Tuple, atom, bin, tuple, type Term } from '../../src/dialects/synrc/etf/term.ts'
import { TermGen } from './etf-random.ts'

const ANY: DecodeOptions = { atom: 'any' }
const bytes = (hex: string): Buffer => Buffer.from(hex.replace(/\s+/g, ''), 'hex')

/** asserts an EtfError whose message matches and whose offset is given (when `offset` is set) */
function refuses(input: Uint8Array, opts: DecodeOptions, message: RegExp, offset?: number): void {
  assert.throws(() => decode(input, opts), (e: unknown) => {
    assert.ok(e instanceof EtfError, `not an EtfError: ${e}`)
    assert.match(e.message, message)
    if (offset !== undefined) assert.equal(e.offset, offset)
    return true
  })
}

const compressed = (plain: Buffer, declared = plain.length - 1, z = deflateSync(plain.subarray(1))): Buffer => {
  const head = Buffer.from([131, 80, 0, 0, 0, 0])
  head.writeUInt32BE(declared, 2)
  return Buffer.concat([head, z])
}

const nestedTuples = (n: number): Buffer => Buffer.concat([Buffer.from([131]), Buffer.alloc(n * 2, Buffer.from([104, 1])), Buffer.from([106])])

describe('ETF decode limits and malformed input (synrc §2.1)', () => {
  const gen = new TermGen(5)
  const samples: Buffer[] = [
    encode(tuple(atom('Message'), NIL, atom('chain'), tuple(atom('p2p'), bin('a'), bin('b')), 1686700000000, -5, bin('c1'), [1, 2, 300], new ImproperList([1], atom('x')))),
    encode(new ErlMap([[atom('k'), new Float(1.5)], [2n ** 80n, [5, 7]], [bin('z'), new Tuple(new Array(300).fill(1))]])),
    encode([2n ** 2100n, -(2n ** 70n), 'ok'].map((x) => (typeof x === 'string' ? atom(x) : x)), { atoms: 'utf8' }),
    compressed(encode(new Array(50).fill(bin('hello')))),
    ...Array.from({ length: 20 }, () => encode(gen.term(3))),
  ]

  it('every truncation of valid terms (at every offset) is an EtfError', () => {
    let cuts = 0
    for (const full of samples) {
      assert.doesNotThrow(() => decode(full, ANY))
      for (let n = 0; n < full.length; n++) {
        refuses(full.subarray(0, n), ANY, /truncated|version|compressed|trailing|ETF/)
        cuts++
      }
    }
    assert.ok(cuts > 1000)
  })

  it('trailing bytes, a bad version byte, empty input and non-bytes are refused with their offset', () => {
    refuses(bytes('83 61 01 00'), ANY, /1 trailing bytes after the term/, 3)
    refuses(bytes('82 61 01'), ANY, /bad version byte 130/, 0)
    refuses(Buffer.alloc(0), ANY, /truncated/, 0)
    refuses(bytes('83'), ANY, /truncated/, 1)
    refuses('83' as unknown as Uint8Array, ANY, /not bytes/)
    // a Uint8Array that is not a Buffer is read the same way
    assert.equal(decode(new Uint8Array([131, 97, 7]), ANY), 7)
  })

  it('an atom outside the allowed set or predicate is refused, as binary_to_term(B,[safe])', () => {
    const t = encode(tuple(atom('Ack'), atom('Message'), bin('m1')))
    const allowed = new Set(['Ack', 'Message'])
    assert.ok(decode(t, { atom: allowed }) instanceof Tuple)
    refuses(t, { atom: new Set(['Ack']) }, /atom 'Message' is not allowed/, 9)
    refuses(t, { atom: (name) => name !== 'Ack' }, /atom 'Ack' is not allowed/, 3)
    refuses(encode(atom('Message'), { atoms: 'utf8' }), { atom: new Set() }, /atom 'Message' is not allowed/, 1)
  })

  it('nesting deeper than maxDepth is refused; maxDepth is capped at MAX_DEPTH (no stack overflow)', () => {
    assert.ok(decode(nestedTuples(64), ANY) instanceof Tuple)
    refuses(nestedTuples(65), ANY, /nested deeper than 64/)
    refuses(nestedTuples(5), { ...ANY, maxDepth: 4 }, /nested deeper than 4/, 9)
    assert.ok(decode(nestedTuples(MAX_DEPTH), { ...ANY, maxDepth: 1e9 }) instanceof Tuple)
    refuses(nestedTuples(100_000), { ...ANY, maxDepth: 1e9 }, new RegExp(`nested deeper than ${MAX_DEPTH}`))
    const lists = Buffer.concat([Buffer.from([131]), Buffer.alloc(5 * 200, bytes('6C 00 00 00 01')), Buffer.alloc(201, 106)])
    refuses(lists, ANY, /nested deeper than 64/)
    const maps = Buffer.concat([Buffer.from([131]), Buffer.alloc(7 * 100, bytes('74 00 00 00 01 61 01')), Buffer.from([106])])
    refuses(maps, ANY, /nested deeper than 64/)
    const tails = Buffer.concat([Buffer.from([131]), Buffer.alloc(7 * 100, bytes('6C 00 00 00 01 61 01')), Buffer.from([106])])
    refuses(tails, ANY, /nested deeper than 64/)
  })

  it('lists, tuples, strings and maps longer than maxLength are refused before they are read', () => {
    const opts = { ...ANY, maxLength: 3 }
    assert.deepEqual(decode(encode([atom('a'), atom('b'), atom('c')]), opts), [atom('a'), atom('b'), atom('c')])
    refuses(encode([atom('a'), atom('b'), atom('c'), atom('d')]), opts, /list of 4 elements is over the limit of 3/, 1)
    refuses(encode(tuple(1, 2, 3, 4)), opts, /tuple of 4 elements/, 1)
    refuses(encode(new Tuple(new Array(300).fill(1))), opts, /tuple of 300 elements/, 1)
    refuses(encode([1, 2, 3, 4]), opts, /string of 4 elements/, 1)
    refuses(encode(new ErlMap([[1, 1], [2, 2], [3, 3], [4, 4]])), opts, /map of 4 elements/, 1)
  })

  it('a length field larger than the bytes left is refused without allocating it', () => {
    for (const hex of ['6C FF FF FF FF 6A', '69 FF FF FF FF', '74 7F FF FF FF', '6D FF FF FF FF 00', '6B FF FF 01', '6F FF FF FF FF 00', '64 FF FF 61', '4D FF FF FF FF 08 00']) {
      refuses(bytes('83' + hex), { ...ANY, maxLength: 2 ** 32 }, /truncated|over the limit/, 1)
    }
  })

  it('a payload over maxSize is refused', () => {
    const t = encode(bin('x'.repeat(100)))
    assert.ok(decode(t, { ...ANY, maxSize: t.length }))
    refuses(t, { ...ANY, maxSize: t.length - 1 }, /payload of 106 bytes is over the limit of 105/, 0)
  })

  it('compressed bombs: the declared size is checked before inflating, and inflating stops at it', () => {
    const plain = encode(bin('\0'.repeat(10 * 1024 * 1024)))
    const bomb = compressed(plain)
    assert.ok(bomb.length < 20_000)
    const t0 = Date.now()
    refuses(bomb, ANY, /declares 10485765 bytes, over the limit of 1048576/, 2)
    refuses(bomb, { ...ANY, maxInflated: 64 * 1024 * 1024, maxSize: 1024 * 1024 }, /over the limit of 1048576/, 2)
    refuses(compressed(plain, 0xffffffff), ANY, /declares 4294967295 bytes/, 2)
    refuses(compressed(plain, 0xffffffff), { ...ANY, maxInflated: 2 ** 40, maxSize: 2 ** 40 }, /inflates to 10485765 bytes, not the declared 4294967295/, 2)
    // a lie: declares 1000 bytes but inflates to 10 MiB
    refuses(compressed(plain, 1000), ANY, /bad compressed data .*larger than 1000/, 6)
    assert.ok(Date.now() - t0 < 1000, 'bombs are refused quickly')
    assert.equal((decode(bomb, { ...ANY, maxInflated: 16 * 1024 * 1024 }) as Uint8Array).length, 10 * 1024 * 1024)
  })

  it('compressed data that is corrupt, shorter than declared, or followed by bytes is refused', () => {
    const plain = encode(new Array(50).fill(bin('hello')))
    const good = compressed(plain)
    assert.equal((decode(good, ANY) as Term[]).length, 50)
    refuses(compressed(plain, plain.length), ANY, /inflates to \d+ bytes, not the declared \d+/, 2)
    refuses(Buffer.concat([good, Buffer.from([0])]), ANY, /trailing bytes after the compressed data/)
    const bad = Buffer.from(good)
    bad[8] ^= 0xff
    refuses(bad, ANY, /bad compressed data/, 6)
    refuses(bytes('83 50 00 00'), ANY, /truncated compressed header/)
    refuses(bytes('83 68 01 50 00 00 00 01'), ANY, /COMPRESSED \(only allowed at the top\)/, 3)
  })

  it('malformed values are refused with a clear reason', () => {
    refuses(bytes('83 46 7F F0 00 00 00 00 00 00'), ANY, /not finite/, 1)
    refuses(bytes('83 46 7F F8 00 00 00 00 00 01'), ANY, /not finite/, 1)
    refuses(Buffer.concat([bytes('83 63'), Buffer.from('nan'.padEnd(31, '\0'))]), ANY, /FLOAT_EXT is not a finite float/, 1)
    refuses(bytes('83 76 00 02 C3 28'), ANY, /not valid UTF-8/, 1)
    refuses(bytes('83 77 03 ED A0 80'), ANY, /not valid UTF-8/, 1)
    refuses(Buffer.concat([bytes('83 64 01 00'), Buffer.alloc(256, 97)]), ANY, /atom of 256 characters/, 1)
    refuses(Buffer.concat([bytes('83 76 01 00'), Buffer.alloc(256, 97)]), ANY, /more than 255 characters/, 1)
    refuses(bytes('83 4D 00 00 00 01 03 E0'), ANY, /bit strings .* not supported/, 1)
    refuses(bytes('83 4D 00 00 00 01 00 E0'), ANY, /malformed BIT_BINARY_EXT/, 1)
    refuses(bytes('83 74 00 00 00 02 61 01 61 01 61 01 61 02'), ANY, /duplicate key/, 1)
    refuses(bytes('83 74 00 00 00 02 46 00 00 00 00 00 00 00 00 61 01 46 80 00 00 00 00 00 00 00 61 02'), ANY, /duplicate key/, 1)
    refuses(bytes('83 58 64 00 01 61 00 00 00 01 00 00 00 00 00 00 00 00'), ANY, /unsupported term NEW_PID_EXT \(tag 88\)/, 1)
    refuses(bytes('83 71 64 00 01 6D 64 00 01 66 61 01'), ANY, /unsupported term EXPORT_EXT/, 1)
    refuses(bytes('83 FF'), ANY, /unknown tag 255/, 1)
    refuses(Buffer.concat([bytes('83 6F 00 01 00 01 00'), Buffer.alloc(65537)]), ANY, /integer of 65537 bytes is over the limit/, 1)
  })

  it('random garbage never throws anything but EtfError', () => {
    const g = new TermGen(77)
    for (let i = 0; i < 20_000; i++) {
      const b = Buffer.from(Array.from({ length: 1 + g.int(40) }, () => g.int(256)))
      b[0] = 131
      try {
        decode(b, ANY)
      } catch (e) {
        if (!(e instanceof EtfError)) throw e
      }
    }
  })
})

describe('ETF encode refuses what Erlang cannot hold', () => {
  const refusesToEncode = (t: unknown, message: RegExp): void => {
    assert.throws(() => encode(t as Term), (e: unknown) => e instanceof EtfError && message.test(e.message))
  }
  it('non-integer numbers, non-finite floats, JS values that are not terms, duplicate map keys, over-long atoms', () => {
    refusesToEncode(1.5, /1.5 is not an integer \(wrap floats in Float\)/)
    refusesToEncode(NaN, /not an integer/)
    refusesToEncode(new Float(Infinity), /Infinity is not an Erlang float/)
    refusesToEncode(new Float(NaN), /NaN is not an Erlang float/)
    refusesToEncode('text', /cannot encode a JS string/)
    refusesToEncode(undefined, /cannot encode a JS undefined/)
    refusesToEncode(null, /cannot encode a JS null/)
    refusesToEncode(tuple(atom('x'), true as unknown as Term), /cannot encode a JS boolean/)
    refusesToEncode(new ErlMap([[1, 1], [1, 2]]), /duplicate key/)
    refusesToEncode(new ErlMap([[new Float(0), 1], [new Float(-0), 2]]), /duplicate key/)
    refusesToEncode(atom('x'.repeat(256)), /atom of 256 characters/)
    refusesToEncode(atom('\uD800'), /not valid Unicode/)
  })
  it('a JS value nested deeper than the encoder recurses is refused, not a stack overflow', () => {
    let t: Term = NIL
    for (let i = 0; i < 100_000; i++) t = tuple(t)
    refusesToEncode(t, /nested deeper than 1000/)
    // the scratch buffer is reset: the next encode is unaffected
    assert.equal(encode(tuple(atom('ok'))).toString('hex'), '8368016400026f6b')
  })
  it('an improper list whose tail is a list is written as the proper list Erlang holds', () => {
    assert.equal(encode(new ImproperList([1], [2, 3])).toString('hex'), encode([1, 2, 3]).toString('hex'))
    assert.equal(encode(new ImproperList([1], new ImproperList([2], atom('t')))).toString('hex'), encode(new ImproperList([1, 2], atom('t'))).toString('hex'))
    assert.equal(encode(new ImproperList([], 5)).toString('hex'), encode(5).toString('hex'))
    assert.equal(encode([5n, 255n]).toString('hex'), encode([5, 255]).toString('hex'))
    assert.equal(encode(2 ** 60).toString('hex'), encode(2n ** 60n).toString('hex'))
  })
})
