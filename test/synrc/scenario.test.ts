// synrc end to end (issue 12 "Bar"), both layouts, real mqtt.js clients and real flows only: two users register
// (SMS codes from the local gateway) with two devices each, befriend, exchange p2p messages; a device offline and
// back, and across a Herald restart on the same SQLite file; edit, delete, history pages; a room of three; search;
// a resumed file upload; a spoofer is answered as itself and refused the others' topics.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { CHUNK } from '../../src/dialects/synrc/handlers/ftp.ts'
import { actionsTopic, privateTopic, roomTopic } from '../../src/dialects/synrc/topics.ts'
import type { Rec } from '../../src/dialects/synrc/wire.ts'
import { eventually } from '../helpers.ts'
import { bin, register, startSynrc, str, SynrcClient, type SynrcHerald } from './client.ts'

interface Device { c: SynrcClient; clientId: string; token: string }
interface User { phone: string; roster: string; d: Device[] }

const desc = (t: string): Rec => ({ $: 'Desc', mime: bin('text'), payload: bin(t) })
const p2p = (from: string, to: string): Rec => ({ $: 'p2p', from: bin(from), to: bin(to) })
const muc = (room: string): Rec => ({ $: 'muc', name: bin(room) })
/** a Message carrying `body` (and of `status`, when named) */
const isMsg = (body: string, status?: string) => (r: Rec) =>
  r.$ === 'Message' && str(r.files?.[0]?.payload) === body && (status === undefined || r.status === status)
const isStop = (status: unknown): boolean => (status as { elements?: { name: string }[] }).elements?.map((a) => a.name).join(',') === 'event,stop'
const refused = (e: { packet?: { granted?: number[] } }) => e.packet?.granted?.[0] === 128

