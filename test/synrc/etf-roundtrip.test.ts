// ETF codec against a real Erlang VM (synrc §2; issue 12 "Real components"): 100,000 random terms each way, byte for
// byte, in both atom styles, and a differential run of mutated payloads through binary_to_term and decode.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { decode, encode, EtfError } from '../../src/dialects/synrc/etf/codec.ts'
import { ErlangPeer, requireErlang } from './erlang.ts'
import { TermGen } from './etf-random.ts'

const N = 100_000
const BATCH = 1000
const ANY = { atom: 'any', maxDepth: 2000 } as const
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')
const short = (b: Uint8Array): string => (b.length > 200 ? hex(b.subarray(0, 200)) + `… (${b.length} bytes)` : hex(b))

describe('ETF round trip with Erlang/OTP (synrc §2.3)', requireErlang(), () => {
  let erl: ErlangPeer
  before(() => { erl = new ErlangPeer() })
  after(async () => { await erl.close() })

  it(`decodes ${N} terms made by Erlang and re-encodes each to term_to_binary's bytes, both atom styles`, async () => {
    let checked = 0
    for (let b = 0; b < N / BATCH; b++) {
      const batch = await erl.generate(1000 + b, BATCH, 4)
      for (const { otp25, minor2 } of batch) {
        const t = decode(otp25, ANY)
        const again = encode(t)
        if (!again.equals(otp25)) assert.fail(`OTP 25 bytes ${short(otp25)}\nre-encoded as ${short(again)}`)
        const utf8 = encode(t, { atoms: 'utf8' })
        if (!utf8.equals(minor2)) assert.fail(`minor_version 2 bytes ${short(minor2)}\nencoded as ${short(utf8)}`)
        if (!encode(decode(minor2, ANY)).equals(otp25)) assert.fail(`minor_version 2 bytes ${short(minor2)} do not decode to the same term`)
        checked++
      }
    }
    assert.equal(checked, N)
  })

  it(`encodes ${N} random JS terms that binary_to_term reads and term_to_binary writes back identically`, async () => {
    const gen = new TermGen(12)
    let checked = 0
    for (let b = 0; b < N / BATCH; b++) {
      const sent: { latin1: Buffer; utf8: Buffer }[] = []
      const replies: Promise<{ otp25: Buffer; minor2: Buffer }>[] = []
      for (let i = 0; i < BATCH; i++) {
        const t = gen.term(4)
        const latin1 = encode(t)
        sent.push({ latin1, utf8: encode(t, { atoms: 'utf8' }) })
        replies.push(erl.reencode(latin1))
      }
      const got = await Promise.all(replies)
      for (let i = 0; i < BATCH; i++) {
        if (!got[i].otp25.equals(sent[i].latin1)) assert.fail(`encoded ${short(sent[i].latin1)}\nErlang wrote ${short(got[i].otp25)}`)
        if (!got[i].minor2.equals(sent[i].utf8)) assert.fail(`encoded (utf8 atoms) ${short(sent[i].utf8)}\nErlang wrote ${short(got[i].minor2)}`)
        checked++
      }
    }
    assert.equal(checked, N)
  })

  it('accepts exactly what binary_to_term accepts among 20,000 mutated payloads, and reads them as Erlang does', async (t) => {
    const gen = new TermGen(99)
    let agreedOk = 0
    let agreedBad = 0
    let unsupported = 0
    let trailing = 0
    for (let b = 0; b < 20; b++) {
      const inputs: Buffer[] = []
      for (let i = 0; i < 1000; i++) inputs.push(mutate(encode(gen.term(3)), gen))
      const answers = await Promise.all(inputs.map((x) => erl.reencode(x).then((r) => r.otp25, () => null)))
      for (let i = 0; i < inputs.length; i++) {
        let mine: Buffer | EtfError
        try {
          mine = encode(decode(inputs[i], ANY))
        } catch (e) {
          if (!(e instanceof EtfError)) throw e
          mine = e
        }
        const theirs = answers[i]
        if (theirs === null) {
          if (!(mine instanceof EtfError)) assert.fail(`binary_to_term refuses ${short(inputs[i])}, decode read it`)
          agreedBad++
        } else if (mine instanceof EtfError && /trailing bytes after the term/.test(mine.message)) {
          // binary_to_term/1 ignores what follows the term; decode refuses it (issue 12 §1), but reads the same term
          const head = encode(decode(inputs[i].subarray(0, mine.offset), ANY))
          if (!head.equals(theirs)) assert.fail(`${short(inputs[i])}: Erlang reads ${short(theirs)} before the trailing bytes, we read ${short(head)}`)
          trailing++
        } else if (mine instanceof EtfError) {
          // pids, refs, funs and partial-byte bitstrings have no JS term: the only allowed disagreement
          if (!/unsupported|bit strings/.test(mine.message)) assert.fail(`binary_to_term reads ${short(inputs[i])}, decode says: ${mine.message}`)
          unsupported++
        } else {
          if (!mine.equals(theirs)) assert.fail(`${short(inputs[i])}: Erlang re-encodes ${short(theirs)}, we re-encode ${short(mine)}`)
          agreedOk++
        }
      }
    }
    t.diagnostic(`read by both ${agreedOk}, refused by both ${agreedBad}, trailing bytes ${trailing}, unsupported tags ${unsupported}`)
    assert.ok(agreedOk > 1000 && agreedBad > 1000, `both kinds seen: ok ${agreedOk}, refused ${agreedBad}, unsupported ${unsupported}, trailing ${trailing}`)
  })
})

/** One random change: a flipped bit, a cut, a byte overwritten, or a length-sized field set to an edge value. */
function mutate(b: Buffer, g: TermGen): Buffer {
  const x = Buffer.from(b)
  const at = 1 + g.int(x.length - 1)
  switch (g.int(4)) {
    case 0: x[at] ^= 1 << g.int(8); return x
    case 1: return x.subarray(0, at)
    case 2: x[at] = g.int(256); return x
    default: x[at] = g.pick([0, 1, 127, 128, 255]); return x
  }
}
