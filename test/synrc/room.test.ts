// synrc §6.8 ROOM/MEMBER with real MQTT clients: a room of three members (one with two devices) gets the system
// message and what Herald publishes on room/<id>; add, remove and leave change who receives it; a non-member gets
// nothing and cannot subscribe; only admins change the room; the §6.8 error codes; mute; Member/patch; presence;
// delete by a sys_ client; subscriptions re-made at reconnect. Both layouts.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { roomTopic } from '../../src/dialects/synrc/topics.ts'
import type { Rec } from '../../src/dialects/synrc/wire.ts'
import { bin, register, startSynrc, str, SynrcClient, type SynrcHerald } from './client.ts'

const isSys = (roomId: string, text?: string) => (r: Rec) =>
  r.$ === 'Message' && Array.isArray(r.type) && r.type.includes('sys') && r.feed_id?.$ === 'muc' && str(r.feed_id.name) === roomId &&
  (text === undefined || str(r.files?.[0]?.payload) === text)
const isRoom = (status: string) => (r: Rec) => r.$ === 'Room' && r.status === status
const isErrors = (code: string) => (r: Rec) => r.$ === 'errors' && r.code.map(str).includes(code)
const member = (rosterId: string): Rec => ({ $: 'Member', phone_id: bin(rosterId) })
const isProbe = (body: string) => (r: Rec) => r.$ === 'Message' && str(r.files?.[0]?.payload) === body

/** A logged-in device, on its persistent session (§6.1: clean=false), as register() leaves it. */
async function login(h: SynrcHerald, phone: string, key: string): Promise<SynrcClient> {
  return (await register(h, phone, key)).device
}

