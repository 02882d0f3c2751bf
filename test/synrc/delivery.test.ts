// synrc §6.6 "delete after ack" (issue 12 §4) with real MQTT clients, both layouts: every recipient device's
// {'Ack','Message',<<"Id">>} takes its delivery out of the queue and the last one marks the message delivered;
// HERALD_SYNRC_RETENTION=delete-delivered then drops it from history. An offline device gets what it missed when it
// reconnects: from the broker's session while Herald runs, from the delivery queue after a restart (oldest first,
// no duplicates of what the session already delivered and the device acknowledged).
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { messagingOf } from '../../src/dialects/synrc/handlers/messaging.ts'
import { rosterIdOf } from '../../src/dialects/synrc/store/rosters.ts'
import { privateTopic } from '../../src/dialects/synrc/topics.ts'
import type { Rec } from '../../src/dialects/synrc/wire.ts'
import { eventually, pgAvailable, requireService } from '../helpers.ts'
import { bin, register, startSynrc, str, SynrcClient, type SynrcHerald } from './client.ts'

const p2p = (from: string, to: string): Rec => ({ $: 'p2p', from: bin(from), to: bin(to) })
const isMsg = (id?: number) => (r: Rec) => r.$ === 'Message' && (id === undefined || r.id === id)
const ackOf = (id: number): Rec => ({ $: 'Ack', table: 'Message', id: bin(String(id)) })

interface Device { client: SynrcClient; clientId: string; token: string }
interface World { h: SynrcHerald; A: string; B: string; a1: Device; a2: Device; b1: Device; b2: Device }

/** the FRIEND module's part (tested elsewhere): friends' private topics at every connect */
function providePrivateTopics(h: SynrcHerald): void {
  const s = h.synrc.synrc!
  s.addSubscriptionProvider(async (d) => (await s.stores.friends.of(d.rosterId, 'friend')).map((f) => privateTopic(d.rosterId, f.friend_id)))
}

async function world(h: SynrcHerald, pa: string, pb: string): Promise<World> {
  providePrivateTopics(h)
  const s = h.synrc.synrc!
  const A = rosterIdOf(pa), B = rosterIdOf(pb)
  const dev = async (p: string, k: string): Promise<Device> => {
    const r = await register(h, p, k)
    return { client: r.device, clientId: r.clientId, token: r.token }
  }
  // befriended before the devices connect: the provider subscribes each at its connect
  const now = Date.now()
  await s.stores.friends.set(A, B, 'friend', now)
  await s.stores.friends.set(B, A, 'friend', now)
  const w = { h, A, B, a1: await dev(pa, 'd1'), a2: await dev(pa, 'd2'), b1: await dev(pb, 'd1'), b2: await dev(pb, 'd2') }
  await eventually(() => s.connectedDevices(pb).length === 2 || undefined, 'the devices connected')
  return w
}

async function send(w: World, body: string): Promise<number> {
  await w.a1.client.send({ $: 'Message', feed_id: p2p(w.A, w.B), msg_id: bin(body), files: [{ $: 'Desc', mime: bin('text'), payload: bin(body) }] })
  await w.a1.client.next((r) => r.$ === 'Ack' && str(r.id) === body)
  return (await w.a1.client.next((r) => r.$ === 'Message' && str(r.msg_id) === body)).id
}

const reconnect = (h: SynrcHerald, d: Device) => SynrcClient.connect(h.mqttUrl, d.clientId, h.layout, { password: d.token, clean: false })
const closeAll = (w: World) => { for (const d of [w.a1, w.a2, w.b1, w.b2]) d.client.mqtt.end(true) }

