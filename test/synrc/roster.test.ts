// synrc §6.3 ROSTER with real mqtt.js clients: get, patch and nick (the nick index: unique case-insensitively,
// invalid_nick, nick when taken) to devices/<phone> and as a Contact to the friends, list, create, add, del,
// remove; another user's roster answers as a missing one. Both layouts.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { Rec } from '../../src/dialects/synrc/wire.ts'
import { bin, register, startSynrc, str, type SynrcClient, type SynrcHerald } from './client.ts'
import { eventually, PG_URL, pgAvailable, requireService } from '../helpers.ts'

const isContact = (id: string, status: string | null) => (r: Rec) => r.$ === 'Contact' && str(r.phone_id) === id && r.status === status
const isRoster = (status: string) => (r: Rec) => r.$ === 'Roster' && r.status === status
const isIo = (r: Rec) => r.$ === 'io'

// the store-heavy flows once more on PostgreSQL (skipped without it, except under CI=true)
const pg = requireService(await pgAvailable(), `PostgreSQL at ${PG_URL}`)
const RUNS = [{ layout: 'a', db: 'sqlite' }, { layout: 'legacy', db: 'sqlite' }, { layout: 'a', db: 'postgres' }] as const

for (const { layout, db } of RUNS) {
  describe(`SYNRC ROSTER (layout ${layout}, ${db})`, db === 'postgres' ? pg : {}, () => {
    let h: SynrcHerald
    /** register() returns at CONNACK; a request sent before Herald has seen the connect would be dropped */
    const ready = (c: SynrcClient) => eventually(() => h.synrc.service!.isConnected(c.clientId), `${c.clientId} connected`)
    const open: SynrcClient[] = []
    const phone = (n: number) => `38050${layout === 'a' ? 1 : 2}2${String(n).padStart(5, '0')}`

    async function user(n: number, devices = 1): Promise<{ id: string; phone: string; d: SynrcClient[] }> {
      const d: SynrcClient[] = []
      for (let i = 1; i <= devices; i++) {
        const { device } = await register(h, phone(n), `d${i}`)
        await ready(device)
        open.push(device)
        d.push(device)
      }
      return { id: `${phone(n)}_1`, phone: phone(n), d }
    }
    async function befriend(a: { id: string; d: SynrcClient[] }, b: { id: string; d: SynrcClient[] }): Promise<void> {
      await a.d[0].send({ $: 'Friend', phone_id: bin(a.id), friend_id: bin(b.id), status: 'request' })
      await b.d[0].next(isContact(a.id, 'authorization'))
      await b.d[0].send({ $: 'Friend', phone_id: bin(b.id), friend_id: bin(a.id), status: 'confirm' })
      await b.d[0].next(isIo)
      await a.d[0].next(isContact(b.id, 'friend'))
      await b.d[0].next(isContact(a.id, 'friend'))
    }
    const code = async (c: SynrcClient) => { const io = await c.next(isIo); return [io.code.$, io.code.code] }

    before(async () => { h = await startSynrc({ layout, db }) })
    after(async () => {
      for (const c of open) c.mqtt.end(true)
      await h.close()
    })

    test('get: the roster with its contacts (friend, with presence); another user\'s roster is roster_not_found', async () => {
      const a = await user(1)
      const b = await user(2)
      await befriend(a, b)
      await a.d[0].send({ $: 'Roster', id: bin(a.id), status: 'get' })
      const r = await a.d[0].next(isRoster('get'))
      assert.deepEqual([str(r.id), str(r.phone)], [a.id, a.phone])
      assert.deepEqual(r.userlist.map((c: Rec) => [str(c.phone_id), c.status, c.presence]), [[b.id, 'friend', 'online']])
      await a.d[0].send({ $: 'Roster', id: bin(b.id), status: 'get' })
      assert.deepEqual(await code(a.d[0]), ['error', 'roster_not_found'])
    })

    test('nick: the Roster to every own device, a Contact to the friend; taken (any case) → {error,nick}; bad → invalid_nick', async () => {
      const a = await user(3, 2)
      const b = await user(4)
      await befriend(a, b)
      await a.d[0].send({ $: 'Roster', nick: bin('alice_3'), status: 'nick' })
      for (const d of a.d) assert.equal(str((await d.next(isRoster('nick'))).nick), 'alice_3')
      assert.equal(str((await b.d[0].next(isContact(a.id, 'friend'))).nick), 'alice_3')
      // the 2023 stub's atom nickid is the same request; the own nick again is fine
      await a.d[1].send({ $: 'Roster', nick: bin('alice_3'), status: 'nickid' })
      await a.d[1].next(isRoster('nick'))
      await b.d[0].send({ $: 'Roster', nick: bin('ALICE_3'), status: 'nick' })
      assert.deepEqual(await code(b.d[0]), ['error', 'nick'])
      for (const bad of ['a', 'has space', 'x'.repeat(49), 'ünï']) {
        await b.d[0].send({ $: 'Roster', nick: bin(bad), status: 'nick' })
        assert.deepEqual(await code(b.d[0]), ['error', 'invalid_nick'], bad)
      }
      await b.d[0].send({ $: 'Roster', status: 'nick' })
      assert.deepEqual(await code(b.d[0]), ['error', 'invalid_nick'])
      await b.d[0].send({ $: 'Roster', id: bin(a.id), nick: bin('bob_4'), status: 'nick' })
      assert.deepEqual(await code(b.d[0]), ['error', 'not_found'])
      // a freed nick can be taken
      await a.d[0].send({ $: 'Roster', nick: bin('alice_3b'), status: 'nick' })
      await a.d[0].next(isRoster('nick'))
      await b.d[0].send({ $: 'Roster', nick: bin('Alice_3'), status: 'nick' })
      assert.equal(str((await b.d[0].next(isRoster('nick'))).nick), 'Alice_3')
    })

    test('patch: names, surnames, email, avatar to devices/<phone> and as a Contact to contacts/<rosterId>; a taken nick, a long field, another\'s id', async () => {
      const a = await user(5, 2)
      const b = await user(6)
      await befriend(a, b)
      await b.d[0].send({ $: 'Roster', nick: bin('taken_6'), status: 'nick' })
      await b.d[0].next(isRoster('nick'))
      await a.d[1].send({ $: 'Roster', id: bin(a.id), names: bin('Ann'), surnames: bin('Lee'), email: bin('ann@example.org'), avatar: bin('https://a/1.png'), status: 'patch' })
      for (const d of a.d) {
        const r = await d.next(isRoster('patch'))
        assert.deepEqual([str(r.names), str(r.surnames), str(r.email), str(r.avatar)], ['Ann', 'Lee', 'ann@example.org', 'https://a/1.png'])
      }
      const c = await a.d[0].quiet(isContact(a.id, 'friend'), 200)
      assert.equal(c, true, 'the owner does not follow its own contacts/ topic')
      const ct = await b.d[0].next(isContact(a.id, 'friend'))
      assert.deepEqual([str(ct.names), str(ct.surnames), str(ct.avatar)], ['Ann', 'Lee', 'https://a/1.png'])
      await a.d[0].send({ $: 'Roster', nick: bin('taken_6'), status: 'patch' })
      assert.deepEqual(await code(a.d[0]), ['error', 'nick'])
      await a.d[0].send({ $: 'Roster', names: bin('n'.repeat(300)), status: 'patch' })
      assert.deepEqual(await code(a.d[0]), ['error', 'invalid_data'])
      await a.d[0].send({ $: 'Roster', id: bin(b.id), names: bin('Evil'), status: 'patch' })
      assert.deepEqual(await code(a.d[0]), ['error', 'not_found'])
      await b.d[0].send({ $: 'Roster', status: 'get' })
      assert.equal(str((await b.d[0].next(isRoster('get'))).names ?? bin('')), '')
    })

    test('list {io,[Roster],<<>>}; add {ok,added} / already_present / contacts_not_found; del {ok2,removed,List} / contacts_not_found', async () => {
      const a = await user(7)
      const b = await user(8)
      const d = a.d[0]
      await d.send({ $: 'Roster', status: 'list' })
      const list = await d.next(isIo)
      assert.deepEqual(list.code.map((r: Rec) => [r.$, str(r.id)]), [['Roster', a.id]])
      const contact = (id: string) => ({ $: 'Contact', phone_id: bin(id) })
      await d.send({ $: 'Roster', userlist: [contact(b.id)], status: 'add' })
      assert.deepEqual(await code(d), ['ok', 'added'])
      await d.send({ $: 'Roster', userlist: [contact(b.id)], status: 'add' })
      const present = await d.next(isIo)
      assert.deepEqual([present.code.$, present.code.code, present.code.src.map(str)], ['ok', 'already_present', [b.id]])
      await d.send({ $: 'Roster', userlist: [contact(`${phone(98)}_1`)], status: 'add' })
      assert.deepEqual(await code(d), ['error', 'contacts_not_found'])
      await d.send({ $: 'Roster', status: 'get' })
      assert.deepEqual((await d.next(isRoster('get'))).userlist.map((c: Rec) => [str(c.phone_id), c.status, c.presence]), [[b.id, 'internal', null]])
      await d.send({ $: 'Roster', userlist: [contact(b.id)], status: 'del' })
      const removed = await d.next(isIo)
      assert.deepEqual([removed.code.$, removed.code.code, removed.code.src.map(str)], ['ok', 'removed', [b.id]])
      await d.send({ $: 'Roster', userlist: [contact(b.id)], status: 'del' })
      assert.deepEqual(await code(d), ['error', 'contacts_not_found'])
      await d.send({ $: 'Roster', id: bin(b.id), userlist: [contact(a.id)], status: 'add' })
      assert.deepEqual(await code(d), ['error', 'roster_not_found'])
      await d.send({ $: 'Roster', status: 'search' })
      assert.deepEqual(await code(d), ['error', 'invalid_data'])
    })

    test('remove: {ok,removed}, Contact{remove} to the friends, the friendship gone; then roster_not_found / profile_not_found; create makes it again', async () => {
      const a = await user(9)
      const b = await user(10)
      await befriend(a, b)
      await a.d[0].send({ $: 'Roster', nick: bin('gone_9'), status: 'nick' })
      await a.d[0].next(isRoster('nick'))
      await a.d[0].send({ $: 'Roster', id: bin(b.id), status: 'remove' })
      assert.deepEqual(await code(a.d[0]), ['error', 'roster_not_found'])
      await a.d[0].send({ $: 'Roster', id: bin(a.id), status: 'remove' })
      assert.deepEqual(await code(a.d[0]), ['ok', 'removed'])
      await b.d[0].next(isContact(a.id, 'remove'))
      await a.d[0].send({ $: 'Roster', status: 'get' })
      assert.deepEqual(await code(a.d[0]), ['error', 'roster_not_found'])
      await a.d[0].send({ $: 'Roster', status: 'remove' })
      assert.deepEqual(await code(a.d[0]), ['error', 'profile_not_found'])
      await a.d[0].send({ $: 'Roster', status: 'list' })
      assert.deepEqual(await code(a.d[0]), ['error', 'profile_not_found'])
      await b.d[0].send({ $: 'Roster', status: 'get' })
      assert.deepEqual((await b.d[0].next(isRoster('get'))).userlist, [])
      // the nick was freed with the roster
      await b.d[0].send({ $: 'Roster', nick: bin('gone_9'), status: 'nick' })
      await b.d[0].next(isRoster('nick'))
      await a.d[0].send({ $: 'Roster', names: bin('Again'), status: 'create' })
      const r = await a.d[0].next(isRoster('create'))
      assert.deepEqual([str(r.id), str(r.names), r.nick, r.userlist], [a.id, 'Again', null, []])
    })
  })
}
