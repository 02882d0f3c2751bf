// synrc §6.11 FAV with real MQTT clients: Star add/remove and Tag create/edit/remove are stored per roster and echoed
// to every device of the user (FAV.md documents no replies), never to anyone else; the errors. Both layouts.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { Rec } from '../../src/dialects/synrc/wire.ts'
import { pgAvailable, requireService } from '../helpers.ts'
import { bin, register, startSynrc, str, SynrcClient, type SynrcHerald } from './client.ts'

const isIo = (code: string) => (r: Rec) => r.$ === 'io' && r.code?.code === code

/** A logged-in device, on its persistent session (§6.1: clean=false), as register() leaves it. */
async function login(h: SynrcHerald, phone: string, key: string): Promise<SynrcClient> {
  return (await register(h, phone, key)).device
}

// the store's SQL on both databases: the two layouts on SQLite, layout A on PostgreSQL too
const pg = requireService(await pgAvailable(), 'PostgreSQL')
for (const [layout, db] of [['a', 'sqlite'], ['legacy', 'sqlite'], ['a', 'postgres']] as const) {
  describe(`SYNRC FAV (layout ${layout}, ${db})`, db === 'postgres' ? pg : {}, () => {
    let h: SynrcHerald
    const open: SynrcClient[] = []
    const phone = (n: number) => `38066${layout === 'a' ? 5 : 6}${String(n).padStart(6, '0')}`
    const roster = (n: number) => `${phone(n)}_1`
    let d1: SynrcClient, d2: SynrcClient, other: SynrcClient
    const favs = () => h.synrc.synrc!.stores.rooms.favs

    before(async () => {
      h = await startSynrc({ layout, db })
      const dev = async (n: number, key: string) => {
        const device = await login(h, phone(n), key)
        open.push(device)
        return device
      }
      d1 = await dev(1, 'one')
      d2 = await dev(1, 'two')
      other = await dev(2, 'd')
    })
    after(async () => {
      for (const c of open) c.mqtt.end(true)
      await h.close()
    })

    const message = (id: number, text: string): Rec => ({
      $: 'Message', id, feed_id: { $: 'p2p', from: bin(roster(1)), to: bin(roster(2)) }, from: bin(roster(1)), to: bin(roster(2)),
      files: [{ $: 'Desc', mime: bin('text'), payload: bin(text) }],
    })

    test('Star add: stored under the sender\'s roster, keyed by the message id, echoed to each of its devices', async () => {
      await d1.send({ $: 'Star', message: message(41, 'keep this'), tags: [{ $: 'Tag', name: bin('work'), color: bin('#f00') }], status: 'add' })
      for (const c of [d1, d2]) {
        const s = await c.next((r) => r.$ === 'Star' && r.status === 'add')
        assert.equal(s.id, 41)
        assert.equal(s.roster_id, 1)
        assert.equal(str(s.message.files[0].payload), 'keep this')
        assert.deepEqual(s.tags.map((t: Rec) => str(t.name)), ['work'])
      }
      assert.equal(await other.quiet((r) => r.$ === 'Star'), true)
      const rows = await favs().stars(roster(1))
      assert.deepEqual(rows.map((r) => r.id), [41])
      assert.deepEqual(await favs().stars(roster(2)), [])
      // starring again replaces the tags
      await d1.send({ $: 'Star', message: message(41, 'keep this'), tags: [], status: 'add' })
      assert.deepEqual((await d2.next((r) => r.$ === 'Star' && r.status === 'add')).tags, [])
      assert.equal((await favs().stars(roster(1))).length, 1)
    })

    test('Star without a message id gets the next free id; remove echoes the stored star; a missing one is not_found', async () => {
      await d1.send({ $: 'Star', message: { ...message(0, 'no id'), id: null }, status: 'add' })
      const s = await d2.next((r) => r.$ === 'Star' && r.status === 'add')
      assert.equal(typeof s.id, 'number')
      assert.ok(s.id > 41)
      await d1.send({ $: 'Star', id: s.id, status: 'remove' })
      const gone = await d2.next((r) => r.$ === 'Star' && r.status === 'remove')
      assert.deepEqual([gone.id, str(gone.message.files[0].payload)], [s.id, 'no id'])
      assert.equal(await favs().star(roster(1), s.id), undefined)
      await d1.send({ $: 'Star', id: s.id, status: 'remove' })
      await d1.next(isIo('not_found'))
      // the other user cannot remove this user's star, nor does it see one
      await other.send({ $: 'Star', id: 41, status: 'remove' })
      await other.next(isIo('not_found'))
      assert.ok(await favs().star(roster(1), 41))
      await d1.send({ $: 'Star', status: 'add' })
      await d1.next(isIo('invalid_data'))
    })

    test('Tag create / edit / remove, echoed to the user\'s devices; already_present, not_found, not_authorized', async () => {
      await d1.send({ $: 'Tag', name: bin('family'), color: bin('blue'), status: 'create' })
      for (const c of [d1, d2]) {
        const t = await c.next((r) => r.$ === 'Tag' && r.status === 'create')
        assert.deepEqual([str(t.roster_id), str(t.name), str(t.color)], [roster(1), 'family', 'blue'])
      }
      assert.equal(await other.quiet((r) => r.$ === 'Tag'), true)
      await d1.send({ $: 'Tag', roster_id: bin(roster(1)), name: bin('family'), color: bin('red'), status: 'create' })
      await d1.next(isIo('already_present'))
      await d2.send({ $: 'Tag', name: bin('family'), color: bin('green'), status: 'edit' })
      assert.equal(str((await d1.next((r) => r.$ === 'Tag' && r.status === 'edit')).color), 'green')
      assert.equal((await favs().tag(roster(1), 'family'))?.color, 'green')
      await other.send({ $: 'Tag', roster_id: bin(roster(1)), name: bin('family'), status: 'remove' })
      await other.next(isIo('not_authorized'))
      await other.send({ $: 'Tag', name: bin('family'), color: bin('x'), status: 'edit' })
      await other.next(isIo('not_found'))
      await d1.send({ $: 'Tag', name: bin('family'), status: 'remove' })
      const t = await d2.next((r) => r.$ === 'Tag' && r.status === 'remove')
      assert.equal(str(t.color), 'green')
      assert.deepEqual(await favs().tags(roster(1)), [])
      await d1.send({ $: 'Tag', name: bin('family'), status: 'remove' })
      await d1.next(isIo('not_found'))
      await d1.send({ $: 'Tag', color: bin('x'), status: 'create' })
      await d1.next(isIo('invalid_data'))
    })

    test('a Star naming another roster number is not_authorized', async () => {
      await d1.send({ $: 'Star', roster_id: 2, message: message(99, 'x'), status: 'add' })
      await d1.next(isIo('not_authorized'))
      assert.equal(await favs().star(roster(1), 99), undefined)
    })
  })
}
