// The SYNRC store contract (issue 12 §5, issue 9 §6): the stores of src/dialects/synrc/store driven directly on a
// migrated database, the same assertions on SQLite and PostgreSQL. Devices and registrations (AuthStore), rosters,
// friendships and rooms with their members.
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { migrate, openStore, type Store } from '../../src/core/store/db.ts'
import { synrcMigrations } from '../../src/dialects/synrc/migrations.ts'
import { AuthStore } from '../../src/dialects/synrc/store/auth.ts'
import { FriendStore } from '../../src/dialects/synrc/store/friends.ts'
import { RoomStore } from '../../src/dialects/synrc/store/rooms.ts'
import { phoneOfRoster, rosterIdOf, RosterStore } from '../../src/dialects/synrc/store/rosters.ts'
import { createPgSchema, dropPgSchema, pgUrlForSchema } from '../helpers.ts'

/** a millisecond timestamp past 2^32 (BIGINT columns; PostgreSQL's int8 comes back as a number) */
const T0 = 1_764_000_000_000

export function synrcStoreContract(kind: 'sqlite' | 'postgres', opts: { skip?: string | false }): void {
  describe(`SYNRC stores on ${kind}`, opts, () => {
    let dataDir: string
    let schema: string | undefined
    let store: Store
    let auth: AuthStore, rosters: RosterStore, friends: FriendStore, rooms: RoomStore

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

    test('two creates of one room id at once: one room, with one creator\'s members', async () => {
      const room = (name: string) => ({ id: 'room-race', name, description: '', type: 'group', doc: '', created: T0, update_at: T0 })
      const results = await Promise.allSettled([
        rooms.create(room('A'), [{ roster_id: 'r_a', role: 'owner', muted: 0, joined: T0 }]),
        rooms.create(room('B'), [{ roster_id: 'r_b', role: 'owner', muted: 0, joined: T0 }]),
      ])
      assert.ok(results.some((r) => r.status === 'fulfilled'))
      const got = (await rooms.get('room-race'))!
      const owners = (await rooms.members('room-race')).map((m) => m.roster_id)
      assert.deepEqual(owners, [got.name === 'A' ? 'r_a' : 'r_b'])
    })
  })
}
