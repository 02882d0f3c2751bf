// synrc §6.2 PROFILE with real mqtt.js clients: get, set, patch (settings kept; the balance only from sys_), update
// (the Contact to the friends), delete of listed rosters, remove (Profile{remove} to every session, Contact{deleted}
// to each counterparty), the answers for what Herald has no backend for (link, email, aws, migrate, phone), another
// phone not_authorized, a sys_ service acting for a phone. Both layouts.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { Rec } from '../../src/dialects/synrc/wire.ts'
import { bin, register, startSynrc, str, SynrcClient, type SynrcHerald } from './client.ts'
import { eventually } from '../helpers.ts'

const isIo = (r: Rec) => r.$ === 'io'
const isProfile = (status: string) => (r: Rec) => r.$ === 'Profile' && r.status === status
const feature = (key: string, value: string) => ({ $: 'Feature', id: bin(`f_${key}`), key: bin(key), value: bin(value), group: bin('LANGUAGE_SETTINGS') })

for (const layout of ['a', 'legacy'] as const) {
  describe(`SYNRC PROFILE (layout ${layout})`, () => {
    let h: SynrcHerald
    /** register() returns at CONNACK; a request sent before Herald has seen the connect would be dropped */
    const ready = (c: SynrcClient) => eventually(() => h.synrc.service!.isConnected(c.clientId), `${c.clientId} connected`)
    const open: SynrcClient[] = []
    const phone = (n: number) => `38050${layout === 'a' ? 1 : 2}1${String(n).padStart(5, '0')}`

    async function user(n: number, devices = 1) {
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
      await b.d[0].next((r) => r.$ === 'Contact' && r.status === 'authorization')
      await b.d[0].send({ $: 'Friend', phone_id: bin(b.id), friend_id: bin(a.id), status: 'confirm' })
      await b.d[0].next(isIo)
      await a.d[0].next((r) => r.$ === 'Contact' && r.status === 'friend')
      await b.d[0].next((r) => r.$ === 'Contact' && r.status === 'friend')
    }
    const code = async (c: SynrcClient) => { const io = await c.next(isIo); return [io.code?.$ ?? null, io.code?.code ?? null] }

    before(async () => { h = await startSynrc({ layout }) })
    after(async () => {
      for (const c of open) c.mqtt.end(true)
      await h.close()
    })

    test('get, set, patch: settings kept and returned; a device cannot set the balance; balance < 0 invalid_data; another phone not_authorized', async () => {
      const a = await user(1)
      const d = a.d[0]
      await d.send({ $: 'Profile', phone: bin(a.phone), status: 'get' })
      const p = await d.next(isProfile('get'))
      assert.deepEqual([str(p.phone), p.rosters.map((r: Rec) => str(r.id)), p.settings, p.balance], [a.phone, [a.id], [], 0])
      assert.ok(p.date > 0, 'date (B: update) is the last change')
      await d.send({ $: 'Profile', phone: bin(a.phone), settings: [feature('DEFAULT_LANGUAGE', 'en')], status: 'set' })
      const set = await d.next(isProfile('set'))
      assert.deepEqual(set.settings.map((f: Rec) => [str(f.key), str(f.value), str(f.group)]), [['DEFAULT_LANGUAGE', 'en', 'LANGUAGE_SETTINGS']])
      await d.send({ $: 'Profile', settings: [feature('DEFAULT_LANGUAGE', 'ua'), { $: 'Feature', key: bin('PUSH'), value: 'true' }], balance: 100, status: 'patch' })
      assert.deepEqual(await code(d), [null, null])
      await d.send({ $: 'Profile', status: 'get' })
      const got = await d.next(isProfile('get'))
      assert.deepEqual(got.settings.map((f: Rec) => [str(f.key), f.value === 'true' ? true : str(f.value)]), [['DEFAULT_LANGUAGE', 'ua'], ['PUSH', true]])
      assert.equal(got.balance, 0)
      await d.send({ $: 'Profile', balance: -1, status: 'patch' })
      assert.deepEqual(await code(d), ['error', 'invalid_data'])
      await d.send({ $: 'Profile', phone: bin(phone(2)), status: 'get' })
      assert.deepEqual(await code(d), ['error', 'not_authorized'])
    })

    test('update: the same Profile, and the Contact to the friends; link, email, aws, migrate, phone: the spec\'s error forms (no backend)', async () => {
      const a = await user(3)
      const b = await user(4)
      await befriend(a, b)
      const d = a.d[0]
      await d.send({ $: 'Profile', phone: bin(a.phone), status: 'update' })
      assert.equal(str((await d.next(isProfile('update'))).phone), a.phone)
      assert.equal((await b.d[0].next((r) => r.$ === 'Contact' && str(r.phone_id) === a.id)).presence, 'online')
      for (const [status, err] of [['link', 'not_authorized'], ['email', 'wrong_code'], ['aws', 'aws']] as const) {
        await d.send({ $: 'Profile', phone: bin(a.phone), status })
        assert.deepEqual(await code(d), ['error', err], status)
      }
      await d.send({ $: 'Profile', phone: bin(phone(90)), status: 'migrate' })
      assert.deepEqual(await code(d), ['error', 'migration'])
      await d.send({ $: 'Profile', phone: bin(phone(90)), status: 'phone' })
      assert.deepEqual(await code(d), ['error', 'not_authorized'])
    })

    test('delete: the listed rosters go (#io{}); another\'s roster not_authorized, none invalid_data; create makes one again', async () => {
      const a = await user(5)
      const b = await user(6)
      const d = a.d[0]
      await d.send({ $: 'Profile', rosters: [bin(b.id)], status: 'delete' })
      assert.deepEqual(await code(d), ['error', 'not_authorized'])
      await d.send({ $: 'Profile', rosters: [], status: 'delete' })
      assert.deepEqual(await code(d), ['error', 'invalid_data'])
      await d.send({ $: 'Profile', rosters: [1], status: 'delete' })
      assert.deepEqual(await code(d), [null, null])
      await d.send({ $: 'Profile', status: 'get' })
      assert.deepEqual((await d.next(isProfile('get'))).rosters, [])
      await d.send({ $: 'Profile', status: 'create' })
      assert.deepEqual((await d.next(isProfile('create'))).rosters.map((r: Rec) => str(r.id)), [a.id])
    })

    test('remove: Profile{remove} to every device of the phone, Contact{deleted} to the counterparty\'s devices; then not_found', async () => {
      const a = await user(7, 2)
      const b = await user(8, 2)
      await befriend(a, b)
      await a.d[0].send({ $: 'Profile', phone: bin(a.phone), status: 'remove' })
      for (const d of a.d) assert.equal(str((await d.next(isProfile('remove'))).phone), a.phone)
      for (const d of b.d) await d.next((r) => r.$ === 'Contact' && str(r.phone_id) === a.id && r.status === 'deleted')
      await b.d[0].send({ $: 'Roster', status: 'get' })
      assert.deepEqual((await b.d[0].next((r) => r.$ === 'Roster')).userlist, [])
      await a.d[1].send({ $: 'Profile', status: 'remove' })
      assert.deepEqual(await code(a.d[1]), ['error', 'not_found'])
    })

    test('a sys_ service account acts for the phone it names (the balance too); without a phone: not_authorized', async () => {
      const a = await user(9)
      const sys = await SynrcClient.connect(h.mqttUrl, `sys_profile_${layout}`, layout, { username: 'herald', password: h.servicePassword })
      await ready(sys)
      open.push(sys)
      await sys.send({ $: 'Profile', phone: bin(a.phone), balance: 42, status: 'patch' })
      assert.deepEqual(await code(sys), [null, null])
      await sys.send({ $: 'Profile', phone: bin(a.phone), status: 'get' })
      const p = await sys.next(isProfile('get'))
      assert.deepEqual([str(p.phone), p.balance, p.presence], [a.phone, 42, 'online'])
      await sys.send({ $: 'Profile', status: 'get' })
      assert.deepEqual(await code(sys), ['error', 'not_authorized'])
      await a.d[0].send({ $: 'Profile' })
      assert.deepEqual(await code(a.d[0]), ['error', 'invalid_data'])
    })
  })
}
