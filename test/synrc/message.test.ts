// synrc §6.6 MESSAGE with real MQTT clients, both layouts: p2p between two users with two devices each (Ack to the
// sender first, delivery to all four devices, server ids and the prev/next chain), edit, delete, typing, async
// upload, a room of three members, system messages; non-friends and non-members are refused and hear nothing.
import assert from 'node:assert/strict'
import { after, before, beforeEach, describe, test } from 'node:test'
import { messagingOf } from '../../src/dialects/synrc/handlers/messaging.ts'
import { rosterIdOf } from '../../src/dialects/synrc/store/rosters.ts'
import { privateTopic, roomTopic } from '../../src/dialects/synrc/topics.ts'
import type { Rec } from '../../src/dialects/synrc/wire.ts'
import { bin, register, startSynrc, str, type SynrcClient, type SynrcHerald } from './client.ts'

const text = (t: string, mime = 'text'): Rec => ({ $: 'Desc', mime: bin(mime), payload: bin(t) })
const p2p = (from: string, to: string): Rec => ({ $: 'p2p', from: bin(from), to: bin(to) })
const isMsg = (status?: string, id?: number) => (r: Rec) => r.$ === 'Message' && (status === undefined || r.status === status) && (id === undefined || r.id === id)
const payload = (m: Rec): string => str(m.files[0].payload)
/** what earlier tests left in the clients' inboxes is not this test's */
async function drain(cs: SynrcClient[]): Promise<void> {
  await new Promise((r) => setTimeout(r, 150))
  for (const c of cs) (c as unknown as { inbox: Rec[] }).inbox.length = 0
}

/** two devices of one phone, registered through AUTH */
async function user(h: SynrcHerald, phone: string, open: SynrcClient[]): Promise<{ roster: string; phone: string; d: SynrcClient[] }> {
  const d1 = await register(h, phone, 'd1')
  const d2 = await register(h, phone, 'd2')
  open.push(d1.device, d2.device)
  return { roster: rosterIdOf(phone), phone, d: [d1.device, d2.device] }
}

/** friendship set straight in the store (the FRIEND flow is tested elsewhere), both devices subscribed to private/… */
async function befriend(h: SynrcHerald, a: { roster: string; phone: string }, b: { roster: string; phone: string }): Promise<void> {
  const s = h.synrc.synrc!
  const now = Date.now()
  await s.stores.friends.set(a.roster, b.roster, 'friend', now)
  await s.stores.friends.set(b.roster, a.roster, 'friend', now)
  await s.subscribePhone(a.phone, [privateTopic(a.roster, b.roster)])
  await s.subscribePhone(b.phone, [privateTopic(a.roster, b.roster)])
}

