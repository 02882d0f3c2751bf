// synrc §6.9 LINK with real MQTT clients: check, add (admins only, unique over all rooms, at most 3), get, join by
// invite link (the joiner then receives the room), update, delete (then LNKIE4); legacy `gen`. Both layouts.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { roomTopic } from '../../src/dialects/synrc/topics.ts'
import type { Rec } from '../../src/dialects/synrc/wire.ts'
import { eventually, pgAvailable, requireService } from '../helpers.ts'
import { bin, register, startSynrc, str, SynrcClient, type SynrcHerald } from './client.ts'

const isErrors = (code: string) => (r: Rec) => r.$ === 'errors' && r.code.map(str).includes(code)
const isLink = (status: string, id?: string) => (r: Rec) => r.$ === 'Link' && r.status === status && (id === undefined || str(r.id) === id)
const member = (rosterId: string): Rec => ({ $: 'Member', phone_id: bin(rosterId) })

/** A logged-in device, on its persistent session (§6.1: clean=false), as register() leaves it. */
async function login(h: SynrcHerald, phone: string, key: string): Promise<SynrcClient> {
  return (await register(h, phone, key)).device
}

// the store's SQL on both databases: the two layouts on SQLite, layout A on PostgreSQL too
const pg = requireService(await pgAvailable(), 'PostgreSQL')
for (const [layout, db] of [['a', 'sqlite'], ['legacy', 'sqlite'], ['a', 'postgres']] as const) {
  describe(`SYNRC LINK (layout ${layout}, ${db})`, db === 'postgres' ? pg : {}, () => {
    let h: SynrcHerald
    const open: SynrcClient[] = []
    const phone = (n: number) => `38066${layout === 'a' ? 3 : 4}${String(n).padStart(6, '0')}`
    const roster = (n: number) => `${phone(n)}_1`
    const L = (s: string) => `${s}_${layout}`
    let owner: SynrcClient, plain: SynrcClient, guest: SynrcClient
    let roomId: string

    before(async () => {
      h = await startSynrc({ layout, db })
      for (const [n, set] of [[1, (c: SynrcClient) => { owner = c }], [2, (c: SynrcClient) => { plain = c }], [3, (c: SynrcClient) => { guest = c }]] as const) {
        const device = await login(h, phone(n), 'd')
        open.push(device)
        set(device)
      }
      await owner.send({
        $: 'Room', name: bin('linked'), type: 'group', admins: [member(roster(1))], members: [member(roster(2))],
        links: [{ $: 'Link', id: bin(L('first')), name: bin('first link') }], status: 'create',
      })
      roomId = str((await owner.next((r) => r.$ === 'Room' && r.status === 'create')).id)
    })
    after(async () => {
      for (const c of open) c.mqtt.end(true)
      await h.close()
    })

    test('SEARCH by link (§6.10, status room): the room in the Roster envelope\'s roomlist, without its members; an unknown link finds nothing', async () => {
      await guest.send({ $: 'Search', ref: bin('q-link'), field: bin('link'), type: '==', value: [bin(L('first')), bin(L('nowhere'))], status: 'room' })
      const io = await guest.next((r) => r.$ === 'io')
      assert.equal(str(io.code.code), 'q-link')
      assert.deepEqual(io.data.roomlist.map((r: Rec) => [str(r.id), str(r.name), r.members, r.admins]), [[roomId, 'linked', [], []]])
      await guest.send({ $: 'Search', ref: bin('q-none'), field: bin('link'), type: '==', value: [bin(L('nowhere'))], status: 'room' })
      assert.deepEqual((await guest.next((r) => r.$ === 'io')).data.roomlist, [])
    })

    test('check: a free valid text comes back; LNKIE1 for an invalid one, LNKIE2 for one in use', async () => {
      await guest.send({ $: 'Link', id: bin(L('free')), status: 'check' })
      assert.equal(str((await guest.next(isLink('check'))).id), L('free'))
      for (const bad of ['x', 'has space', 'a'.repeat(49), 'dash-dash']) {
        await guest.send({ $: 'Link', id: bin(bad), status: 'check' })
        assert.equal(str((await guest.next(isErrors('LNKIE1'))).data.id), bad)
      }
      await guest.send({ $: 'Link', id: bin(L('first')), status: 'check' })
      assert.ok(await guest.next(isErrors('LNKIE2')))
    })

    test('add: admins only, to the room; LNKIE2 when taken, LNKIE3 past three links, RCHIE2 for no room', async () => {
      await plain.send({ $: 'Link', id: bin(L('second')), room_id: bin(roomId), status: 'add' })
      const e = await plain.next(isErrors('permissions_denied'))
      assert.equal(str(e.data.phone_id), roster(2))
      await owner.send({ $: 'Link', id: bin(L('second')), room_id: bin(roomId), name: bin('two'), status: 'add' })
      for (const c of [owner, plain]) {
        const l = await c.next(isLink('add', L('second')))
        assert.deepEqual([str(l.room_id), str(l.name)], [roomId, 'two'])
        assert.equal(typeof l.created, 'number')
      }
      await owner.send({ $: 'Link', id: bin(L('second')), room_id: bin(roomId), status: 'add' })
      await owner.next(isErrors('LNKIE2'))
      await owner.send({ $: 'Link', id: bin(L('third')), room_id: bin(roomId), status: 'add' })
      await owner.next(isLink('add', L('third')))
      await owner.send({ $: 'Link', id: bin(L('fourth')), room_id: bin(roomId), status: 'add' })
      await owner.next(isErrors('LNKIE3'))
      await owner.send({ $: 'Link', id: bin(L('nowhere')), room_id: bin('no-room'), status: 'add' })
      await owner.next(isErrors('RCHIE2'))
      await owner.send({ $: 'Link', id: bin('?'), room_id: bin(roomId), status: 'add' })
      await owner.next(isErrors('LNKIE1'))
      await owner.send({ $: 'Room', id: bin(roomId), status: 'get' })
      const room = await owner.next((r) => r.$ === 'Room' && r.status === 'get')
      assert.deepEqual(room.links.map((l: Rec) => str(l.id)), [L('first'), L('second'), L('third')])
    })

    test('get resolves a link for anyone; join by it makes the guest a member who then receives the room', async () => {
      await guest.send({ $: 'Link', id: bin(L('first')), status: 'get' })
      const l = await guest.next(isLink('get'))
      assert.deepEqual([str(l.room_id), str(l.name)], [roomId, 'first link'])
      await guest.send({ $: 'Link', id: bin(L('first')), type: 'group', status: 'join' })
      const joined = await guest.next((r) => r.$ === 'Room' && r.status === 'joined')
      assert.equal(str(joined.id), roomId)
      assert.deepEqual(joined.members.map((m: Rec) => str(m.phone_id)).sort(), [roster(1), roster(2), roster(3)])
      const told = await owner.next((r) => r.$ === 'Room' && r.status === 'join')
      assert.deepEqual(told.members.map((m: Rec) => str(m.phone_id)), [roster(3)])
      await plain.next((r) => r.$ === 'Message' && str(r.files?.[0]?.payload) === `${phone(3)} joined`)
      const probe: Rec = { $: 'Message', id: 7, feed_id: { $: 'muc', name: bin(roomId) }, files: [{ $: 'Desc', payload: bin('hello guest') }] }
      await h.bus.publish(roomTopic(roomId), guest.wire.encode(probe), { qos: 2 })
      await guest.next((r) => r.$ === 'Message' && str(r.files?.[0]?.payload) === 'hello guest')
      // joining again: the room back, nobody told twice
      await guest.send({ $: 'Link', id: bin(L('first')), type: 'group', status: 'join' })
      await guest.next((r) => r.$ === 'Room' && r.status === 'joined')
      assert.equal(await owner.quiet((r) => r.$ === 'Room' && r.status === 'join'), true)
      await guest.send({ $: 'Link', id: bin(L('nope')), status: 'get' })
      await guest.next(isErrors('LNKIE4'))
    })

    test('update: the name, by an admin, for the room that has it; delete: then get and join are LNKIE4', async () => {
      await plain.send({ $: 'Link', id: bin(L('second')), room_id: bin(roomId), name: bin('x'), status: 'update' })
      await plain.next(isErrors('permissions_denied'))
      await owner.send({ $: 'Link', id: bin(L('second')), room_id: bin('other'), name: bin('x'), status: 'update' })
      await owner.next(isErrors('LNKIE4'))
      await owner.send({ $: 'Link', id: bin(L('second')), room_id: bin(roomId), name: bin('renamed'), status: 'update' })
      assert.equal(str((await plain.next(isLink('update', L('second')))).name), 'renamed')
      await guest.send({ $: 'Link', id: bin(L('second')), status: 'get' })
      assert.equal(str((await guest.next(isLink('get'))).name), 'renamed')

      await plain.send({ $: 'Link', id: bin(L('second')), type: 'group', status: 'delete' })
      await plain.next(isErrors('permissions_denied'))
      await owner.send({ $: 'Link', id: bin(L('second')), type: 'group', status: 'delete' })
      await plain.next(isLink('delete', L('second')))
      await guest.send({ $: 'Link', id: bin(L('second')), status: 'get' })
      await guest.next(isErrors('LNKIE4'))
      await guest.send({ $: 'Link', id: bin(L('second')), status: 'join' })
      await guest.next(isErrors('LNKIE4'))
      // the freed text may be used again, and the room has room for it
      await owner.send({ $: 'Link', id: bin(L('second')), room_id: bin(roomId), status: 'add' })
      await owner.next(isLink('add', L('second')))
    })

    test('a deleted room takes its links with it', async () => {
      await owner.send({ $: 'Room', name: bin('short'), type: 'group', admins: [member(roster(1))], links: [{ $: 'Link', id: bin(L('brief')) }], status: 'create' })
      const id = str((await owner.next((r) => r.$ === 'Room' && r.status === 'create' && str(r.name) === 'short')).id)
      await owner.send({ $: 'Room', id: bin(id), status: 'leave' })
      await eventually(async () => (await h.synrc.synrc!.stores.rooms.get(id)) === undefined, 'the room removed')
      await guest.send({ $: 'Link', id: bin(L('brief')), status: 'get' })
      await guest.next(isErrors('LNKIE4'))
    })

    test('two rooms claim one link text at once: one gets it, the other LNKIE2', async () => {
      const make = async (c: SynrcClient, n: number, name: string) => {
        await c.send({ $: 'Room', name: bin(name), type: 'group', admins: [member(roster(n))], status: 'create' })
        return str((await c.next((r) => r.$ === 'Room' && r.status === 'create' && str(r.name) === name)).id)
      }
      const [r1, r2] = [await make(owner, 1, 'race one'), await make(plain, 2, 'race two')]
      await Promise.all([
        owner.send({ $: 'Link', id: bin(L('contested')), room_id: bin(r1), status: 'add' }),
        plain.send({ $: 'Link', id: bin(L('contested')), room_id: bin(r2), status: 'add' }),
      ])
      const got = await Promise.all([owner, plain].map((c) => c.next((r) => isLink('add', L('contested'))(r) || isErrors('LNKIE2')(r))))
      assert.deepEqual(got.map((r) => r.$).sort(), ['Link', 'errors'])
      const l = await h.synrc.synrc!.stores.rooms.link(L('contested'))
      assert.equal(l!.room_id, got[0].$ === 'Link' ? r1 : r2)
    })

    if (layout === 'legacy') {
      test('gen (layout B): Herald picks a valid link text for the room', async () => {
        await owner.send({ $: 'Room', name: bin('gen'), type: 'group', admins: [member(roster(1))], status: 'create' })
        const id = str((await owner.next((r) => r.$ === 'Room' && r.status === 'create' && str(r.name) === 'gen')).id)
        await owner.send({ $: 'Link', room_id: bin(id), status: 'gen' })
        const l = await owner.next(isLink('gen'))
        assert.match(str(l.id), /^[a-zA-Z0-9_]{2,48}$/)
        assert.equal(str(l.room_id), id)
      })
    }
  })
}
