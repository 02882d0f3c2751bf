// synrc §6.4 FRIEND end to end with real mqtt.js clients: two users with two devices each request and confirm;
// every device of both gets the Contacts; private/<a>/<b> then reaches all four and nobody else (a third user
// cannot subscribe to it); revoke and ban take it away; mute, unmute, unban and the error replies.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { Wire, type Rec } from '../../src/dialects/synrc/wire.ts'
import { bin, register, startSynrc, str, SynrcClient, type SynrcHerald } from './client.ts'
import { eventually, PG_URL, pgAvailable, requireService } from '../helpers.ts'

export const isContact = (id: string, status: string | null) => (r: Rec) => r.$ === 'Contact' && str(r.phone_id) === id && r.status === status
const privateOf = (a: string, b: string) => (a <= b ? `private/${a}/${b}` : `private/${b}/${a}`)

// the store-heavy flows once more on PostgreSQL (skipped without it, except under CI=true)
const pg = requireService(await pgAvailable(), `PostgreSQL at ${PG_URL}`)
const RUNS = [{ layout: 'a', db: 'sqlite' }, { layout: 'legacy', db: 'sqlite' }, { layout: 'a', db: 'postgres' }] as const

for (const { layout, db } of RUNS) {
  describe(`SYNRC FRIEND (layout ${layout}, ${db})`, db === 'postgres' ? pg : {}, () => {
    let h: SynrcHerald
    /** register() returns at CONNACK; a request sent before Herald has seen the connect would be dropped */
    const ready = (c: SynrcClient) => eventually(() => h.synrc.service!.isConnected(c.clientId), `${c.clientId} connected`)
    const open: SynrcClient[] = []
    const phone = (n: number) => `38050${layout === 'a' ? 1 : 2}3${String(n).padStart(5, '0')}`
    const wire = new Wire({ layout, maxBytes: 1 << 20 })
    /** a message on a private topic, published by Herald itself (messaging is another module's) */
    const herald = (topic: string, id: string) => h.bus.publish(topic, wire.encode({ $: 'Message', msg_id: bin(id), files: [], type: [] }), { qos: 2 })
    const isMsg = (id: string) => (r: Rec) => r.$ === 'Message' && str(r.msg_id) === id

    async function user(n: number, devices = 2): Promise<{ id: string; phone: string; d: SynrcClient[] }> {
      const d: SynrcClient[] = []
      for (let i = 1; i <= devices; i++) {
        const { device } = await register(h, phone(n), `d${i}`)
        await ready(device)
        open.push(device)
        d.push(device)
      }
      return { id: `${phone(n)}_1`, phone: phone(n), d }
    }
    /** a request answered on the sender's own queue: everything it sent before has been handled */
    const settled = async (c: SynrcClient) => {
      await c.send({ $: 'Roster', status: 'get' })
      await c.next((r) => r.$ === 'Roster' && r.status === 'get')
    }
    const friend = (c: SynrcClient, me: string, other: string, status: string) => c.send({ $: 'Friend', phone_id: bin(me), friend_id: bin(other), status })

    before(async () => { h = await startSynrc({ layout, db }) })
    after(async () => {
      for (const c of open) c.mqtt.end(true)
      await h.close()
    })

    test('request → Contact request / authorization on every device; confirm → {io,{ok,added},{ok,added}}, Contact friend to all four; private/<a>/<b> reaches all four, not a third user; revoke ends it', async () => {
      const a = await user(1)
      const b = await user(2)
      const c = await user(3, 1)
      await friend(a.d[0], a.id, b.id, 'request')
      for (const d of a.d) assert.equal(str((await d.next(isContact(b.id, 'request'))).phone_id), b.id)
      for (const d of b.d) {
        const ct = await d.next(isContact(a.id, 'authorization'))
        assert.equal(ct.presence, null, 'a stranger is not told who is online')
      }
      await friend(b.d[1], b.id, a.id, 'confirm')
      const io = await b.d[1].next((r) => r.$ === 'io')
      assert.deepEqual([io.code.$, io.code.code, io.data.$, io.data.code], ['ok', 'added', 'ok', 'added'])
      for (const d of a.d) assert.equal((await d.next(isContact(b.id, 'friend'))).presence, 'online')
      for (const d of b.d) assert.equal((await d.next(isContact(a.id, 'friend'))).presence, 'online')

      const topic = privateOf(a.id, b.id)
      assert.equal(topic, `private/${a.id}/${b.id}`)
      await herald(topic, 'p1')
      for (const d of [...a.d, ...b.d]) await d.next(isMsg('p1'))
      assert.equal(await c.d[0].quiet(isMsg('p1')), true)
      // nobody subscribes to private/… or contacts/… themselves (§1.1: Herald subscribes the entitled devices)
      for (const t of [topic, `contacts/${a.id}`, `devices/${a.phone}`]) {
        await assert.rejects(c.d[0].mqtt.subscribeAsync(t, { qos: 1 }), (e: { packet?: { granted?: number[] } }) => e.packet?.granted?.[0] === 128)
      }
      await herald(topic, 'p2')
      for (const d of [...a.d, ...b.d]) await d.next(isMsg('p2'))
      assert.equal(await c.d[0].quiet(isMsg('p2')), true)

      // a device registered after the confirm is subscribed at its connect (the friends' provider)
      const { device: a3, clientId: a3Id, token: a3Token } = await register(h, a.phone, 'd3')
      await ready(a3)
      open.push(a3)
      await settled(a3)
      await herald(topic, 'p3')
      await a3.next(isMsg('p3'))
      // offline (its session kept) while the friendship ends
      await a3.end()

      await friend(a.d[1], a.id, b.id, 'revoke')
      for (const d of a.d) await d.next(isContact(b.id, 'revoke'))
      for (const d of b.d) await d.next(isContact(a.id, 'revoke'))
      await settled(a.d[1])
      await herald(topic, 'p4')
      for (const d of [...a.d, ...b.d]) assert.equal(await d.quiet(isMsg('p4'), 200), true)
      // nor at its reconnect: the kept session lost the topic, and the provider does not give it back
      const again = await SynrcClient.connect(h.mqttUrl, a3Id, layout, { password: a3Token, clean: false })
      open.push(again)
      await ready(again)
      await settled(again)
      await herald(topic, 'p5')
      assert.equal(await again.quiet(isMsg('p5'), 300), true)
      assert.equal(await again.quiet(isMsg('p4'), 10), true)
    })

    test('asking back is confirming; mute and unmute reach the requester only; ban ends the private topic, bans requests; unban', async () => {
      const a = await user(4, 1)
      const b = await user(5, 1)
      await friend(a.d[0], a.id, b.id, 'request')
      await b.d[0].next(isContact(a.id, 'authorization'))
      await friend(b.d[0], b.id, a.id, 'request')
      const io = await b.d[0].next((r) => r.$ === 'io')
      assert.equal(io.code.code, 'added')
      await a.d[0].next(isContact(b.id, 'friend'))
      await b.d[0].next(isContact(a.id, 'friend'))

      await friend(a.d[0], a.id, b.id, 'mute')
      assert.equal((await a.d[0].next(isContact(b.id, 'muted'))).phone_id.length > 0, true)
      assert.equal(await b.d[0].quiet((r) => r.$ === 'Contact' && r.status === 'muted'), true)
      await friend(a.d[0], a.id, b.id, 'unmute')
      await a.d[0].next(isContact(b.id, 'unmuted'))

      const topic = privateOf(a.id, b.id)
      await herald(topic, 'q1')
      await a.d[0].next(isMsg('q1'))
      await friend(a.d[0], a.id, b.id, 'ban')
      const banned = await a.d[0].next((r) => r.$ === 'io')
      assert.deepEqual([banned.code.$, banned.code.code, banned.data.code], ['ok', 'banned', 'banned'])
      await a.d[0].next(isContact(b.id, 'banned'))
      await b.d[0].next(isContact(a.id, 'banned'))
      await settled(a.d[0])
      await herald(topic, 'q2')
      assert.equal(await a.d[0].quiet(isMsg('q2'), 200), true)
      assert.equal(await b.d[0].quiet(isMsg('q2'), 200), true)
      await friend(b.d[0], b.id, a.id, 'request')
      assert.equal((await b.d[0].next((r) => r.$ === 'io')).code.code, 'banned')
      await friend(a.d[0], a.id, b.id, 'request')
      assert.equal((await a.d[0].next((r) => r.$ === 'io')).code.code, 'ban')
      await friend(b.d[0], b.id, a.id, 'unban')
      assert.equal((await b.d[0].next((r) => r.$ === 'io')).code.code, 'contact_not_found')
      await friend(a.d[0], a.id, b.id, 'unban')
      await a.d[0].next(isContact(b.id, 'unbanned'))
      await b.d[0].next(isContact(a.id, 'unbanned'))
      // strangers again: a request goes through
      await friend(b.d[0], b.id, a.id, 'request')
      await a.d[0].next(isContact(b.id, 'authorization'))
    })

    test('error replies: unknown roster, confirm without a request (both halves), another roster as sender, self, unknown status', async () => {
      const a = await user(6, 1)
      const b = await user(7, 1)
      const d = a.d[0]
      const code = async () => { const io = await d.next((r) => r.$ === 'io'); return [io.code.$, io.code.code, io.data?.code] }
      await friend(d, a.id, `${phone(99)}_1`, 'request')
      assert.deepEqual(await code(), ['error', 'contact_not_found', undefined])
      await friend(d, a.id, b.id, 'confirm')
      assert.deepEqual(await code(), ['error', 'contact_not_found', 'contacts_not_found'])
      await friend(d, b.id, a.id, 'request')
      assert.deepEqual(await code(), ['error', 'not_authorized', undefined])
      await friend(d, a.id, a.id, 'request')
      assert.deepEqual(await code(), ['error', 'invalid_data', undefined])
      await friend(d, a.id, b.id, 'revoke')
      assert.deepEqual(await code(), ['error', 'contact_not_found', undefined])
      await friend(d, a.id, b.id, 'mute')
      assert.deepEqual(await code(), ['error', 'contact_not_found', undefined])
      await d.send({ $: 'Friend', phone_id: bin(a.id), friend_id: bin(b.id) })
      assert.deepEqual(await code(), ['error', 'invalid_data', undefined])
      // ignore: a request declined, the asker not told
      await friend(b.d[0], b.id, a.id, 'request')
      await d.next(isContact(b.id, 'authorization'))
      await friend(d, a.id, b.id, 'ignore')
      await d.next(isContact(b.id, 'ignore'))
      assert.equal(await b.d[0].quiet((r) => r.$ === 'Contact' && r.status === 'ignore'), true)
      // update: the contact as it stands, to my devices
      await friend(d, a.id, b.id, 'update')
      await d.next(isContact(b.id, 'ignore'))
      // confirming a declined request still works
      await friend(d, a.id, b.id, 'confirm')
      assert.deepEqual(await code(), ['ok', 'added', 'added'])
      await b.d[0].next(isContact(a.id, 'friend'))
      // a sys_ or reg_ client cannot send Friend at all (§5: no reply)
      const reg = await SynrcClient.connect(h.mqttUrl, `reg_${phone(8)}_x`, layout)
      await ready(reg)
      open.push(reg)
      await reg.send({ $: 'Friend', phone_id: bin(a.id), friend_id: bin(b.id), status: 'request' })
      assert.equal(await reg.quiet(), true)
    })
  })
}
