// synrc §6.10 SEARCH with real mqtt.js clients: by nick (any case) and by a list of phones, answered
// {io,{ok,Ref},Roster{userlist=[Contact…],status=search}} with the searcher's relation as each Contact's status;
// whoever banned the searcher is not found; unsupported clauses are invalid_data. Both layouts.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { Rec } from '../../src/dialects/synrc/wire.ts'
import { bin, register, startSynrc, str, SynrcClient, type SynrcHerald } from './client.ts'
import { eventually, PG_URL, pgAvailable, requireService } from '../helpers.ts'

const isIo = (r: Rec) => r.$ === 'io'

// the store-heavy flows once more on PostgreSQL (skipped without it, except under CI=true)
const pg = requireService(await pgAvailable(), `PostgreSQL at ${PG_URL}`)
const RUNS = [{ layout: 'a', db: 'sqlite' }, { layout: 'legacy', db: 'sqlite' }, { layout: 'a', db: 'postgres' }] as const

for (const { layout, db } of RUNS) {
  describe(`SYNRC SEARCH (layout ${layout}, ${db})`, db === 'postgres' ? pg : {}, () => {
    let h: SynrcHerald
    /** register() returns at CONNACK; a request sent before Herald has seen the connect would be dropped */
    const ready = (c: SynrcClient) => eventually(() => h.synrc.service!.isConnected(c.clientId), `${c.clientId} connected`)
    const open: SynrcClient[] = []
    const phone = (n: number) => `38050${layout === 'a' ? 1 : 2}5${String(n).padStart(5, '0')}`
    const users: Record<string, { id: string; phone: string; d: SynrcClient }> = {}

    async function user(name: string, n: number, nick?: string) {
      const { device } = await register(h, phone(n), 'd1')
      await ready(device)
      open.push(device)
      if (nick) {
        await device.send({ $: 'Roster', nick: bin(nick), status: 'nick' })
        await device.next((r) => r.$ === 'Roster')
      }
      users[name] = { id: `${phone(n)}_1`, phone: phone(n), d: device }
      return users[name]
    }
    const search = async (c: SynrcClient, rec: Record<string, unknown>) => {
      await c.send({ $: 'Search', type: '==', ...rec })
      return c.next(isIo)
    }
    const found = (io: Rec) => io.data.userlist.map((c: Rec) => [str(c.phone_id), c.status, c.presence])

    before(async () => {
      h = await startSynrc({ layout, db })
      await user('a', 1, 'ann_1')
      await user('b', 2, 'bob_2')
      await user('c', 3)
      await user('d', 4, 'dan_4')
    })
    after(async () => {
      for (const c of open) c.mqtt.end(true)
      await h.close()
    })

    test('nick: {io,{ok,Ref},Roster{userlist=[Contact]}}, any case; a friend shows as friend with presence', async () => {
      const { a, b } = users
      const io = await search(a.d, { ref: bin('r1'), field: bin('nick'), value: [bin('BOB_2')], status: 'contact' })
      assert.deepEqual([io.code.$, str(io.code.code)], ['ok', 'r1'])
      assert.deepEqual([io.data.$, str(io.data.id), io.data.status], ['Roster', a.id, 'search'])
      assert.deepEqual(found(io), [[b.id, null, null]])
      assert.equal(str(io.data.userlist[0].nick), 'bob_2')
      assert.deepEqual(found(await search(a.d, { ref: bin('r2'), field: bin('nick'), value: [bin('nobody_x')], status: 'contact' })), [])
      await a.d.send({ $: 'Friend', phone_id: bin(a.id), friend_id: bin(b.id), status: 'request' })
      await b.d.next((r) => r.$ === 'Contact' && r.status === 'authorization')
      await b.d.send({ $: 'Friend', phone_id: bin(b.id), friend_id: bin(a.id), status: 'confirm' })
      await b.d.next(isIo)
      await a.d.next((r) => r.$ === 'Contact' && r.status === 'friend')
      assert.deepEqual(found(await search(a.d, { ref: bin('r3'), field: bin('nick'), value: [bin('bob_2')], status: 'contact' })), [[b.id, 'friend', 'online']])
    })

    test('phone: a list of phones (with or without +); unknown ones are left out; whoever banned the searcher is not found', async () => {
      const { a, b, c, d } = users
      const value = [bin(b.phone), bin(`+${c.phone}`), bin(phone(99)), bin(d.phone)]
      const io = await search(c.d, { ref: bin('p1'), field: bin('phone'), value, status: 'contact' })
      assert.equal(str(io.code.code), 'p1')
      assert.deepEqual(found(io).map((x: unknown[]) => x[0]), [b.id, c.id, d.id])
      await d.d.send({ $: 'Friend', phone_id: bin(d.id), friend_id: bin(c.id), status: 'ban' })
      await d.d.next(isIo)
      assert.deepEqual(found(await search(c.d, { ref: bin('p2'), field: bin('phone'), value, status: 'contact' })).map((x: unknown[]) => x[0]), [b.id, c.id])
      assert.deepEqual(found(await search(c.d, { ref: bin('p3'), field: bin('nick'), value: [bin('dan_4')], status: 'contact' })), [])
      assert.deepEqual(found(await search(a.d, { ref: bin('p4'), field: bin('nick'), value: [bin('dan_4')], status: 'contact' })), [[d.id, null, null]])
    })

    test('invalid_data: no ref, an unknown field, !=, a status the field does not answer, no values, too many', async () => {
      const { a } = users
      const bad: Record<string, unknown>[] = [
        { ref: null, field: bin('nick'), value: [bin('bob_2')], status: 'contact' },
        { ref: bin('x'), field: bin('email'), value: [bin('bob_2')], status: 'contact' },
        { ref: bin('x'), field: bin('nick'), type: '!=', value: [bin('bob_2')], status: 'contact' },
        { ref: bin('x'), field: bin('nick'), value: [bin('bob_2')], status: 'room' },
        { ref: bin('x'), field: bin('phone'), value: [], status: 'contact' },
        { ref: bin('x'), field: bin('phone'), value: Array.from({ length: 1001 }, (_, i) => bin(String(380000000000 + i))), status: 'contact' },
      ]
      for (const rec of bad) {
        const io = await search(a.d, rec)
        assert.deepEqual([io.code.$, io.code.code], ['error', 'invalid_data'], JSON.stringify(rec.field))
      }
      const reg = await SynrcClient.connect(h.mqttUrl, `reg_${phone(7)}_x`, layout)
      await ready(reg)
      open.push(reg)
      await reg.send({ $: 'Search', ref: bin('x'), field: bin('nick'), type: '==', value: [bin('bob_2')], status: 'contact' })
      assert.equal(await reg.quiet(), true)
    })
  })
}