for (const layout of ['a', 'legacy'] as const) {
  describe(`SYNRC MESSAGE (layout ${layout})`, () => {
    let h: SynrcHerald
    const open: SynrcClient[] = []
    const phone = (n: number) => `380631${layout === 'a' ? 1 : 2}${String(n).padStart(5, '0')}`
    let A: Awaited<ReturnType<typeof user>>, B: Awaited<ReturnType<typeof user>>, C: Awaited<ReturnType<typeof user>>
    before(async () => {
      h = await startSynrc({ layout })
      A = await user(h, phone(1), open)
      B = await user(h, phone(2), open)
      C = await user(h, phone(3), open)
      await befriend(h, A, B)
    })
    beforeEach(() => drain(open))
    after(async () => {
      for (const c of open) c.mqtt.end(true)
      await h.close()
    })

    test('p2p: Ack keyed by msg_id to the sender first, then the Message (server id, sent) on all four devices; chain prev/next', async () => {
      const [a1, a2] = A.d, [b1, b2] = B.d
      await a1.send({ $: 'Message', feed_id: p2p(A.roster, B.roster), msg_id: bin('c1'), from: bin(A.roster), to: bin(B.roster), files: [text('Hello')] })
      const first = await a1.next()
      assert.deepEqual([first.$, first.table, str(first.id)], ['Ack', 'Message', 'c1'])
      const got = await Promise.all([a1, a2, b1, b2].map((c) => c.next(isMsg('sent'))))
      const id = got[0].id as number
      assert.ok(Number.isInteger(id) && id > 0)
      for (const m of got) {
        assert.deepEqual([m.id, str(m.msg_id), str(m.from), str(m.to), payload(m), m.feed_id.$], [id, 'c1', A.roster, B.roster, 'Hello', 'p2p'])
        assert.equal(m.prev, null)
      }
      // the second message of the feed chains to the first
      await b1.send({ $: 'Message', feed_id: p2p(B.roster, A.roster), msg_id: bin('x9'), files: [text('Hi')] })
      assert.equal((await b1.next()).$, 'Ack')
      const second = await a2.next(isMsg('sent'))
      assert.deepEqual([second.prev, str(second.from), str(second.to)], [id, B.roster, A.roster])
      assert.ok(second.id > id)
      await Promise.all([a1, b1, b2].map((c) => c.next(isMsg('sent', second.id))))
      const stored = await messagingOf(h.synrc.synrc!).messages.get(id)
      assert.equal(stored?.next, second.id)
    })

    test('edit by the author reaches the feed as edit (type edited); another user\'s edit is not_authorized', async () => {
      const [a1] = A.d, [b1, b2] = B.d
      await a1.send({ $: 'Message', feed_id: p2p(A.roster, B.roster), msg_id: bin('e1'), files: [text('typo')] })
      await a1.next((r) => r.$ === 'Ack')
      const m = await b2.next(isMsg('sent'))
      await Promise.all([a1, A.d[1], b1].map((c) => c.next(isMsg('sent', m.id))))
      await a1.send({ $: 'Message', id: m.id, feed_id: p2p(A.roster, B.roster), msg_id: bin('e1'), files: [text('fixed')], status: 'edit' })
      assert.equal(str((await a1.next((r) => r.$ === 'Ack')).id), 'e1')
      const e = await b2.next(isMsg('edit'))
      assert.deepEqual([e.id, payload(e), e.type.includes('edited')], [m.id, 'fixed', true])
      await Promise.all([a1, A.d[1], b1].map((c) => c.next(isMsg('edit', m.id))))
      await b1.send({ $: 'Message', id: m.id, feed_id: p2p(B.roster, A.roster), files: [text('hijack')], status: 'edit' })
      const io = await b1.next((r) => r.$ === 'io')
      assert.equal(io.code.code, 'not_authorized')
      assert.equal(await b2.quiet(isMsg('edit')), true)
    })

    test('delete takes the message out of the chain and tells the feed', async () => {
      const [a1, a2] = A.d, [b1] = B.d
      const ids: number[] = []
      for (const t of ['one', 'two', 'three']) {
        await a1.send({ $: 'Message', feed_id: p2p(A.roster, B.roster), files: [text(t)] })
        ids.push((await b1.next(isMsg('sent'))).id)
      }
      await a1.send({ $: 'Message', id: ids[1], feed_id: p2p(A.roster, B.roster), msg_id: bin('d2'), status: 'delete' })
      assert.equal(str((await a1.next((r) => r.$ === 'Ack')).id), 'd2')
      const d = await b1.next(isMsg('delete'))
      assert.equal(d.id, ids[1])
      await a2.next(isMsg('delete'))
      const { messages } = messagingOf(h.synrc.synrc!)
      // kept outside the feed until every device has the delete
      assert.deepEqual([(await messages.get(ids[1]))?.status, (await messages.get(ids[1]))?.feed.startsWith('deleted:')], ['delete', true])
      assert.deepEqual(d.files, [])
      assert.equal((await messages.get(ids[0]))?.next, ids[2])
      assert.equal((await messages.get(ids[2]))?.prev, ids[0])
      await b1.send({ $: 'Message', id: ids[0], feed_id: p2p(B.roster, A.roster), status: 'delete' })
      assert.equal((await b1.next((r) => r.$ === 'io')).code.code, 'not_authorized')
    })

    test('Typing is broadcast to the feed with the sender\'s roster, never answered', async () => {
      const [a1] = A.d, [b1] = B.d
      await a1.send({ $: 'Typing', phone_id: bin('spoofed'), comments: p2p(A.roster, B.roster) })
      const t = await b1.next((r) => r.$ === 'Typing')
      assert.equal(str(t.phone_id), A.roster)
      assert.equal(await a1.quiet((r) => r.$ === 'io'), true)
      await C.d[0].send({ $: 'Typing', comments: p2p(C.roster, B.roster) })
      assert.equal(await b1.quiet((r) => r.$ === 'Typing'), true)
    })

    test('a non-friend\'s sends are refused (no Ack, nothing delivered) and it hears nothing of the feed', async () => {
      const [c1, c2] = C.d
      await c1.send({ $: 'Message', feed_id: p2p(C.roster, A.roster), msg_id: bin('n1'), files: [text('spam')] })
      assert.equal((await c1.next()).code.code, 'not_authorized')
      // naming another user as From does not help
      await c1.send({ $: 'Message', feed_id: p2p(A.roster, B.roster), msg_id: bin('n2'), files: [text('spoof')] })
      assert.equal((await c1.next()).code.code, 'not_authorized')
      assert.equal(await A.d[0].quiet(isMsg(), 300), true)
      await A.d[0].send({ $: 'Message', feed_id: p2p(A.roster, B.roster), files: [text('private')] })
      await B.d[0].next(isMsg('sent'))
      await A.d[0].next(isMsg('sent'))
      assert.equal(await c2.quiet(isMsg()), true)
      assert.equal(await c1.quiet(isMsg()), true)
    })

    test('invalid messages: no Desc, status update, a server status: invalid_data and no Ack', async () => {
      const [a1] = A.d
      for (const m of [
        { $: 'Message', feed_id: p2p(A.roster, B.roster), msg_id: bin('v1'), files: [] },
        { $: 'Message', feed_id: p2p(A.roster, B.roster), msg_id: bin('v2'), files: [text('x')], status: 'update' },
        { $: 'Message', feed_id: p2p(A.roster, B.roster), msg_id: bin('v3'), files: [text('x')], status: 'sent' },
        { $: 'Message', msg_id: bin('v4'), files: [text('x')] },
      ]) {
        await a1.send(m)
        const r = await a1.next((x) => x.$ === 'io' || x.$ === 'Ack')
        assert.deepEqual([r.$, r.code?.code], ['io', 'invalid_data'])
      }
    })

    test('async upload: upload → link to the feed, complete → sent', async () => {
      const [a1] = A.d, [b1, b2] = B.d
      await a1.send({ $: 'Message', feed_id: p2p(A.roster, B.roster), msg_id: bin('u1'), files: [text('', 'image/png')], status: 'upload' })
      assert.equal(str((await a1.next((r) => r.$ === 'Ack')).id), 'u1')
      const link = await b1.next(isMsg('link'))
      await a1.send({ $: 'Message', id: link.id, feed_id: p2p(A.roster, B.roster), files: [text('files/abc.png', 'image/png')], status: 'complete' })
      const sent = await b2.next(isMsg('sent', link.id))
      assert.equal(payload(sent), 'files/abc.png')
      await a1.send({ $: 'Message', id: link.id, feed_id: p2p(A.roster, B.roster), status: 'complete' })
      assert.equal((await a1.next((r) => r.$ === 'io')).code.code, 'invalid_data')
    })

    test('muc: a member\'s message reaches the three members\' devices; a non-member is refused; system messages are stored', async () => {
      const s = h.synrc.synrc!
      const D = await user(h, phone(4), open)
      const room = `room_${layout}`
      const now = Date.now()
      await s.stores.rooms.create({ id: room, name: 'Team', description: '', type: 'group', doc: '', created: now, update_at: now },
        [A, B, D].map((u, i) => ({ roster_id: u.roster, role: i === 0 ? 'owner' : 'member', muted: 0, joined: now })))
      for (const u of [A, B, D]) await s.subscribePhone(u.phone, [roomTopic(room)])
      await B.d[0].send({ $: 'Message', feed_id: { $: 'muc', name: bin(room) }, msg_id: bin('m1'), files: [text('hi all')] })
      assert.equal((await B.d[0].next((r) => r.$ === 'Ack')).$, 'Ack')
      const got = await Promise.all([...A.d, ...B.d, ...D.d].map((c) => c.next(isMsg('sent'))))
      for (const m of got) assert.deepEqual([m.feed_id.$, str(m.feed_id.name), str(m.from), str(m.to), payload(m)], ['muc', room, B.roster, room, 'hi all'])
      await C.d[0].send({ $: 'Message', feed_id: { $: 'muc', name: bin(room) }, msg_id: bin('m2'), files: [text('let me in')] })
      assert.equal((await C.d[0].next()).code.code, 'not_authorized')
      assert.equal(await D.d[0].quiet(isMsg()), true)
      await s.systemMessage(room, 'Group is renamed to Team')
      const sys = await D.d[1].next(isMsg())
      assert.deepEqual([sys.type, payload(sys), sys.prev], [['sys'], 'Group is renamed to Team', got[0].id])
      assert.equal((await messagingOf(s).messages.get(sys.id))?.types, 'sys')
    })
  })
}