for (const layout of ['a', 'legacy'] as const) {
  describe(`SYNRC end to end (layout ${layout})`, () => {
    const phone = (n: number) => `38068${layout === 'a' ? 1 : 2}${String(n).padStart(6, '0')}`
    let h: SynrcHerald
    let dataDir: string
    const A: User = { phone: phone(1), roster: `${phone(1)}_1`, d: [] }
    const B: User = { phone: phone(2), roster: `${phone(2)}_1`, d: [] }
    const C: User = { phone: phone(3), roster: `${phone(3)}_1`, d: [] }
    const S: User = { phone: phone(4), roster: `${phone(4)}_1`, d: [] }
    const devices = (...us: User[]) => us.flatMap((u) => u.d)
    /** the A–B feed's messages in order, as the server numbered them */
    const feed: number[] = []
    let room = ''

    /** Herald has made the device's server-side subscriptions (what it publishes before that is not the device's) */
    const ready = (d: Device) => eventually(() => h.synrc.service!.isConnected(d.clientId), `${d.clientId} connected`)
    async function login(u: User, key: string): Promise<void> {
      const { device, clientId, token } = await register(h, u.phone, key)
      const d = { c: device, clientId, token }
      await ready(d)
      u.d.push(d)
    }
    async function reconnect(d: Device): Promise<void> {
      d.c = await SynrcClient.connect(h.mqttUrl, d.clientId, layout, { password: d.token, clean: false })
      await ready(d)
    }
    /** a recipient device gets the message and acknowledges it by server id (§6.6 delete after ack) */
    async function got(d: Device, pred: (r: Rec) => boolean): Promise<Rec> {
      const m = await d.c.next(pred)
      await d.c.send({ $: 'Ack', table: 'Message', id: bin(String(m.id)) })
      return m
    }
    /** everything a device sent before has been handled: a later request of its own queue is answered */
    async function settled(d: Device): Promise<void> {
      await d.c.send({ $: 'Roster', status: 'get' })
      await d.c.next((r) => r.$ === 'Roster' && r.status === 'get')
    }
    /** a p2p or room message from `d`: Ack keyed by msg_id to the sender, then the Message on every device of `to` */
    async function post(d: Device, feedId: Rec, body: string, to: Device[]): Promise<Rec> {
      await d.c.send({ $: 'Message', feed_id: feedId, msg_id: bin(`c-${body}`), files: [desc(body)] })
      const ack = await d.c.next((r) => r.$ === 'Ack' || r.$ === 'io')
      assert.deepEqual([ack.$, ack.table, str(ack.id)], ['Ack', 'Message', `c-${body}`])
      const ms = await Promise.all(to.map((x) => got(x, isMsg(body, 'sent'))))
      assert.ok(ms.every((m) => m.id === ms[0].id && Number.isInteger(m.id)), 'one server id on every device')
      return ms[0]
    }
    const ab = (from: User) => (from === A ? p2p(A.roster, B.roster) : p2p(B.roster, A.roster))

    before(async () => {
      dataDir = mkdtempSync(join(tmpdir(), 'herald-synrc-e2e-'))
      h = await startSynrc({ layout, overrides: { dataDir } })
    })
    after(async () => {
      for (const d of devices(A, B, C, S)) d.c.mqtt.end(true)
      await h.close()
      rmSync(dataDir, { recursive: true, force: true })
    })

    test('§6.1: two users register two devices each (codes from the SMS gateway); a third and a fourth user one each', async () => {
      for (const u of [A, B]) for (const k of ['d1', 'd2']) await login(u, k)
      await login(C, 'd1')
      await login(S, 'd1')
      assert.deepEqual(A.d.map((d) => d.clientId), [`emqttd_${A.phone}_d1`, `emqttd_${A.phone}_d2`])
      assert.equal(h.sms.codes.get(B.phone)?.length, 2)
      assert.notEqual(A.d[0].token, A.d[1].token)
    })

    test('§6.4: request and confirm; every device of both gets the Contact as friend', async () => {
      const [a1] = A.d, [b1, b2] = B.d
      await a1.c.send({ $: 'Friend', phone_id: bin(A.roster), friend_id: bin(B.roster), status: 'request' })
      for (const d of B.d) await d.c.next((r) => r.$ === 'Contact' && str(r.phone_id) === A.roster && r.status === 'authorization')
      await b2.c.send({ $: 'Friend', phone_id: bin(B.roster), friend_id: bin(A.roster), status: 'confirm' })
      const io = await b2.c.next((r) => r.$ === 'io')
      assert.deepEqual([io.code.code, io.data.code], ['added', 'added'])
      for (const d of A.d) await d.c.next((r) => r.$ === 'Contact' && str(r.phone_id) === B.roster && r.status === 'friend')
      for (const d of [b1, b2]) await d.c.next((r) => r.$ === 'Contact' && str(r.phone_id) === A.roster && r.status === 'friend')
    })

    test('§6.6 p2p: Ack to the sender, the Message on all four devices, both ways; the second chains to the first', async () => {
      const first = await post(A.d[0], ab(A), 'hello', devices(A, B))
      const second = await post(B.d[1], ab(B), 'hi', devices(A, B))
      assert.deepEqual([str(first.from), str(first.to), first.prev], [A.roster, B.roster, null])
      assert.deepEqual([str(second.from), str(second.to), second.prev], [B.roster, A.roster, first.id])
      feed.push(first.id, second.id)
      assert.equal(await C.d[0].c.quiet(isMsg('hello'), 50), true)
    })

    test('a device offline (clean_session=false) gets what was sent meanwhile when it comes back, once', async () => {
      const b2 = B.d[1]
      await b2.c.end()
      for (const body of ['away 1', 'away 2']) feed.push((await post(A.d[0], ab(A), body, [A.d[0], A.d[1], B.d[0]])).id)
      await reconnect(b2)
      for (const body of ['away 1', 'away 2']) await got(b2, isMsg(body))
      assert.equal(await b2.c.quiet(isMsg('away 1'), 300), true)
    })

    test('a Herald restart on the same data directory: the device offline meanwhile gets what it missed, oldest first', async () => {
      const b1 = B.d[0]
      await b1.c.end()
      for (const body of ['restart 1', 'restart 2']) feed.push((await post(A.d[1], ab(A), body, [A.d[0], A.d[1], B.d[1]])).id)
      for (const d of devices(A, B, C, S).filter((x) => x !== b1)) await settled(d)
      for (const d of devices(A, B, C, S)) d.c.mqtt.end(true)
      await h.close()
      h = await startSynrc({ layout, overrides: { dataDir } })
      for (const d of devices(A, B, C, S)) await reconnect(d)
      const m1 = await got(b1, isMsg('restart 1'))
      const m2 = await got(b1, isMsg('restart 2'))
      assert.deepEqual([m1.id, m2.id], feed.slice(-2))
      assert.equal(await b1.c.quiet(isMsg('restart 1'), 300), true)
      // the others had acknowledged everything: nothing is resent to them
      for (const d of [A.d[0], B.d[1]]) assert.equal(await d.c.quiet((r) => r.$ === 'Message', 100), true)
    })

    test('§6.6 edit and delete by the author reach the peer\'s devices', async () => {
      const [a1] = A.d
      const { id } = await post(a1, ab(A), 'typo', devices(A, B))
      feed.push(id)
      await a1.c.send({ $: 'Message', id, feed_id: ab(A), msg_id: bin('e-typo'), files: [desc('fixed')], status: 'edit' })
      assert.equal(str((await a1.c.next((r) => r.$ === 'Ack')).id), 'e-typo')
      for (const d of B.d) {
        const e = await got(d, isMsg('fixed', 'edit'))
        assert.deepEqual([e.id, e.type.includes('edited')], [id, true])
      }
      const { id: gone } = await post(a1, ab(A), 'regret', devices(A, B))
      await a1.c.send({ $: 'Message', id: gone, feed_id: ab(A), msg_id: bin('d-regret'), status: 'delete' })
      assert.equal(str((await a1.c.next((r) => r.$ === 'Ack')).id), 'd-regret')
      for (const d of B.d) {
        const del = await got(d, (r) => r.$ === 'Message' && r.id === gone && r.status === 'delete')
        assert.deepEqual(del.files, [])
      }
    })

    test('§6.7 history pages back (newest first) and forward (oldest first); the deleted message is not in them', async () => {
      const get = async (d: Device, me: User, size: number, entity_id = 0) => {
        await d.c.send({ $: 'History', roster_id: bin(me.roster), feed: ab(me), size, entity_id, data: [], status: 'get' })
        const page = await d.c.next((r) => r.$ === 'History' || r.$ === 'io')
        assert.equal(page.$, 'History')
        return { ids: page.data.map((m: Rec) => m.id) as number[], size: page.size as number, data: page.data as Rec[] }
      }
      assert.equal(feed.length, 7)
      const all = await get(B.d[0], B, -20)
      assert.deepEqual(all.ids, feed)
      assert.equal(str(all.data.at(-1)!.files[0].payload), 'fixed')
      const back1 = await get(B.d[0], B, 3)
      assert.deepEqual(back1.ids, feed.slice(4).reverse())
      const back2 = await get(B.d[0], B, 3, back1.size)
      assert.deepEqual(back2.ids, feed.slice(1, 4).reverse())
      const fwd1 = await get(A.d[1], A, -4)
      assert.deepEqual(fwd1.ids, feed.slice(0, 4))
      const fwd2 = await get(A.d[1], A, -4, fwd1.size)
      assert.deepEqual(fwd2.ids, feed.slice(4))
    })

    test('§6.8 a room of three (the third user befriends nobody): a room message reaches all three members\' devices', async () => {
      const member = (u: User): Rec => ({ $: 'Member', phone_id: bin(u.roster) })
      const [a1] = A.d
      await a1.c.send({ $: 'Room', name: bin('Three'), type: 'group', admins: [member(A)], members: [member(B), member(C)], status: 'create' })
      const created = await a1.c.next((r) => r.$ === 'Room' || r.$ === 'errors' || r.$ === 'io')
      assert.deepEqual([created.$, created.status], ['Room', 'create'])
      room = str(created.id)
      assert.deepEqual(created.members.map((m: Rec) => str(m.phone_id)).sort(), [A.roster, B.roster, C.roster])
      for (const d of devices(A, B, C)) await got(d, (r) => isMsg('Group created')(r) && str(r.feed_id?.name) === room)
      const m = await post(C.d[0], muc(room), 'hello room', devices(A, B, C))
      assert.deepEqual([m.feed_id.$, str(m.from), str(m.to)], ['muc', C.roster, room])
      assert.equal(await S.d[0].c.quiet(isMsg('hello room'), 50), true)
    })

    test('§6.10 search by nick (any case) and by phone: the searcher\'s relation as each Contact\'s status', async () => {
      const nick = `carol_${layout}`
      await C.d[0].c.send({ $: 'Roster', nick: bin(nick), status: 'nick' })
      await C.d[0].c.next((r) => r.$ === 'Roster')
      const search = async (field: string, value: Buffer[]) => {
        await A.d[0].c.send({ $: 'Search', ref: bin(field), field: bin(field), type: '==', value, status: 'contact' })
        const io = await A.d[0].c.next((r) => r.$ === 'io')
        assert.deepEqual([io.code.$, str(io.code.code)], ['ok', field])
        return io.data.userlist.map((c: Rec) => [str(c.phone_id), c.status])
      }
      assert.deepEqual(await search('nick', [bin(nick.toUpperCase())]), [[C.roster, null]])
      assert.deepEqual(await search('phone', [bin(B.phone), bin(`+${C.phone}`), bin(phone(99))]), [[B.roster, 'friend'], [C.roster, null]])
    })

    test('§6.12 a file upload resumed after a disconnect: init answers the stored offset; the last chunk {event,stop}', async () => {
      const a2 = A.d[1]
      const file = randomBytes(CHUNK + 1000)
      const ftp = (f: Partial<Rec>): Rec => ({ $: 'ftp', id: bin(`up-${layout}`), sid: bin('sid'), filename: bin('cat.jpg'), meta: bin('m'), size: file.length, ...f })
      const ask = async (rec: Rec) => {
        await a2.c.send(rec)
        return a2.c.next((r) => r.$ === 'ftpack' || r.$ === 'io')
      }
      let a = await ask(ftp({ offset: 0, block: 0, status: bin('init') }))
      assert.deepEqual([a.$, a.offset, a.block], ['ftpack', 0, CHUNK])
      a = await ask(ftp({ offset: 0, block: CHUNK, data: file.subarray(0, CHUNK), status: bin('send') }))
      assert.equal(a.offset, CHUNK)
      await a2.c.end()
      await reconnect(a2)
      a = await ask(ftp({ offset: 0, block: 0, status: bin('init') }))
      assert.deepEqual([a.offset, a.block], [CHUNK, 1000])
      a = await ask(ftp({ offset: CHUNK, block: 1000, data: file.subarray(CHUNK), status: bin('send') }))
      assert.deepEqual([a.offset, isStop(a.status)], [file.length, true])
      const dir = join(dataDir, 'synrc-files')
      assert.equal(readdirSync(dir).filter((f) => f.endsWith('.bin')).some((f) => readFileSync(join(dir, f)).equals(file)), true)
    })

    test('§1.2 a spoofer naming another\'s client id is answered as itself; the others\' topics are refused (SUBACK 0x80)', async () => {
      const [s1] = S.d, [a1] = A.d
      const asA = { topic: `events/1/1/api/anon/${a1.clientId}/` }
      await s1.c.send({ $: 'Auth', type: 'list' }, asA)
      const me = await s1.c.next((r) => r.$ === 'Auth')
      assert.equal(str(me.client_id), s1.clientId)
      assert.equal(await a1.c.quiet((r) => r.$ === 'Auth', 200), true)
      await s1.c.send({ $: 'Message', feed_id: ab(A), msg_id: bin('spoof'), files: [desc('spoofed')] }, asA)
      assert.equal((await s1.c.next((r) => r.$ === 'io')).code.code, 'not_authorized')
      for (const t of [actionsTopic(a1.clientId), privateTopic(A.roster, B.roster), roomTopic(room)]) {
        await assert.rejects(s1.c.mqtt.subscribeAsync(t, { qos: 1 }), refused, t)
      }
      await post(B.d[0], ab(B), 'not for S', devices(A, B))
      await post(A.d[0], muc(room), 'room, not for S', devices(A, B, C))
      await A.d[0].c.send({ $: 'Auth', type: 'list' })
      await A.d[0].c.next((r) => r.$ === 'Auth')
      assert.equal(await s1.c.quiet((r) => r.$ === 'Message' || (r.$ === 'Auth' && str(r.client_id) !== s1.clientId), 300), true)
      for (const d of devices(A, B)) assert.equal(await d.c.quiet(isMsg('spoofed'), 20), true)
    })
  })
}
