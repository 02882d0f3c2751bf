// The SYNRC store contract (issue 12 §5, issue 9 §6): the stores of src/dialects/synrc/store driven directly on a
// migrated database, the same assertions on SQLite and PostgreSQL. Devices and registrations (AuthStore), rosters with
// the nick index and profiles, friendships, rooms with their members and links, stars and tags, message feeds (chains, pages, readers, sticker
// packs) and the delivery queue of delete after ack.
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { migrate, openStore, type Store } from '../../src/core/store/db.ts'
import { synrcMigrations } from '../../src/dialects/synrc/migrations.ts'
import { AuthStore } from '../../src/dialects/synrc/store/auth.ts'
import { DeliveryStore } from '../../src/dialects/synrc/store/deliveries.ts'
import { FriendStore } from '../../src/dialects/synrc/store/friends.ts'
import { MessageStore, type MessageRow, type NewMessage } from '../../src/dialects/synrc/store/messages.ts'
import { MAX_LINKS, RoomStore } from '../../src/dialects/synrc/store/rooms.ts'
import { phoneOfRoster, rosterIdOf, RosterStore } from '../../src/dialects/synrc/store/rosters.ts'
import { createPgSchema, dropPgSchema, pgUrlForSchema } from '../helpers.ts'

/** a millisecond timestamp past 2^32 (BIGINT columns; PostgreSQL's int8 comes back as a number) */
const T0 = 1_764_000_000_000

const msg = (feed: string, author: string, f: Partial<NewMessage> = {}): NewMessage => ({
  feed, msg_id: null, author, recipient: '', created: T0, status: 'sent', types: '', link_id: null, kinds: ',text,', body: '', update_at: T0, ...f,
})

/** the feed's chain walked from its top by prev, each link checked both ways */
async function chain(messages: MessageStore, feed: string): Promise<number[]> {
  const ids: number[] = []
  let next: number | null = null
  for (let id: number | null = await messages.top(feed) || null; id !== null;) {
    const m: MessageRow = (await messages.get(id))!
    assert.equal(m.next, next, `message ${id}: next`)
    ids.unshift(id)
    next = id
    id = m.prev
  }
  return ids
}

