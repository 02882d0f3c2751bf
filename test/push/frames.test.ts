// UWPX §3.1, §12.1 item 2: the NUL frame parser, a table of fixtures (reads in → frames out), as mqtt-packet does.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { FrameParser, type Frame } from '../../src/dialects/push/frames.ts'

const b = (s: string) => Buffer.from(s, 'utf8')
const msg = (s: string): Frame => ({ kind: 'message', bytes: b(s) })
const OVER: Frame = { kind: 'oversized' }

/** reads as the socket delivers them; `end`: the peer closed after the last one */
const FIXTURES: { name: string; max?: number; reads: (string | Buffer)[]; end?: boolean; frames: Frame[] }[] = [
  { name: 'one message, one read', reads: ['{"a":1}\0'], frames: [msg('{"a":1}')] },
  { name: 'split over three reads', reads: ['{"ac', 'tion":"x"', ',"v":2}\0'], frames: [msg('{"action":"x","v":2}')] },
  { name: 'the NUL alone in the next read', reads: ['{"a":1', '\0'], frames: [msg('{"a":1')] },
  { name: 'two messages in one read', reads: ['{"a":1}\0{"b":2}\0'], frames: [msg('{"a":1}'), msg('{"b":2}')] },
  { name: 'a message and the start of the next', reads: ['{"a":1}\0{"b"', ':2}\0'], frames: [msg('{"a":1}'), msg('{"b":2}')] },
  { name: 'pretty-printed with CRLF as the UWPX client writes it', reads: ['{\r\n  "version": 2\r\n}\0'], frames: [msg('{\r\n  "version": 2\r\n}')] },
  { name: 'a whole object without NUL is taken at the end of its read (§12.1 item 2)', reads: ['{"a":1}'], frames: [msg('{"a":1}')] },
  { name: 'then its late NUL and CRLF are no message', reads: ['{"a":1}', '\r\n\0'], frames: [msg('{"a":1}')] },
  { name: 'an incomplete object waits for more', reads: ['{"a":{"b":1}'], frames: [] },
  { name: 'a closing brace inside a split string is not the end', reads: ['{"a":"}', '"}\0'], frames: [msg('{"a":"}"}')] },
  { name: 'the last bytes before the peer closed, without NUL', reads: ['{"a":'], end: true, frames: [msg('{"a":')] },
  { name: 'empty frames and blank frames are skipped', reads: ['\0\0 \r\n\0{"a":1}\0'], frames: [msg('{"a":1}')] },
  { name: 'nothing left at close', reads: ['{"a":1}\0'], end: true, frames: [msg('{"a":1}')] },
  { name: 'bytes that are not UTF-8 pass through to the decoder', reads: [Buffer.from([0x7b, 0xff, 0x7d, 0x00])], frames: [{ kind: 'message', bytes: Buffer.from([0x7b, 0xff, 0x7d]) }] },
  { name: 'a message of exactly the limit', max: 7, reads: ['{"a":1}\0'], frames: [msg('{"a":1}')] },
  { name: 'one byte over the limit', max: 6, reads: ['{"a":1}\0{"b":}\0'], frames: [OVER, msg('{"b":}')] },
  { name: 'over the limit across reads: dropped up to its NUL, once', max: 8, reads: ['{"aaaa', 'aaaa', 'aaaa', 'aa"}\0{}\0'], frames: [OVER, msg('{}')] },
  { name: 'an oversized message cut by the close is no message', max: 4, reads: ['{"aaaaa'], end: true, frames: [OVER] },
]

describe('UWPX frames (§3.1, §12.1 item 2)', () => {
  for (const f of FIXTURES) {
    test(f.name, () => {
      const p = new FrameParser(f.max ?? 1024)
      const got: Frame[] = []
      for (const r of f.reads) got.push(...p.push(typeof r === 'string' ? b(r) : r))
      if (f.end) got.push(...p.end())
      assert.deepEqual(got, f.frames)
    })
  }

  test('every split point of two client messages gives the same two frames', () => {
    const wire = b('{\r\n  "version": 2,\r\n  "action": "request_test_push",\r\n  "device_id": "d\u00e9"\r\n}\0{"version":2}\0')
    for (let i = 1; i < wire.length; i++) {
      const p = new FrameParser(1024)
      const got = [...p.push(wire.subarray(0, i)), ...p.push(wire.subarray(i))]
      assert.equal(got.length, 2, `split at ${i}`)
      assert.equal(Buffer.concat(got.map((x) => (x.kind === 'message' ? x.bytes : b('?')))).toString(), wire.toString().replaceAll('\0', ''))
    }
  })
})
