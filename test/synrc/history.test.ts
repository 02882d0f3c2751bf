// synrc §6.7 HISTORY with real MQTT clients, both layouts: pages in both directions, the read cursor with unread
// counts (Contact for p2p, Room for muc, to the user's devices), get_reply, double_get, delete for the requester
// only, media filters, sticker packs; a user outside the feed reads nothing.
import assert from 'node:assert/strict'
import { after, before, beforeEach, describe, test } from 'node:test'
import { messagingOf } from '../../src/dialects/synrc/handlers/messaging.ts'
import { rosterIdOf } from '../../src/dialects/synrc/store/rosters.ts'
import { privateTopic, roomTopic } from '../../src/dialects/synrc/topics.ts'
import type { Rec } from '../../src/dialects/synrc/wire.ts'
import { bin, register, startSynrc, str, type SynrcClient, type SynrcHerald } from './client.ts'

const desc = (t: string, mime = 'text'): Rec => ({ $: 'Desc', mime: bin(mime), payload: bin(t) })
const p2p = (from: string, to: string): Rec => ({ $: 'p2p', from: bin(from), to: bin(to) })
const ids = (h: Rec): number[] => h.data.map((m: Rec) => m.id)

async function drain(cs: SynrcClient[]): Promise<void> {
  await new Promise((r) => setTimeout(r, 150))
  for (const c of cs) (c as unknown as { inbox: Rec[] }).inbox.length = 0
}