for (const layout of ['a', 'legacy'] as const) {
  const phone = (n: number) => `380633${layout === 'a' ? 1 : 2}${String(n).padStart(5, '0')}`

  describe(`SYNRC delete after ack (layout ${layout})`, () => {
    const started: SynrcHerald[] = []
    const dirs: string[] = []
    after(async () => {
      for (const h of started) await h.close().catch(() => {})
      for (const d of dirs) rmSync(d, { recursive: true, force: true })
    })

    test('keep: each recipient device\'s Ack leaves the queue; the last marks the message delivered; history keeps it', async () => {
      const h = await startSynrc({ layout })
      started.push(h)
      const w = await world(h, phone(1), phone(2))
      const { messages, deliveries } = messagingOf(h.synrc.synrc!)
      const id = await send(w, 'keep me')
      // the sender's other device and the peer's two devices; the sending device is not a recipient
      assert.deepEqual((await deliveries.pendingOf(w.b1.clientId)).map((d) => d.message_id), [id])
      assert.equal(await deliveries.pendingFor(id), 3)
      assert.deepEqual(await deliveries.pendingOf(w.a1.clientId), [])
      for (const d of [w.b1, w.b2]) await d.client.next(isMsg(id))
      await w.b1.client.send(ackOf(id))
      await w.b1.client.send(ackOf(id))
      await w.b2.client.send(ackOf(id))
      await w.b2.client.send({ $: 'Ack', table: 'Message', id: bin('nope') })
      assert.equal((await w.b2.client.next((r) => r.$ === 'io')).code.code, 'invalid_data')
      await eventually(async () => (await deliveries.pendingFor(id)) === 1 || undefined, 'the two acks of B')
      assert.equal((await messages.get(id))?.delivered, null)
      await w.a2.client.send(ackOf(id))
      await w.a2.client.send({ $: 'History', roster_id: bin(w.A), feed: p2p(w.A, w.B), size: 5, status: 'get' })
      const page = await w.a2.client.next((r) => r.$ === 'History')
      assert.deepEqual(page.data.map((m: Rec) => m.id), [id])
      assert.equal(await deliveries.pendingFor(id), 0)
      assert.ok(((await messages.get(id))?.delivered ?? 0) > 0)
      closeAll(w)
    })

    test('delete-delivered: acknowledged by every recipient device, the message leaves history and its chain', async () => {
      const h = await startSynrc({ layout, overrides: { 'synrc.retention': 'delete-delivered' } })
      started.push(h)
      const w = await world(h, phone(3), phone(4))
      const { messages } = messagingOf(h.synrc.synrc!)
      const [m1, m2, m3] = [await send(w, 'one'), await send(w, 'two'), await send(w, 'three')]
      for (const d of [w.a2, w.b1]) await d.client.send(ackOf(m2))
      await w.b1.client.send({ $: 'History', roster_id: bin(w.B), feed: p2p(w.B, w.A), size: 5, status: 'get' })
      assert.deepEqual((await w.b1.client.next((r) => r.$ === 'History')).data.map((m: Rec) => m.id), [m3, m2, m1])
      await w.b2.client.send(ackOf(m2))
      await eventually(async () => (await messages.get(m2)) === undefined || undefined, 'm2 out of history')
      await w.b2.client.send({ $: 'History', roster_id: bin(w.B), feed: p2p(w.B, w.A), size: 5, status: 'get' })
      const page = await w.b2.client.next((r) => r.$ === 'History')
      assert.deepEqual(page.data.map((m: Rec) => [m.id, m.prev, m.next]), [[m3, m1, null], [m1, null, m3]])
      closeAll(w)
    })

    test('a device that logged out does not hold a message back', async () => {
      const h = await startSynrc({ layout, overrides: { 'synrc.retention': 'delete-delivered' } })
      started.push(h)
      const w = await world(h, phone(9), phone(10))
      const { messages } = messagingOf(h.synrc.synrc!)
      const id = await send(w, 'gone device')
      await w.a2.client.send({ $: 'Auth', type: 'logout' })
      await w.a2.client.next((r) => r.$ === 'io' && r.code?.code === 'logout')
      for (const d of [w.b1, w.b2]) await d.client.send(ackOf(id))
      await eventually(async () => (await messages.get(id)) === undefined || undefined, 'the message acknowledged by the devices left')
      closeAll(w)
    })

    test('an offline device gets what it missed from its broker session, once; Herald resends nothing the session holds', async () => {
      const h = await startSynrc({ layout })
      started.push(h)
      const w = await world(h, phone(5), phone(6))
      const s = h.synrc.synrc!
      // what Herald itself sends the device on its actions topic (the broker's redelivery is not Herald's)
      const resent: number[] = []
      const reply = s.reply.bind(s)
      s.reply = (clientId, rec) => {
        if (clientId === w.b2.clientId && rec.$ === 'Message') resent.push(rec.id)
        return reply(clientId, rec)
      }
      await w.b2.client.end()
      const ids = [await send(w, 'while away 1'), await send(w, 'while away 2')]
      w.b2.client = await reconnect(h, w.b2)
      for (const id of ids) await w.b2.client.next(isMsg(id))
      assert.equal(await w.b2.client.quiet(isMsg(), 500), true)
      assert.deepEqual(resent, [])
      // a clean session starts without the old one's queue: then Herald resends what is pending, oldest first
      await w.b2.client.end()
      const third = await send(w, 'while away 3')
      const clean = await SynrcClient.connect(h.mqttUrl, w.b2.clientId, layout, { password: w.b2.token, clean: true })
      const got = [await clean.next(isMsg()), await clean.next(isMsg()), await clean.next(isMsg())]
      assert.deepEqual(got.map((m) => m.id), [...ids, third])
      assert.deepEqual(resent, [...ids, third])
      assert.equal(await clean.quiet(isMsg(), 500), true)
      clean.mqtt.end(true)
      closeAll(w)
    })

    test('across a Herald restart: pending deliveries are resent to the device\'s actions topic, oldest first', async () => {
      const dataDir = mkdtempSync(join(tmpdir(), 'herald-synrc-restart-'))
      dirs.push(dataDir)
      const h1 = await startSynrc({ layout, overrides: { dataDir } })
      const w = await world(h1, phone(7), phone(8))
      await w.b2.client.end()
      const ids = [await send(w, 'r1'), await send(w, 'r2'), await send(w, 'r3')]
      // b1 was online: it acknowledges the first two, not the third (so it is owed that one again after the restart)
      for (const id of ids) await w.b1.client.next(isMsg(id))
      for (const id of ids.slice(0, 2)) await w.b1.client.send(ackOf(id))
      await w.a2.client.send(ackOf(ids[0]))
      const q = messagingOf(h1.synrc.synrc!).deliveries
      await eventually(async () => (await q.pendingFor(ids[0])) === 1 && (await q.pendingFor(ids[1])) === 2 || undefined, 'the acks before the restart')
      closeAll(w)
      await h1.close()

      const h2 = await startSynrc({ layout, overrides: { dataDir } })
      started.push(h2)
      providePrivateTopics(h2)
      const b2 = await reconnect(h2, w.b2)
      const got = [await b2.next(isMsg()), await b2.next(isMsg()), await b2.next(isMsg())]
      assert.deepEqual(got.map((m) => [m.id, str(m.files[0].payload)]), ids.map((id, i) => [id, `r${i + 1}`]))
      assert.equal(await b2.quiet(isMsg(), 500), true)
      const b1 = await reconnect(h2, w.b1)
      assert.equal((await b1.next(isMsg())).id, ids[2])
      assert.equal(await b1.quiet(isMsg(), 500), true)
      // a reconnect within the new session does not repeat them
      await b2.end()
      const again = await reconnect(h2, w.b2)
      assert.equal(await again.quiet(isMsg(), 500), true)
      for (const id of ids) await again.send(ackOf(id))
      await b1.send(ackOf(ids[2]))
      const a2 = await reconnect(h2, w.a2)
      assert.deepEqual((await Promise.all([a2.next(isMsg()), a2.next(isMsg())])).map((m) => m.id), ids.slice(1))
      for (const id of ids.slice(1)) await a2.send(ackOf(id))
      const { messages, deliveries } = messagingOf(h2.synrc.synrc!)
      for (const id of ids) {
        await eventually(async () => (await deliveries.pendingFor(id)) === 0 || undefined, `message ${id} delivered`)
        assert.ok(((await messages.get(id))?.delivered ?? 0) > 0)
      }
      for (const c of [b1, again, a2]) c.mqtt.end(true)
    })

    test('a delete reaches the device that missed it across a restart; its tombstone goes once every device has it', async () => {
      const dataDir = mkdtempSync(join(tmpdir(), 'herald-synrc-restart-'))
      dirs.push(dataDir)
      const h1 = await startSynrc({ layout, overrides: { dataDir } })
      const w = await world(h1, phone(11), phone(12))
      await w.b2.client.end()
      const id = await send(w, 'regret')
      await w.a1.client.send({ $: 'Message', id, feed_id: p2p(w.A, w.B), status: 'delete' })
      for (const d of [w.a2, w.b1]) {
        await d.client.next((r) => isMsg(id)(r) && r.status === 'delete')
        await d.client.send(ackOf(id))
      }
      const q = messagingOf(h1.synrc.synrc!).deliveries
      await eventually(async () => (await q.pendingFor(id)) === 1 || undefined, 'the two acks of the delete')
      closeAll(w)
      await h1.close()
      const h2 = await startSynrc({ layout, overrides: { dataDir } })
      started.push(h2)
      providePrivateTopics(h2)
      const b2 = await reconnect(h2, w.b2)
      const del = await b2.next(isMsg(id))
      assert.deepEqual([del.status, del.files], ['delete', []])
      assert.equal(await b2.quiet(isMsg(), 300), true)
      await b2.send(ackOf(id))
      const { messages } = messagingOf(h2.synrc.synrc!)
      await eventually(async () => (await messages.get(id)) === undefined || undefined, 'the tombstone gone')
      b2.mqtt.end(true)
    })
  })
}

describe('SYNRC delete after ack on PostgreSQL', async () => {
  const opts = requireService(await pgAvailable(), 'PostgreSQL')
  test('delete-delivered: the queue and the chain on PostgreSQL', opts, async () => {
    const h = await startSynrc({ db: 'postgres', overrides: { 'synrc.retention': 'delete-delivered' } })
    try {
      const w = await world(h, '380633009001', '380633009002')
      const { messages, deliveries } = messagingOf(h.synrc.synrc!)
      const [m1, m2] = [await send(w, 'pg1'), await send(w, 'pg2')]
      assert.equal((await messages.get(m1))?.next, m2)
      assert.equal(await deliveries.pendingFor(m1), 3)
      for (const d of [w.a2, w.b1, w.b2]) await d.client.send(ackOf(m1))
      await eventually(async () => (await messages.get(m1)) === undefined || undefined, 'm1 deleted')
      assert.equal((await messages.get(m2))?.prev, null)
      closeAll(w)
    } finally {
      await h.close()
    }
  })
})