for (const layout of ['a', 'legacy'] as const) {
  describe(`SYNRC ROOM/MEMBER (layout ${layout})`, () => {
    let h: SynrcHerald
    const open: SynrcClient[] = []
    const phone = (n: number) => `38066${layout === 'a' ? 1 : 2}${String(n).padStart(6, '0')}`
    const roster = (n: number) => `${phone(n)}_1`
    let a1: SynrcClient, a2: SynrcClient, b: SynrcClient, c: SynrcClient, d: SynrcClient
    let sys: SynrcClient
    let probes = 0

    /** Herald itself publishes a Message on room/<id> (as messaging does); true for each client that received it */
    async function probe(roomId: string, clients: SynrcClient[], ms = 2000): Promise<boolean[]> {
      const body = `probe ${++probes}`
      const msg: Rec = { $: 'Message', id: probes, feed_id: { $: 'muc', name: bin(roomId) }, files: [{ $: 'Desc', mime: bin('text'), payload: bin(body) }] }
      await h.bus.publish(roomTopic(roomId), a1.wire.encode(msg), { qos: 2 })
      return Promise.all(clients.map(async (cl) => {
        try { await cl.next(isProbe(body), ms); return true } catch { return false }
      }))
    }

    async function device(n: number, key = 'd'): Promise<SynrcClient> {
      const dev = await login(h, phone(n), key)
      open.push(dev)
      return dev
    }

    async function createGroup(name: string, members: number[], by = a1): Promise<string> {
      await by.send({ $: 'Room', name: bin(name), type: 'group', admins: [member(roster(1))], members: members.map((n) => member(roster(n))), status: 'create' })
      const room = await by.next(isRoom('create'))
      return str(room.id)
    }

    before(async () => {
      h = await startSynrc({ layout })
      a1 = await device(1, 'a1')
      a2 = await device(1, 'a2')
      b = await device(2)
      c = await device(3)
      d = await device(4)
      sys = await SynrcClient.connect(h.mqttUrl, `sys_rooms_${layout}`, layout, { username: 'herald', password: h.servicePassword })
      open.push(sys)
    })
    after(async () => {
      for (const cl of open) cl.mqtt.end(true)
      await h.close()
    })

    test('create: the full Room back to the creator, the system message to every member device, nothing to others', async () => {
      await a1.send({
        $: 'Room', name: bin('Friends'), description: bin('three of us'), type: 'group', admins: [member(roster(1))],
        members: [member(roster(2)), member(roster(3))], status: 'create',
      })
      const room = await a1.next(isRoom('create'))
      const id = str(room.id)
      assert.equal(str(room.name), 'Friends')
      assert.equal(room.type, 'group')
      assert.deepEqual(room.members.map((m: Rec) => [str(m.phone_id), m.status]).sort(),
        [[roster(1), 'owner'], [roster(2), 'member'], [roster(3), 'member']])
      assert.deepEqual(room.admins.map((m: Rec) => str(m.phone_id)), [roster(1)])
      assert.equal(room.members[0].feed_id.$, 'muc')
      for (const cl of [a1, a2, b, c]) await cl.next(isSys(id, 'Group created'))
      assert.equal(await d.quiet(isSys(id)), true)
      assert.deepEqual(await probe(id, [a1, a2, b, c, d]), [true, true, true, true, false])
      // a second device of the creator did not get the creator's reply
      assert.equal(await a2.quiet(isRoom('create')), true)
    })

    test('a non-member cannot subscribe to room/<id> itself, and gets nothing published there', async () => {
      const id = await createGroup('closed', [2])
      // SUBACK 0x80 for both (mqtt.js rejects with the packet)
      const suback = (e: unknown) => (e as { packet?: { granted?: number[] } }).packet?.granted?.[0] === 128
      await assert.rejects(d.mqtt.subscribeAsync(roomTopic(id), { qos: 2 }), suback)
      await assert.rejects(d.mqtt.subscribeAsync('room/#', { qos: 0 }), suback)
      assert.deepEqual(await probe(id, [b, d]), [true, false])
    })

    test('get: the full Room to a member; permissions_denied to a non-member; RCHIE2 for a room that does not exist', async () => {
      const id = await createGroup('get', [2])
      await b.send({ $: 'Room', id: bin(id), status: 'get' })
      const room = await b.next(isRoom('get'))
      assert.equal(str(room.name), 'get')
      assert.equal(room.members.length, 2)
      await d.send({ $: 'Room', id: bin(id), status: 'get' })
      const e = await d.next((r) => r.$ === 'errors')
      assert.deepEqual(e.code.map(str), ['permissions_denied'])
      assert.equal(e.data.$, 'Member')
      assert.equal(str(e.data.phone_id), roster(4))
      await b.send({ $: 'Room', id: bin('no-such-room'), status: 'get' })
      assert.ok(await b.next(isErrors('RCHIE2')))
    })

    test('add and remove change who receives; only admins may; MMBRIE1 for a member who does not exist', async () => {
      const id = await createGroup('moving', [2, 3])
      for (const cl of [a1, a2, b, c]) await cl.next(isSys(id))
      // a plain member may not add
      await b.send({ $: 'Room', id: bin(id), members: [member(roster(4))], status: 'add' })
      const e = await b.next(isErrors('permissions_denied'))
      assert.equal(str(e.data.phone_id), roster(2))
      assert.equal(e.data.status, 'member')
      await a1.send({ $: 'Room', id: bin(id), members: [member(`${phone(999)}_1`)], status: 'add' })
      const missing = await a1.next(isErrors('MMBRIE1'))
      assert.equal(str(missing.data.phone_id), `${phone(999)}_1`)

      await a1.send({ $: 'Room', id: bin(id), members: [member(roster(4))], status: 'add' })
      const added = await d.next(isRoom('add'))
      assert.deepEqual(added.members.map((m: Rec) => str(m.phone_id)), [roster(4)])
      await d.next(isSys(id, `${phone(4)} added`))
      await b.next(isRoom('add'))
      assert.deepEqual(await probe(id, [a1, b, c, d]), [true, true, true, true])

      await b.send({ $: 'Room', id: bin(id), members: [member(roster(3))], status: 'remove' })
      await b.next(isErrors('permissions_denied'))
      await a1.send({ $: 'Room', id: bin(id), members: [member(roster(3))], status: 'remove' })
      // the removed member hears of it, then receives nothing more
      const removed = await c.next(isRoom('remove'))
      assert.deepEqual(removed.members.map((m: Rec) => [str(m.phone_id), m.status]), [[roster(3), 'removed']])
      await b.next(isSys(id, `${phone(3)} removed`))
      assert.deepEqual(await probe(id, [a1, a2, b, c, d]), [true, true, true, false, true])
      // the owner is not removed by an admin
      await a1.send({ $: 'Room', id: bin(id), admins: [member(roster(2))], status: 'add' })
      const promoted = await b.next(isRoom('add'))
      assert.deepEqual(promoted.admins.map((m: Rec) => [str(m.phone_id), m.status]), [[roster(2), 'admin']])
      await b.send({ $: 'Room', id: bin(id), members: [member(roster(1))], status: 'remove' })
      await b.next(isErrors('permissions_denied'))
      // an admin may add now
      await b.send({ $: 'Room', id: bin(id), members: [member(roster(3))], status: 'join' })
      await c.next(isRoom('join'))
      assert.deepEqual(await probe(id, [c]), [true])
    })

    test('leave: the room hears it, the leaver receives nothing more; leaving twice is MMBRIE1; an owner who leaves hands over', async () => {
      const id = await createGroup('leaving', [2, 3])
      await b.send({ $: 'Room', id: bin(id), status: 'leave' })
      const left = await a1.next(isRoom('leave'))
      assert.deepEqual(left.members.map((m: Rec) => [str(m.phone_id), m.status]), [[roster(2), 'removed']])
      await c.next(isSys(id, `${phone(2)} left`))
      assert.deepEqual(await probe(id, [a1, b, c]), [true, false, true])
      await b.send({ $: 'Room', id: bin(id), status: 'leave' })
      assert.ok(await b.next(isErrors('MMBRIE1')))
      await a1.send({ $: 'Room', id: bin(id), status: 'leave' })
      const heir = await c.next((r) => isRoom('patch')(r) && r.admins.length === 1)
      assert.deepEqual([str(heir.admins[0].phone_id), heir.admins[0].status], [roster(3), 'owner'])
      await c.send({ $: 'Room', id: bin(id), name: bin('mine now'), status: 'patch' })
      await c.next(isSys(id, 'Group is renamed to mine now'))
      assert.deepEqual(await probe(id, [a1, a2, c]), [false, false, true])
    })

    test('patch: admins only; the Room (patch) and a system message to the room; RCHIE2 for a missing room', async () => {
      const id = await createGroup('old name', [2])
      await b.send({ $: 'Room', id: bin(id), name: bin('hijack'), status: 'patch' })
      await b.next(isErrors('permissions_denied'))
      await a1.send({
        $: 'Room', id: bin(id), name: bin('new name'), description: bin('d2'), type: 'group',
        data: [{ $: 'Desc', mime: bin('image/png'), payload: bin('avatar-bytes') }], status: 'patch',
      })
      const p = await b.next(isRoom('patch'))
      assert.equal(str(p.name), 'new name')
      assert.equal(str(p.description), 'd2')
      assert.equal(str(p.data[0].payload), 'avatar-bytes')
      await b.next(isSys(id, 'Group is renamed to new name'))
      await b.next(isSys(id, 'Group avatar changed'))
      await a1.send({ $: 'Room', id: bin(id), status: 'get' })
      assert.equal(str((await a1.next(isRoom('get'))).name), 'new name')
      await a1.send({ $: 'Room', id: bin('gone'), name: bin('x'), status: 'patch' })
      await a1.next(isErrors('RCHIE2'))
    })

    test('create: admins required with the creator at its head; channel ids and links validated; RCHIE1, LNKIE1/2/3', async () => {
      const mk = (o: Partial<Rec>): Rec => ({ $: 'Room', name: bin('c'), type: 'channel', admins: [member(roster(1))], status: 'create', ...o })
      await a1.send(mk({ admins: [] }))
      assert.equal((await a1.next((r) => r.$ === 'io')).code.code, 'invalid_data')
      await a1.send(mk({ admins: [member(roster(2))] }))
      assert.ok(await a1.next(isErrors('permissions_denied')))
      await a1.send(mk({ id: bin(`news_${layout}`) }))
      const ch = await a1.next(isRoom('create'))
      assert.equal(ch.type, 'channel')
      // §6.8 counters of a channel: Features of group CHANNEL_DATA
      const counters = ch.settings.filter((f: Rec) => str(f.group) === 'CHANNEL_DATA').map((f: Rec) => [str(f.key), str(f.value)])
      assert.deepEqual(counters, [['SUBSCRIBERS_COUNT', '0'], ['ADMINS_COUNT', '1']])
      await a1.next(isSys(`news_${layout}`, 'Channel created'))
      await b.send(mk({ id: bin(`news_${layout}`), admins: [member(roster(2))] }))
      assert.ok(await b.next(isErrors('RCHIE1')))
      await a1.send(mk({ id: bin('bad id/x') }))
      assert.equal((await a1.next((r) => r.$ === 'io')).code.code, 'invalid_data')
      const link = (id: string): Rec => ({ $: 'Link', id: bin(id) })
      await a1.send(mk({ links: [link('x')] }))
      assert.equal(str((await a1.next(isErrors('LNKIE1'))).data.id), 'x')
      await a1.send(mk({ links: [link('l1'), link('l2'), link('l3'), link('l4')].map((l) => ({ ...l, id: bin(`${str(l.id)}_${layout}`) })) }))
      assert.ok(await a1.next(isErrors('LNKIE3')))
      await a1.send(mk({ links: [link(`taken_${layout}`)] }))
      const linked = await a1.next(isRoom('create'))
      assert.deepEqual(linked.links.map((l: Rec) => str(l.id)), [`taken_${layout}`])
      await b.send(mk({ admins: [member(roster(2))], links: [link(`taken_${layout}`)] }))
      assert.ok(await b.next(isErrors('LNKIE2')))
      // a member that names no roster
      await a1.send(mk({ type: 'group', members: [member(`${phone(998)}_1`)] }))
      assert.ok(await a1.next(isErrors('MMBRIE1')))
    })

    test('join with no members: a channel is joined by anyone, a group is not', async () => {
      const id = `open_${layout}`
      await a1.send({ $: 'Room', id: bin(id), name: bin('open'), type: 'channel', admins: [member(roster(1))], status: 'create' })
      await a1.next(isRoom('create'))
      await d.send({ $: 'Room', id: bin(id), status: 'join' })
      const joined = await d.next(isRoom('joined'))
      assert.deepEqual(joined.members.map((m: Rec) => str(m.phone_id)).sort(), [roster(1), roster(4)])
      const subscribers = joined.settings.find((f: Rec) => str(f.key) === 'SUBSCRIBERS_COUNT')
      assert.equal(str(subscribers.value), '1')
      await a1.next(isSys(id, `${phone(4)} joined`))
      assert.deepEqual(await probe(id, [a1, d]), [true, true])
      const g = await createGroup('invite only', [2])
      await d.send({ $: 'Room', id: bin(g), status: 'join' })
      await d.next(isErrors('permissions_denied'))
      assert.deepEqual(await probe(g, [d]), [false])
    })

    test('mute / unmute: the Room to the user\'s own devices only', async () => {
      const id = await createGroup('noisy', [2])
      await a1.send({ $: 'Room', id: bin(id), status: 'mute' })
      for (const cl of [a1, a2]) {
        const m = await cl.next(isRoom('mute'))
        assert.equal(str(m.id), id)
      }
      assert.equal(await b.quiet(isRoom('mute')), true)
      assert.equal((await h.synrc.synrc!.stores.rooms.member(id, roster(1)))?.muted, 1)
      await a1.send({ $: 'Room', id: bin(id), status: 'unmute' })
      await a2.next(isRoom('unmute'))
      assert.equal((await h.synrc.synrc!.stores.rooms.member(id, roster(1)))?.muted, 0)
      await d.send({ $: 'Room', id: bin(id), status: 'mute' })
      await d.next(isErrors('permissions_denied'))
    })

    test('Member/patch: a member\'s alias to the room; another member\'s patch is refused', async () => {
      const id = await createGroup('aliases', [2])
      await b.send({ $: 'Member', feed_id: { $: 'muc', name: bin(id) }, alias: bin('bee'), status: 'patch' })
      const p = await a2.next((r) => r.$ === 'Member' && r.status === 'patch')
      assert.deepEqual([str(p.phone_id), str(p.alias)], [roster(2), 'bee'])
      await a1.send({ $: 'Room', id: bin(id), status: 'get' })
      const room = await a1.next(isRoom('get'))
      assert.equal(str(room.members.find((m: Rec) => str(m.phone_id) === roster(2)).alias), 'bee')
      await b.send({ $: 'Member', feed_id: { $: 'muc', name: bin(id) }, phone_id: bin(roster(1)), alias: bin('x'), status: 'patch' })
      await b.next(isErrors('permissions_denied'))
      await d.send({ $: 'Member', feed_id: { $: 'muc', name: bin(id) }, alias: bin('x'), status: 'patch' })
      await d.next(isErrors('permissions_denied'))
    })

    test('reconnect: a clean session is re-subscribed to its rooms; Member presence offline/online reaches the room', async () => {
      const id = await createGroup('presence', [3])
      const cid = c.clientId
      const token = (await h.synrc.synrc!.stores.auth.byClient(cid))!.token!
      c.mqtt.end(true)
      const off = await a1.next((r) => r.$ === 'Member' && r.presence === 'offline' && str(r.phone_id) === roster(3) && str(r.feed_id.name) === id)
      assert.equal(off.status, 'member')
      c = await SynrcClient.connect(h.mqttUrl, cid, layout, { password: token, clean: true })
      open.push(c)
      await a1.next((r) => r.$ === 'Member' && r.presence === 'online' && str(r.phone_id) === roster(3) && str(r.feed_id.name) === id)
      // one of two devices going away is not "offline"
      a2.mqtt.end(true)
      assert.equal(await b.quiet((r) => r.$ === 'Member' && r.presence === 'offline' && str(r.phone_id) === roster(1)), true)
      assert.deepEqual(await probe(id, [a1, c]), [true, true])
    })

    test('delete: only a sys_ client; the members hear of it and receive nothing more', async () => {
      const id = await createGroup('doomed', [2])
      await a1.send({ $: 'Room', id: bin(id), status: 'delete' })
      await a1.next(isErrors('permissions_denied'))
      await sys.send({ $: 'Room', id: bin(id), members: [], admins: [], status: 'delete' })
      for (const cl of [a1, b]) await cl.next((r) => isRoom('delete')(r) && str(r.id) === id)
      assert.deepEqual(await probe(id, [a1, b]), [false, false])
      assert.equal(await h.synrc.synrc!.stores.rooms.get(id), undefined)
      await sys.send({ $: 'Room', id: bin(id), status: 'delete' })
      assert.ok(await sys.next(isErrors('RCHIE2')))
    })
  })
}