for (const layout of ['a', 'legacy'] as const) {
  describe(`SYNRC HISTORY (layout ${layout})`, () => {
    let h: SynrcHerald
    const open: SynrcClient[] = []
    const phone = (n: number) => `380632${layout === 'a' ? 1 : 2}${String(n).padStart(5, '0')}`
    const A = rosterIdOf(phone(1)), B = rosterIdOf(phone(2)), C = rosterIdOf(phone(3))
    let a1: SynrcClient, b1: SynrcClient, b2: SynrcClient, c1: SynrcClient
    const sent: number[] = []
    const room = `hroom_${layout}`

    /** a message from `from` in the A–B feed (or the room), its id once stored */
    async function post(from: SynrcClient, feed: Rec, files: Rec[], extra: Partial<Rec> = {}): Promise<number> {
      const msgId = `m${Math.random()}`
      await from.send({ $: 'Message', feed_id: feed, msg_id: bin(msgId), files, ...extra })
      const m = await from.next((r) => r.$ === 'Message' && r.status === 'sent' && str(r.msg_id) === msgId)
      return m.id
    }
    const get = async (c: SynrcClient, set: Partial<Rec>): Promise<Rec> => {
      await c.send({ $: 'History', roster_id: bin(c === a1 ? A : c === c1 ? C : B), feed: p2p(A, B), size: 0, entity_id: 0, data: [], status: 'get', ...set })
      return c.next((r) => r.$ === 'History' || r.$ === 'io')
    }

    before(async () => {
      h = await startSynrc({ layout })
      const s = h.synrc.synrc!
      a1 = (await register(h, phone(1), 'd1')).device
      b1 = (await register(h, phone(2), 'd1')).device
      b2 = (await register(h, phone(2), 'd2')).device
      c1 = (await register(h, phone(3), 'd1')).device
      open.push(a1, b1, b2, c1)
      const now = Date.now()
      await s.stores.friends.set(A, B, 'friend', now)
      await s.stores.friends.set(B, A, 'friend', now)
      await s.subscribePhone(phone(1), [privateTopic(A, B)])
      await s.subscribePhone(phone(2), [privateTopic(A, B)])
      await s.stores.rooms.create({ id: room, name: 'History room', description: '', type: 'group', doc: '', created: now, update_at: now },
        [A, B].map((r) => ({ roster_id: r, role: 'member', muted: 0, joined: now })))
      await s.subscribePhone(phone(1), [roomTopic(room)])
      await s.subscribePhone(phone(2), [roomTopic(room)])
      for (let i = 1; i <= 7; i++) sent.push(await post(i % 2 ? a1 : b1, i % 2 ? p2p(A, B) : p2p(B, A), [desc(`t${i}`)]))
    })
    beforeEach(() => drain(open))
    after(async () => {
      for (const c of open) c.mqtt.end(true)
      await h.close()
    })

    test('get pages back (size > 0, newest first) and forward (size < 0, oldest first); size answers the new position', async () => {
      const back1 = await get(b1, { size: 3 })
      assert.deepEqual(ids(back1), sent.slice(4).reverse())
      assert.equal(back1.size, sent[4])
      const back2 = await get(b1, { size: 3, entity_id: back1.size })
      assert.deepEqual(ids(back2), sent.slice(1, 4).reverse())
      const back3 = await get(b1, { size: 3, entity_id: back2.size })
      assert.deepEqual([ids(back3), back3.size], [[sent[0]], sent[0]])
      assert.deepEqual(ids(await get(b1, { size: 3, entity_id: sent[0] })), [])
      const fwd1 = await get(a1, { size: -3 })
      assert.deepEqual(ids(fwd1), sent.slice(0, 3))
      const fwd2 = await get(a1, { size: -3, entity_id: fwd1.size })
      assert.deepEqual(ids(fwd2), sent.slice(3, 6))
      // chain fields as stored: each message's prev is the one before it, next the one after
      const all = await get(a1, { size: -10 })
      assert.deepEqual(all.data.map((m: Rec) => [m.prev, m.next]), sent.map((id, i) => [sent[i - 1] ?? null, sent[i + 1] ?? null]))
      assert.equal(str(all.data[1].files[0].payload), 't2')
      // the feed named by data's first Message, the other order of the p2p pair
      await b1.send({ $: 'History', roster_id: bin(B), size: 2, entity_id: 0, data: [{ $: 'Message', feed_id: p2p(B, A) }], status: 'get' })
      assert.deepEqual(ids(await b1.next((r) => r.$ === 'History')), [sent[6], sent[5]])
    })

    test('update moves the read cursor; the reader\'s devices get Contact{nread, last_msg, status=last_msg}', async () => {
      await b1.send({ $: 'History', roster_id: bin(B), feed: p2p(B, A), entity_id: sent[2], status: 'update' })
      for (const d of [b1, b2]) {
        const c = await d.next((r) => r.$ === 'Contact')
        // A wrote messages 5 and 7 after the cursor at message 3
        assert.deepEqual([str(c.phone_id), c.nread, c.last_msg.id, c.reader, c.status], [A, 2, sent[6], sent[2], 'last_msg'])
      }
      assert.equal(await a1.quiet((r) => r.$ === 'Contact'), true)
      await b2.send({ $: 'History', roster_id: bin(B), feed: p2p(A, B), entity_id: 0, status: 'update' })
      for (const d of [b1, b2]) assert.equal((await d.next((r) => r.$ === 'Contact')).nread, 0)
      await post(a1, p2p(A, B), [desc('t8')])
      await b1.send({ $: 'History', roster_id: bin(B), feed: p2p(A, B), entity_id: sent[6], status: 'update' })
      assert.equal((await b2.next((r) => r.$ === 'Contact')).nread, 1)
    })

    test('muc cursor: Room{unread, last_msg, status=last_msg}', async () => {
      const feed = { $: 'muc', name: bin(room) }
      const r1 = await post(a1, feed, [desc('room 1')])
      await post(a1, feed, [desc('room 2')])
      await b1.send({ $: 'History', roster_id: bin(B), feed, entity_id: r1, status: 'update' })
      const r = await b2.next((x) => x.$ === 'Room')
      assert.deepEqual([str(r.id), str(r.name), r.unread, str(r.last_msg.files[0].payload), r.status], [room, 'History room', 1, 'room 2', 'last_msg'])
    })

    test('get_reply, double_get and a media filter', async () => {
      const target = sent[3]
      const reply = await post(b1, p2p(B, A), [desc('re: t4')], { type: ['reply'], link: target })
      await post(a1, p2p(A, B), [desc('', 'image/png')])
      await a1.send({ $: 'History', roster_id: bin(A), entity_id: target, status: 'get_reply' })
      const replies = await a1.next((r) => r.$ === 'History')
      assert.deepEqual([ids(replies), replies.status], [[reply], 'get_reply'])
      const around = await get(a1, { size: 1, entity_id: target, status: 'double_get' })
      assert.deepEqual(ids(around), [sent[2], sent[3], sent[4]])
      const images = await get(a1, { size: 10, status: 'image' })
      assert.equal(images.data.length, 1)
      assert.equal(str(images.data[0].files[0].mime), 'image/png')
      assert.equal(images.status, 'image')
      const texts = await get(a1, { size: 100, status: 'text' })
      assert.ok(texts.data.length >= 8 && texts.data.every((m: Rec) => str(m.files[0].mime) === 'text'))
    })

    test('delete clears the feed for the requester only; its devices hear History{status=delete}', async () => {
      await b1.send({ $: 'History', roster_id: bin(B), feed: p2p(A, B), status: 'delete' })
      for (const d of [b1, b2]) assert.equal((await d.next((r) => r.$ === 'History')).status, 'delete')
      assert.deepEqual(ids(await get(b1, { size: 50 })), [])
      assert.ok(ids(await get(a1, { size: 50 })).length >= 7)
      const later = await post(a1, p2p(A, B), [desc('after clear')])
      assert.deepEqual(ids(await get(b2, { size: 50 })), [later])
    })

    test('sticker packs: none stored is an empty list, then the stored packs', async () => {
      const s = h.synrc.synrc!
      const asked = { $: 'History', roster_id: bin(A), feed: { $: 'StickerPack' }, size: 10, status: 'get' }
      await a1.send(asked)
      const none = await a1.next((r) => r.$ === 'History')
      assert.deepEqual(none.data, [])
      await messagingOf(s).messages.addStickerPack((id) => s.wire.encode({ $: 'StickerPack', id, name: bin('cats'), keywords: [bin('cat')], stickers: [desc('cat1', 'image/webp')] }).toString('base64'), Date.now())
      await a1.send(asked)
      const packs = await a1.next((r) => r.$ === 'History')
      assert.deepEqual(packs.data.map((p: Rec) => [p.$, str(p.name)]), [['StickerPack', 'cats']])
    })

    test('a user outside the feed, or naming another roster, is not_authorized; unknown statuses are invalid_data', async () => {
      assert.equal((await get(c1, { size: 5 })).code.code, 'not_authorized')
      await c1.send({ $: 'History', roster_id: bin(A), feed: p2p(A, B), status: 'get' })
      assert.equal((await c1.next()).code.code, 'not_authorized')
      await c1.send({ $: 'History', roster_id: bin(C), feed: { $: 'muc', name: bin(room) }, status: 'update' })
      assert.equal((await c1.next()).code.code, 'not_authorized')
      await c1.send({ $: 'History', roster_id: bin(C), entity_id: sent[0], status: 'get_reply' })
      assert.equal((await c1.next()).code.code, 'invalid_data')
      assert.equal((await get(a1, { status: 'last_loaded' })).code.code, 'invalid_data')
    })
  })
}