export function synrcStoreContract(kind: 'sqlite' | 'postgres', opts: { skip?: string | false }): void {
  describe(`SYNRC stores on ${kind}`, opts, () => {
    let dataDir: string
    let schema: string | undefined
    let store: Store
    let auth: AuthStore, rosters: RosterStore, friends: FriendStore, rooms: RoomStore
    let messages: MessageStore, deliveries: DeliveryStore

    before(async () => {
      if (opts.skip) return
      dataDir = mkdtempSync(join(tmpdir(), 'herald-synrc-store-'))
      if (kind === 'postgres') schema = await createPgSchema()
      store = openStore({ dataDir, databaseUrl: schema ? pgUrlForSchema(schema) : '' })
      await migrate(store.db, 'synrc', synrcMigrations)
      // a second run finds every migration applied and changes nothing
      await migrate(store.db, 'synrc', synrcMigrations)
      auth = new AuthStore(store.db)
      rosters = new RosterStore(store.db)
      friends = new FriendStore(store.db)
      rooms = new RoomStore(store.db)
      messages = new MessageStore(store.db)
      deliveries = new DeliveryStore(store.db)
    })
    after(async () => {
      await store?.close()
      if (schema) await dropPgSchema(schema)
      if (dataDir) rmSync(dataDir, { recursive: true, force: true })
    })

    const reg = (clientId: string, phone: string, code = '123456') =>
      auth.register({ client_id: clientId, phone, dev_key: 'k', sms_code: code, code_expires: T0 + 600_000, created: T0 })

    test('§6.1 a registration: no token, not a device; registering again resets the code and the attempts', async () => {
      await reg('reg_380679000041_k', '380679000041')
      let row = (await auth.byClient('reg_380679000041_k'))!
      assert.deepEqual([row.token, row.phone, row.dev_key, row.sms_code, row.attempts, row.code_expires, row.created],
        [null, '380679000041', 'k', '123456', 0, T0 + 600_000, T0])
      assert.equal(typeof row.created, 'number')
      assert.deepEqual(await auth.devices('380679000041'), [])
      await auth.failedAttempt('reg_380679000041_k')
      await auth.failedAttempt('reg_380679000041_k')
      assert.equal((await auth.byClient('reg_380679000041_k'))!.attempts, 2)
      await reg('reg_380679000041_k', '380679000041', '654321')
      row = (await auth.byClient('reg_380679000041_k'))!
      assert.deepEqual([row.sms_code, row.attempts], ['654321', 0])
      await auth.failedAttempt('reg_380679000041_k')
      await auth.setCode('reg_380679000041_k', '111111', T0 + 1)
      row = (await auth.byClient('reg_380679000041_k'))!
      assert.deepEqual([row.sms_code, row.attempts, row.code_expires], ['111111', 0, T0 + 1])
    })

    test('§6.1 verified: the registration row becomes a device row with a token; devices in order of creation', async () => {
      const phone = '380679000042'
      for (const [i, dev] of ['a', 'b'].entries()) {
        await reg(`reg_${phone}_${dev}`, phone)
        await auth.verified(`reg_${phone}_${dev}`, { client_id: `emqttd_${phone}_${dev}`, token: `tok-${phone}-${dev}`, phone, dev_key: dev, created: T0 + i })
        assert.equal(await auth.byClient(`reg_${phone}_${dev}`), undefined)
      }
      const devices = await auth.devices(phone)
      assert.deepEqual(devices.map((d) => [d.client_id, d.token, d.last_online]), [
        [`emqttd_${phone}_a`, `tok-${phone}-a`, T0], [`emqttd_${phone}_b`, `tok-${phone}-b`, T0 + 1],
      ])
      assert.equal((await auth.byToken(`tok-${phone}-b`))!.client_id, `emqttd_${phone}_b`)
      // the same device verified again: one row, the old token no longer logs in
      await reg(`reg_${phone}_a`, phone)
      await auth.verified(`reg_${phone}_a`, { client_id: `emqttd_${phone}_a`, token: `tok-${phone}-a2`, phone, dev_key: 'a', created: T0 + 5 })
      assert.equal(await auth.byToken(`tok-${phone}-a`), undefined)
      assert.deepEqual((await auth.devices(phone)).map((d) => d.token), [`tok-${phone}-b`, `tok-${phone}-a2`])
    })

    test('§7 Auth key token: two devices cannot share one token', async () => {
      const phone = '380679000043'
      await reg(`reg_${phone}_a`, phone)
      await auth.verified(`reg_${phone}_a`, { client_id: `emqttd_${phone}_a`, token: 'same-token', phone, dev_key: 'a', created: T0 })
      await reg(`reg_${phone}_b`, phone)
      await assert.rejects(auth.verified(`reg_${phone}_b`, { client_id: `emqttd_${phone}_b`, token: 'same-token', phone, dev_key: 'b', created: T0 }))
      // the failed transaction left the registration in place
      assert.ok(await auth.byClient(`reg_${phone}_b`))
      assert.equal(await auth.byClient(`emqttd_${phone}_b`), undefined)
    })

    test('§6.1 Auth/push, last seen, logout', async () => {
      const phone = '380679000044'
      await reg(`reg_${phone}_a`, phone)
      await auth.verified(`reg_${phone}_a`, { client_id: `emqttd_${phone}_a`, token: `tok-${phone}`, phone, dev_key: 'a', created: T0 })
      const long = 'p'.repeat(4096)
      await auth.setPush(`emqttd_${phone}_a`, long, 'ios')
      await auth.seen(`emqttd_${phone}_a`, T0 + 99)
      const row = (await auth.byClient(`emqttd_${phone}_a`))!
      assert.deepEqual([row.push, row.os, row.last_online], [long, 'ios', T0 + 99])
      await auth.remove(`emqttd_${phone}_a`)
      assert.equal(await auth.byToken(`tok-${phone}`), undefined)
      assert.deepEqual(await auth.devices(phone), [])
    })

    test('§6.3 one roster per phone, `<phone>_1`; ensure keeps the first one', async () => {
      const phone = '380679000045'
      assert.equal(await rosters.get(rosterIdOf(phone)), undefined)
      const r = await rosters.ensure(phone, T0)
      assert.deepEqual([r.id, r.phone, r.names, r.nick, r.created, r.update_at], [`${phone}_1`, phone, '', null, T0, T0])
      await rosters.ensure(phone, T0 + 10)
      assert.equal((await rosters.get(r.id))!.created, T0)
      assert.deepEqual((await rosters.byPhone(phone)).map((x) => x.id), [r.id])
      assert.equal(phoneOfRoster(r.id), phone)
    })

    test('§6.4 friendships: one row per direction; friends only when both say friend; mute; remove', async () => {
      const [a, b, c] = ['380679000046_1', '380679000047_1', '380679000048_1']
      await friends.set(a, b, 'request', T0)
      await friends.set(b, a, 'authorization', T0)
      assert.equal(await friends.areFriends(a, b), false)
      await friends.set(a, b, 'friend', T0 + 1)
      assert.equal(await friends.areFriends(a, b), false, 'one side only')
      await friends.set(b, a, 'friend', T0 + 1)
      assert.equal(await friends.areFriends(a, b), true)
      assert.equal(await friends.areFriends(b, a), true)
      await friends.set(a, c, 'request', T0)
      assert.deepEqual((await friends.of(a)).map((f) => [f.friend_id, f.status]), [[b, 'friend'], [c, 'request']])
      assert.deepEqual((await friends.of(a, 'request')).map((f) => f.friend_id), [c])
      await friends.setMuted(a, b, true, T0 + 2)
      assert.deepEqual([(await friends.get(a, b))!.muted, (await friends.get(b, a))!.muted], [1, 0])
      await friends.remove(a, b)
      assert.equal(await friends.get(a, b), undefined)
      assert.equal(await friends.areFriends(a, b), false)
    })

    test('§6.8 rooms: created once with its members; another create of the id changes nothing', async () => {
      const room = { id: 'room-1', name: 'One', description: 'd', type: 'group', doc: '', created: T0, update_at: T0 }
      await rooms.create(room, [
        { roster_id: 'r_owner', role: 'owner', muted: 0, joined: T0 },
        { roster_id: 'r_b', role: 'member', muted: 0, joined: T0 + 1 },
      ])
      await rooms.create({ ...room, name: 'Other' }, [{ roster_id: 'r_c', role: 'owner', muted: 0, joined: T0 }])
      assert.equal((await rooms.get('room-1'))!.name, 'One')
      assert.deepEqual((await rooms.members('room-1')).map((m) => [m.roster_id, m.role]), [['r_owner', 'owner'], ['r_b', 'member']])
      assert.equal(await rooms.isMember('room-1', 'r_c'), false)
      await rooms.update('room-1', { name: 'Renamed', update_at: T0 + 5 })
      const got = (await rooms.get('room-1'))!
      assert.deepEqual([got.name, got.description, got.update_at], ['Renamed', 'd', T0 + 5])
    })

    test('§6.8 members: add (again: the role changes), mute, remove; the rooms of a roster; delete takes the members', async () => {
      await rooms.create({ id: 'room-2', name: 'Two', description: '', type: 'channel', doc: '', created: T0, update_at: T0 }, [
        { roster_id: 'r_owner', role: 'owner', muted: 0, joined: T0 },
      ])
      await rooms.addMember({ room_id: 'room-2', roster_id: 'r_x', role: 'member', muted: 0, joined: T0 + 1 })
      await rooms.addMember({ room_id: 'room-2', roster_id: 'r_x', role: 'admin', muted: 0, joined: T0 + 2 })
      let x = (await rooms.member('room-2', 'r_x'))!
      assert.deepEqual([x.role, x.joined], ['admin', T0 + 1])
      await rooms.setMember('room-2', 'r_x', { muted: 1 })
      x = (await rooms.member('room-2', 'r_x'))!
      assert.deepEqual([x.role, x.muted], ['admin', 1])
      assert.deepEqual(await rooms.roomsOf('r_owner'), ['room-1', 'room-2'])
      await rooms.removeMember('room-2', 'r_x')
      assert.equal(await rooms.isMember('room-2', 'r_x'), false)
      await rooms.remove('room-2')
      assert.equal(await rooms.get('room-2'), undefined)
      assert.deepEqual(await rooms.members('room-2'), [])
      assert.deepEqual(await rooms.roomsOf('r_owner'), ['room-1'])
    })

    test('two creates of one room id at once: one is created, the other told the id is taken (RCHIE1)', async () => {
      const room = (name: string) => ({ id: 'room-race', name, description: '', type: 'group', doc: '', created: T0, update_at: T0 })
      const results = await Promise.all([
        rooms.create(room('A'), [{ roster_id: 'r_a', role: 'owner', muted: 0, joined: T0 }]),
        rooms.create(room('B'), [{ roster_id: 'r_b', role: 'owner', muted: 0, joined: T0 }]),
      ])
      assert.deepEqual([...results].sort(), ['created', 'room'])
      const got = (await rooms.get('room-race'))!
      assert.deepEqual((await rooms.members('room-race')).map((m) => m.roster_id), [results[0] === 'created' ? 'r_a' : 'r_b'])
      assert.equal(got.name, results[0] === 'created' ? 'A' : 'B')
    })

    test('§6.9 links: unique over all rooms, at most MAX_LINKS a room, made with the room; gone with it', async () => {
      const room = (id: string) => ({ id, name: id, description: '', type: 'group', doc: '', created: T0, update_at: T0 })
      const owner = [{ roster_id: 'r_l', role: 'owner', muted: 0, joined: T0 }]
      assert.equal(await rooms.create(room('room-l1'), owner, [{ id: 'join-one', name: 'One', type: null, created: T0 }]), 'created')
      assert.equal(await rooms.create(room('room-l2'), owner, [{ id: 'join-one', name: 'Again', type: null, created: T0 }]), 'link')
      assert.equal(await rooms.get('room-l2'), undefined, 'a create refused for its link leaves nothing')
      assert.equal(await rooms.create(room('room-l2'), owner), 'created')
      assert.equal(await rooms.addLink({ id: 'join-one', room_id: 'room-l2', name: '', type: null, created: T0 }), 'taken')
      for (let i = 2; i <= MAX_LINKS; i++) {
        assert.equal(await rooms.addLink({ id: `join-${i}`, room_id: 'room-l1', name: '', type: null, created: T0 + i }), 'added')
      }
      assert.equal(await rooms.addLink({ id: 'join-extra', room_id: 'room-l1', name: '', type: null, created: T0 + 9 }), 'max')
      assert.deepEqual((await rooms.linksOf('room-l1')).map((l) => l.id), ['join-one', ...Array.from({ length: MAX_LINKS - 1 }, (_, i) => `join-${i + 2}`)])
      const claims = await Promise.all([
        rooms.addLink({ id: 'join-race', room_id: 'room-l2', name: '', type: null, created: T0 }),
        rooms.addLink({ id: 'join-race', room_id: 'room-l2', name: '', type: null, created: T0 }),
      ])
      assert.deepEqual([...claims].sort(), ['added', 'taken'])
      // six different links into one room at once: MAX_LINKS of them get in, the room's row serializes them
      assert.equal(await rooms.create(room('room-l3'), owner), 'created')
      const many = await Promise.all(Array.from({ length: 6 }, (_, i) => rooms.addLink({ id: `join-many-${i}`, room_id: 'room-l3', name: '', type: null, created: T0 })))
      assert.deepEqual(many.filter((r) => r === 'added').length, MAX_LINKS)
      assert.equal((await rooms.linksOf('room-l3')).length, MAX_LINKS)
      await rooms.updateLink('join-one', { name: 'Renamed', type: 'public' })
      const l = (await rooms.link('join-one'))!
      assert.deepEqual([l.room_id, l.name, l.type], ['room-l1', 'Renamed', 'public'])
      await rooms.removeLink('join-2')
      assert.equal(await rooms.link('join-2'), undefined)
      await rooms.remove('room-l1')
      assert.deepEqual(await rooms.linksOf('room-l1'), [])
      assert.equal(await rooms.link('join-one'), undefined, 'the text is free again')
    })

    test('§6.8 Member/patch: alias, avatar, names, surnames of one room (null: the roster\'s)', async () => {
      await rooms.create({ id: 'room-p', name: 'P', description: '', type: 'group', doc: '', created: T0, update_at: T0 }, [
        { roster_id: 'r_p', role: 'member', muted: 0, joined: T0 },
      ])
      let m = (await rooms.member('room-p', 'r_p'))!
      assert.deepEqual([m.alias, m.avatar, m.names, m.surnames], [null, null, null, null])
      await rooms.setMember('room-p', 'r_p', { alias: 'Boss', avatar: 'a.png', names: 'N', surnames: 'S' })
      m = (await rooms.member('room-p', 'r_p'))!
      assert.deepEqual([m.alias, m.avatar, m.names, m.surnames, m.role], ['Boss', 'a.png', 'N', 'S', 'member'])
    })

    test('§6.11 stars and tags belong to one roster', async () => {
      const favs = rooms.favs
      assert.equal(await favs.nextStarId('r_f'), 1)
      await favs.setStar({ roster_id: 'r_f', id: 7, client_id: 'c7', doc: 'd1', created: T0 })
      await favs.setStar({ roster_id: 'r_f', id: 3, client_id: null, doc: 'd0', created: T0 + 1 })
      await favs.setStar({ roster_id: 'r_f', id: 7, client_id: 'c7', doc: 'd2', created: T0 + 5 })
      assert.deepEqual((await favs.stars('r_f')).map((s) => [s.id, s.doc, s.created]), [[7, 'd2', T0], [3, 'd0', T0 + 1]])
      assert.equal(await favs.nextStarId('r_f'), 8)
      assert.equal(await favs.star('r_other', 7), undefined)
      assert.equal(await favs.removeStar('r_other', 7), false)
      assert.equal(await favs.removeStar('r_f', 7), true)
      assert.deepEqual((await favs.stars('r_f')).map((s) => s.id), [3])
      assert.equal(await favs.createTag({ roster_id: 'r_f', name: 'work', color: 'red', created: T0 }), true)
      assert.equal(await favs.createTag({ roster_id: 'r_f', name: 'work', color: 'blue', created: T0 }), false)
      assert.equal(await favs.createTag({ roster_id: 'r_g', name: 'work', color: 'blue', created: T0 }), true)
      assert.equal(await favs.createTag({ roster_id: 'r_f', name: 'home', color: '', created: T0 }), true)
      assert.equal(await favs.editTag('r_f', 'work', 'green'), true)
      assert.equal(await favs.editTag('r_f', 'none', 'green'), false)
      assert.deepEqual((await favs.tags('r_f')).map((g) => [g.name, g.color]), [['home', ''], ['work', 'green']])
      assert.equal((await favs.tag('r_g', 'work'))!.color, 'blue')
      assert.equal(await favs.removeTag('r_f', 'work'), true)
      assert.equal(await favs.removeTag('r_f', 'work'), false)
    })

    test('§6.3 §7 Index{nick}: one nick per roster, compared case-insensitively; patch, profile, remove', async () => {
      const [a, b] = [await rosters.ensure('380679000081', T0), await rosters.ensure('380679000082', T0, { names: 'Bo' })]
      assert.equal(b.names, 'Bo')
      assert.equal(await rosters.setNick(a.id, 'Alice', T0 + 1), true)
      assert.equal(await rosters.setNick(b.id, 'alice', T0 + 1), false, 'taken in another case')
      assert.equal(await rosters.setNick(a.id, 'ALICE', T0 + 2), true, 'its own nick in another case')
      assert.equal((await rosters.byNick('aLiCe'))!.id, a.id)
      const race = await Promise.all([rosters.setNick(a.id, 'Zed', T0), rosters.setNick(b.id, 'Zed', T0)])
      assert.deepEqual(race.filter(Boolean).length, 1, 'two rosters asking for one nick at once: one gets it')
      await rosters.patch(b.id, { surnames: 'B', email: 'b@x' }, T0 + 3)
      const pb = (await rosters.get(b.id))!
      assert.deepEqual([pb.names, pb.surnames, pb.email, pb.update_at], ['Bo', 'B', 'b@x', T0 + 3])
      assert.deepEqual((await rosters.byPhones(['380679000082', '380679000081', '380679000089'])).map((r) => r.id), [a.id, b.id])
      assert.deepEqual(await rosters.byPhones([]), [])
      assert.equal(await rosters.profile('380679000081'), undefined)
      await rosters.setProfile('380679000081', { balance: 5 }, T0)
      await rosters.setProfile('380679000081', { settings: '[{"k":"v"}]' }, T0 + 1)
      const prof = (await rosters.profile('380679000081'))!
      assert.deepEqual([prof.balance, prof.settings, prof.update_at], [5, '[{"k":"v"}]', T0 + 1])
      await rosters.removeProfile('380679000081')
      await rosters.remove(a.id)
      assert.equal(await rosters.get(a.id), undefined)
      assert.equal(await rosters.profile('380679000081'), undefined)
    })

    test('§6.4 both rows of a pair at once; mutual friends; who lists a roster; a removed roster leaves no rows', async () => {
      const [a, b, c] = ['380679000083_1', '380679000084_1', '380679000085_1']
      await friends.setPair(a, 'request', b, 'authorization', T0)
      assert.deepEqual([(await friends.get(a, b))!.status, (await friends.get(b, a))!.status], ['request', 'authorization'])
      await friends.setPair(a, 'friend', b, 'friend', T0 + 1)
      await friends.setPair(a, 'friend', c, 'friend', T0 + 1)
      await friends.set(c, b, 'request', T0)
      assert.deepEqual(await friends.mutual(a), [b, c])
      assert.deepEqual(await friends.mutual(b), [a])
      assert.deepEqual((await friends.listedBy(b)).map((f) => [f.roster_id, f.status]), [[a, 'friend'], [c, 'request']])
      await friends.removePair(a, b)
      assert.deepEqual([await friends.get(a, b), await friends.get(b, a)], [undefined, undefined])
      await friends.removeAll(c)
      assert.deepEqual([await friends.of(c), await friends.listedBy(c)], [[], []])
      assert.deepEqual(await friends.mutual(a), [])
    })

    test('§7 chains: server ids, prev/next links, the feed top; pages in both directions, media kinds, cleared ids', async () => {
      const feed = 'p2p/380679000086_1/380679000087_1'
      const [m1, m2, m3] = [
        await messages.add(msg(feed, 'r1', { msg_id: 'c-1' })),
        await messages.add(msg(feed, 'r2', { kinds: ',image,' })),
        await messages.add(msg(feed, 'r1', { kinds: ',image,text,' })),
      ]
      assert.ok(m1.id < m2.id && m2.id < m3.id)
      assert.deepEqual([m1.prev, m2.prev, m3.prev], [null, m1.id, m2.id])
      assert.deepEqual(await chain(messages, feed), [m1.id, m2.id, m3.id])
      assert.equal((await messages.get(m1.id))!.msg_id, 'c-1')
      const ids = (rows: MessageRow[]) => rows.map((r) => r.id)
      assert.deepEqual(ids(await messages.page({ feed, from: 0, dir: 'back', limit: 2 })), [m3.id, m2.id])
      assert.deepEqual(ids(await messages.page({ feed, from: m2.id, dir: 'back', limit: 2 })), [m1.id])
      assert.deepEqual(ids(await messages.page({ feed, from: 0, dir: 'forward', limit: 10 })), [m1.id, m2.id, m3.id])
      assert.deepEqual(ids(await messages.page({ feed, from: m1.id, dir: 'forward', limit: 1 })), [m2.id])
      assert.deepEqual(ids(await messages.page({ feed, from: 0, dir: 'back', limit: 10, kind: 'image' })), [m3.id, m2.id])
      assert.deepEqual(ids(await messages.page({ feed, from: 0, dir: 'back', limit: 10, cleared: m2.id })), [m3.id])
      assert.equal(await messages.unread(feed, 'r2', m1.id), 1)
      assert.equal(await messages.unread(feed, 'r1', 0), 1)
      await messages.update(m2.id, { status: 'edit', body: 'B', update_at: T0 + 9 })
      assert.deepEqual([(await messages.get(m2.id))!.status, (await messages.get(m2.id))!.body], ['edit', 'B'])
      // out of the middle, then the top: neighbours re-linked, the top moves back
      await messages.remove(m2.id)
      assert.deepEqual(await chain(messages, feed), [m1.id, m3.id])
      await messages.remove(m3.id)
      assert.deepEqual(await chain(messages, feed), [m1.id])
      assert.equal(await messages.remove(m3.id), undefined)
      assert.equal((await messages.add(msg(feed, 'r2'))).prev, m1.id)
    })

    test('§7 chains: appends to one feed at once keep one unbroken chain', async () => {
      const feed = 'muc/race-room'
      const rows = await Promise.all(Array.from({ length: 12 }, (_, i) => messages.add(msg(feed, `r${i % 3}`))))
      assert.deepEqual(await chain(messages, feed), rows.map((r) => r.id).sort((x, y) => x - y))
    })

    test('§6.7 replies, read cursors, delivered once, sticker packs', async () => {
      const feed = 'muc/room-replies'
      const root = await messages.add(msg(feed, 'r1'))
      const reply = await messages.add(msg(feed, 'r2', { types: 'reply', link_id: root.id }))
      await messages.add(msg(feed, 'r2', { types: 'forward', link_id: root.id }))
      assert.deepEqual((await messages.replies(root.id)).map((r) => r.id), [reply.id])
      assert.deepEqual(await messages.replies(root.id, reply.id), [])
      assert.equal(await messages.reader('r1', feed), undefined)
      await messages.setReader('r1', feed, { pos: reply.id }, T0)
      await messages.setReader('r1', feed, { cleared: root.id }, T0 + 1)
      assert.deepEqual(await messages.reader('r1', feed), { roster_id: 'r1', feed, pos: reply.id, cleared: root.id, update_at: T0 + 1 })
      await messages.markDelivered(root.id, T0 + 5)
      await messages.markDelivered(root.id, T0 + 6)
      assert.equal((await messages.get(root.id))!.delivered, T0 + 5)
      const p1 = await messages.addStickerPack((id) => `pack-${id}`, T0)
      const p2 = await messages.addStickerPack((id) => `pack-${id}`, T0)
      assert.deepEqual(await messages.stickerPacks(10), [{ id: p2, body: `pack-${p2}` }, { id: p1, body: `pack-${p1}` }])
    })

    test('§6.6 delete after ack: one delivery per (device, message), acknowledged once; what a session does not hold', async () => {
      for (const d of ['d1', 'd2']) {
        await reg(`reg_380679000088_${d}`, '380679000088')
        await auth.verified(`reg_380679000088_${d}`, { client_id: `emqttd_${d}`, token: `tok-88-${d}`, phone: '380679000088', dev_key: d, created: T0 })
      }
      const m = await messages.add(msg('muc/room-acks', 'r1'), async (trx, row) => {
        await deliveries.enqueue([
          { client_id: 'emqttd_d1', message_id: row.id, session: 's1', created: T0 },
          { client_id: 'emqttd_d2', message_id: row.id, session: null, created: T0 },
        ], trx)
      })
      assert.equal(await deliveries.pendingFor(m.id), 2)
      // queued again (an edit): still one row, its session replaced
      await deliveries.enqueue([{ client_id: 'emqttd_d1', message_id: m.id, session: null, created: T0 + 1 }])
      assert.deepEqual(await deliveries.pendingOf('emqttd_d1'), [{ client_id: 'emqttd_d1', message_id: m.id, session: null, created: T0 + 1 }])
      assert.deepEqual(await deliveries.missed('emqttd_d1', 's2', 10), [m.id])
      await deliveries.held('emqttd_d1', [m.id], 's2')
      assert.deepEqual(await deliveries.missed('emqttd_d1', 's2', 10), [])
      assert.deepEqual(await deliveries.missed('emqttd_d1', 's3', 10), [m.id])
      assert.equal(await deliveries.ack('emqttd_d1', m.id), true)
      assert.equal(await deliveries.ack('emqttd_d1', m.id), false)
      assert.equal(await deliveries.pendingFor(m.id), 1)
      await deliveries.removeMessage(m.id)
      assert.equal(await deliveries.pendingFor(m.id), 0)
    })
  })
}
