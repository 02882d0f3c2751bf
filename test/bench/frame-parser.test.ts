// The benchmark load generator's frame splitter and patched packets (bench/lib/mqtt-wire.ts): frames encoded by
// mqtt-packet come out whole whatever the chunking, and the patched bytes decode as the fields they stand for.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import * as mqttPacket from 'mqtt-packet'
import {
  FrameParser, PUBLISH, PublishTemplate, TAIL, TAIL_PHASE, TAIL_SEQ, TAIL_STREAM, TAIL_TIME, encode,
} from '../../bench/lib/mqtt-wire.ts'
import { publishPacketId } from '../../bench/lib/raw-client.ts'

const frames = [
  encode({ cmd: 'connack', sessionPresent: false, returnCode: 0 }, 4),
  new PublishTemplate('bench/a', 0, 64, 4, 3).batch(1, 1, 1, 0, 1.5),
  new PublishTemplate('bench/b/c', 1, 64, 5, 7).batch(2, 2, 65535, 9, 2.5),
  // a remaining length of two varint bytes
  new PublishTemplate('bench/big', 1, 300, 4, 1).batch(1, 1, 42, 0, 3.5),
  encode({ cmd: 'suback', messageId: 1, granted: [1] }, 4),
]
const stream = Buffer.concat(frames)

function split(chunks: Buffer[]): Array<{ first: number; bytes: Buffer; body: Buffer }> {
  const p = new FrameParser()
  const out: Array<{ first: number; bytes: Buffer; body: Buffer }> = []
  for (const c of chunks) {
    p.push(c, (first, buf, body, end) => { out.push({ first, bytes: Buffer.from(buf.subarray(body, end)), body: buf.subarray(body, end) }) })
  }
  assert.equal(p.pending, 0)
  return out
}

test('every frame comes out whole, at every split point of the stream and byte by byte', () => {
  const whole = split([stream])
  assert.equal(whole.length, 6)
  for (let cut = 1; cut < stream.length; cut++) {
    assert.deepEqual(split([stream.subarray(0, cut), stream.subarray(cut)]).map((f) => [f.first, f.bytes]), whole.map((f) => [f.first, f.bytes]))
  }
  const bytes = split([...stream].map((b) => Buffer.from([b])))
  assert.deepEqual(bytes.map((f) => f.bytes), whole.map((f) => f.bytes))
})

test('patched PUBLISH frames decode (mqtt-packet) with their packet ids, and the tail holds phase, stream, sequence, time', () => {
  const decoded: mqttPacket.Packet[] = []
  for (const v of [4, 5] as const) {
    const parser = mqttPacket.parser({ protocolVersion: v })
    parser.on('packet', (p) => decoded.push(p))
    parser.parse(v === 4 ? Buffer.concat([frames[1], frames[3]]) : frames[2])
  }
  const pubs = decoded as mqttPacket.IPublishPacket[]
  assert.deepEqual(pubs.map((p) => [p.topic, p.qos, p.messageId ?? 0]), [['bench/a', 0, 0], ['bench/big', 1, 42], ['bench/b/c', 1, 65535], ['bench/b/c', 1, 1]])
  assert.deepEqual({ ...pubs[2].properties?.userProperties }, { bench: 'herald' })
  const tail = (p: mqttPacket.IPublishPacket) => {
    const t = (p.payload as Buffer).subarray(-TAIL)
    return [t[TAIL_PHASE], t.readUInt16LE(TAIL_STREAM), t.readUInt32LE(TAIL_SEQ), t.readDoubleLE(TAIL_TIME)]
  }
  assert.deepEqual(pubs.map(tail), [[1, 3, 0, 1.5], [1, 1, 0, 3.5], [2, 7, 9, 2.5], [2, 7, 10, 2.5]])
  const ids = split([stream]).filter((f) => f.first >> 4 === PUBLISH).map((f) => publishPacketId(f.first, f.body, 0))
  assert.deepEqual(ids, [0, 65535, 1, 42])
})

test('a remaining length longer than four varint bytes is refused', () => {
  assert.throws(() => new FrameParser().push(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]), () => {}), /malformed/)
})
