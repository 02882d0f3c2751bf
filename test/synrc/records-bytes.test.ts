// synrc §2.4: records built with fromRecord, encoded by the ETF codec, are the bytes OTP 25 wrote; and back.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { decode, encode } from '../../src/dialects/synrc/etf/codec.ts'
import { bin } from '../../src/dialects/synrc/etf/term.ts'
import { KNOWN_ATOMS, fromRecord, schemaFor, toRecord, type InputA } from '../../src/dialects/synrc/records/index.ts'

const hex = (s: string): string => s.replace(/"([^"]*)"/g, (_, t: string) => Buffer.from(t).toString('hex')).replace(/\s+/g, '').toLowerCase()

test('§2.4 golden bytes: the Message example, Ack, and io in each layout; decoded back to the same records', () => {
  const A = schemaFor('a')
  const B = schemaFor('legacy')
  const from = bin('380670000001_1')
  const to = bin('380670000002_1')
  const message: InputA<'Message'> = { $: 'Message', feed_id: { $: 'p2p', from, to }, msg_id: bin('c1'), from, to,
    files: [{ $: 'Desc', payload: bin('Hello') }] }
  const messageBytes = hex(`83 68 11 64 00 07 "Message" 6A 64 00 05 "chain" 68 03 64 00 03 "p2p" 6D 00 00 00 0E "380670000001_1"
    6D 00 00 00 0E "380670000002_1" 6A 6A 6D 00 00 00 02 "c1" 6D 00 00 00 0E "380670000001_1" 6D 00 00 00 0E "380670000002_1"
    6A 6C 00 00 00 01 68 06 64 00 04 "Desc" 6A 6D 00 00 00 04 "text" 6D 00 00 00 05 "Hello" 6A 6A 6A 6A 6A 6A 6A 6A 6A`)
  for (const s of [A, B]) {
    const bytes = encode(fromRecord(message, s as typeof A))
    assert.equal(bytes.toString('hex'), messageBytes, `layout ${s.layout}`)
    const back = toRecord(decode(bytes, { atom: s.atoms }), s)
    assert.deepEqual(encode(fromRecord(back as never, s as typeof A)).toString('hex'), messageBytes)
  }
  const ack = fromRecord({ $: 'Ack', id: bin('m1') }, A)
  assert.equal(encode(ack).toString('hex'), hex('83 68 03 64 00 03 41 63 6B 64 00 07 4D 65 73 73 61 67 65 6D 00 00 00 02 6D 31'))
  assert.equal(encode(ack, { atoms: 'utf8' }).toString('hex'), hex('83 68 03 77 03 41 63 6B 77 07 4D 65 73 73 61 67 65 6D 00 00 00 02 6D 31'))
  const okB = encode(fromRecord({ $: 'io', code: { $: 'ok', code: 'sms_sent' } }, B))
  assert.equal(okB.toString('hex'), hex('83 68 03 64 00 02 69 6F 68 02 64 00 02 6F 6B 64 00 08 73 6D 73 5F 73 65 6E 74 6D 00 00 00 00'))
  const errA = encode(fromRecord({ $: 'io', code: { $: 'error', code: 'invalid_data' } }, A))
  assert.equal(errA.toString('hex'), hex(`83 68 03 64 00 02 69 6F 68 03 64 00 05 65 72 72 6F 72 64 00 0C 69 6E 76 61 6C 69 64
    5F 64 61 74 61 6A 6A`))
  assert.deepEqual(toRecord(decode(errA, { atom: KNOWN_ATOMS }), A), { $: 'io', code: { $: 'error', code: 'invalid_data', src: null }, data: null })
  // mentioned=[5,7] is written as STRING_EXT 107 and read back as list(integer())
  const mentioned = encode(fromRecord({ $: 'Message', mentioned: [5, 7] }, A))
  assert.ok(mentioned.toString('hex').includes('6b00020507'))
  const m = toRecord(decode(mentioned, { atom: A.atoms }), A)
  assert.ok(m.$ === 'Message')
  assert.deepEqual(m.mentioned, [5, 7])
})
