// The presence contract (issue 9 §6): every Presence implementation passes it, the way aedes-persistence ships one
// abstract suite for its backends. Time moves on ManualClocks, one per node, so a node "crashes" by its clock
// standing still while the others' move on.
import assert from 'node:assert/strict'
import { after, describe, test } from 'node:test'
import { ManualClock } from '../../src/core/clock.ts'
import type { Presence, PresenceChange } from '../../src/core/presence/types.ts'
import { eventually } from '../helpers.ts'

export interface PresenceFixture {
  /** several nodes share one state (Redis); without it only one node is ever opened */
  shared: boolean
  /** open a node whose time is `clock`; a node not heard from for `nodeTtlMs` is dead */
  node(clock: ManualClock, nodeTtlMs: number): Promise<Presence>
  close(): Promise<void>
}

const TTL = 3_000

const until = eventually

function recorder(p: Presence): PresenceChange[] {
  const seen: PresenceChange[] = []
  p.onChange((c) => seen.push(c))
  return seen
}

const seenOf = (seen: PresenceChange[], online: boolean, clientId: string) =>
  seen.find((c) => c.online === online && c.entry.clientId === clientId)

const ids = (entries: { clientId: string }[]) => entries.map((e) => e.clientId).sort()

export function presenceContract(name: string, factory: () => Promise<PresenceFixture>, opts: { skip?: string | false } = {}): void {
  describe(`presence contract: ${name}`, { skip: opts.skip }, () => {
    const fixtures: PresenceFixture[] = []
    after(async () => { for (const f of fixtures) await f.close() })
    const open = async () => {
      const f = await factory()
      fixtures.push(f)
      return f
    }

    test('connect makes a client online, disconnect offline; isOnline, byUser and count agree', async () => {
      const f = await open()
      const clock = new ManualClock()
      const p = await f.node(clock, TTL)
      const e = await p.connected({ clientId: 'c1', kind: 'heartsms', username: 'alice', listener: 'mqtt' })
      assert.deepEqual(e, { clientId: 'c1', kind: 'heartsms', username: 'alice', listener: 'mqtt', node: p.node, since: e.since })
      assert.equal(await p.isOnline('c1'), true)
      assert.equal(await p.isOnline('c2'), false)
      assert.deepEqual(await p.byUser('heartsms', 'alice'), [e])
      assert.equal(await p.count(), 1)
      await p.disconnected('c1', e.since)
      assert.equal(await p.isOnline('c1'), false)
      assert.deepEqual(await p.byUser('heartsms', 'alice'), [])
      assert.equal(await p.count(), 0)
      await p.disconnected('c1')
    })

    test('several clients of one user are listed together, apart from other users and other kinds', async () => {
      const f = await open()
      const p = await f.node(new ManualClock(), TTL)
      const mine = await Promise.all(['a1', 'a2', 'a3'].map((clientId) => p.connected({ clientId, kind: 'heartsms', username: 'alice', listener: 'ws' })))
      await p.connected({ clientId: 'b1', kind: 'heartsms', username: 'bob', listener: 'ws' })
      await p.connected({ clientId: 'x1', kind: 'chat21', username: 'alice', listener: 'ws' })
      assert.deepEqual(ids(await p.byUser('heartsms', 'alice')), ['a1', 'a2', 'a3'])
      assert.deepEqual(ids(await p.byUser('chat21', 'alice')), ['x1'])
      assert.equal(await p.count(), 5)
      await p.disconnected('a2', mine[1].since)
      assert.deepEqual(ids(await p.byUser('heartsms', 'alice')), ['a1', 'a3'])
      assert.deepEqual(ids(await p.byUser('heartsms', 'bob')), ['b1'])
      assert.equal(await p.count(), 4)
    })

    test('a reconnect with the same client id replaces its entry; the old connection\'s late disconnect changes nothing', async () => {
      const f = await open()
      const clock = new ManualClock()
      const p = await f.node(clock, TTL)
      const first = await p.connected({ clientId: 'r1', kind: 'heartsms', username: 'alice', listener: 'mqtt' })
      const second = await p.connected({ clientId: 'r1', kind: 'heartsms', username: 'alice', listener: 'wss' })
      assert.notEqual(second.since, first.since)
      assert.deepEqual(await p.byUser('heartsms', 'alice'), [second])
      assert.equal(await p.count(), 1)
      await p.disconnected('r1', first.since)
      assert.equal(await p.isOnline('r1'), true)
      // a client id taken over by another account leaves the old account's list
      const third = await p.connected({ clientId: 'r1', kind: 'heartsms', username: 'bob', listener: 'mqtt' })
      assert.deepEqual(await p.byUser('heartsms', 'alice'), [])
      assert.deepEqual(await p.byUser('heartsms', 'bob'), [third])
      await p.disconnected('r1', third.since)
      assert.equal(await p.isOnline('r1'), false)
      assert.equal(await p.count(), 0)
    })

    test('onChange reports online and offline with the entry; unsubscribing stops it', async () => {
      const f = await open()
      const p = await f.node(new ManualClock(), TTL)
      const seen = recorder(p)
      const later: PresenceChange[] = []
      const off = p.onChange((c) => later.push(c))
      off()
      const e = await p.connected({ clientId: 'o1', kind: 'chat21', username: 'u1', listener: 'mqtt' })
      await until(() => seenOf(seen, true, 'o1'), 'the online change')
      assert.deepEqual(seenOf(seen, true, 'o1')?.entry, e)
      await p.disconnected('o1', e.since)
      await until(() => seenOf(seen, false, 'o1'), 'the offline change')
      assert.deepEqual(later, [])
    })

    test('an expiring entry (hook login) lives until its time, touch extends it, then it goes offline', async () => {
      const f = await open()
      const clock = new ManualClock()
      const p = await f.node(clock, TTL)
      const seen = recorder(p)
      await p.connected({ clientId: 'h1', kind: 'heartsms', username: 'alice', listener: 'hook', expiresAt: clock.now() + 1_000 })
      const bound = await p.connected({ clientId: 'h2', kind: 'heartsms', username: 'alice', listener: 'mqtt' })
      assert.equal(await p.touch('h1', clock.now() + 3_000), true)
      assert.equal(await p.touch('h2', clock.now() + 3_000), false, 'a node-bound entry does not expire')
      assert.equal(await p.touch('nobody', clock.now() + 3_000), false)
      await clock.advance(2_000)
      assert.equal(await p.isOnline('h1'), true)
      assert.equal((await p.byUser('heartsms', 'alice')).find((e) => e.clientId === 'h1')?.expiresAt, clock.now() + 1_000)
      await clock.advance(1_000)
      assert.equal(await p.isOnline('h1'), false)
      assert.deepEqual(await p.byUser('heartsms', 'alice'), [bound])
      assert.equal(await p.count(), 1)
      assert.equal(await p.touch('h1', clock.now() + 3_000), false, 'an expired entry is not revived')
      // the sweeper removes it and says so
      await until(async () => { await clock.advance(1_000); return seenOf(seen, false, 'h1') }, 'the expired entry\'s offline change')
      assert.equal(await p.isOnline('h2'), true)
    })

    test('closing a node removes its own entries (offline changes), not expiring ones', async () => {
      const f = await open()
      const clock = new ManualClock()
      const p = await f.node(clock, TTL)
      await p.connected({ clientId: 'k1', kind: 'heartsms', username: 'alice', listener: 'mqtt' })
      await p.connected({ clientId: 'k2', kind: 'heartsms', username: 'alice', listener: 'hook', expiresAt: clock.now() + 60_000 })
      if (!f.shared) {
        await p.close()
        return
      }
      const q = await f.node(clock, TTL)
      const seen = recorder(q)
      await p.close()
      await until(() => seenOf(seen, false, 'k1'), 'k1 offline')
      assert.equal(await q.isOnline('k1'), false)
      assert.equal(await q.isOnline('k2'), true)
    })

    test('two nodes see each other\'s clients and changes', async (t) => {
      const f = await open()
      if (!f.shared) return t.skip('one node only: nothing is shared')
      const a = await f.node(new ManualClock(), TTL)
      const b = await f.node(new ManualClock(), TTL)
      assert.notEqual(a.node, b.node)
      const seenA = recorder(a)
      const seenB = recorder(b)
      const ea = await a.connected({ clientId: 'n1', kind: 'chat21', username: 'u1', listener: 'mqtt' })
      await b.connected({ clientId: 'n2', kind: 'chat21', username: 'u1', listener: 'ws' })
      await until(() => seenOf(seenB, true, 'n1') && seenOf(seenA, true, 'n2'), 'each node to see the other\'s connect')
      assert.deepEqual(seenOf(seenB, true, 'n1')?.entry, ea)
      for (const p of [a, b]) {
        assert.deepEqual(ids(await p.byUser('chat21', 'u1')), ['n1', 'n2'])
        assert.equal(await p.count(), 2)
      }
      // the client moves to node b; node a's late disconnect of the old connection does not undo it
      const moved = await b.connected({ clientId: 'n1', kind: 'chat21', username: 'u1', listener: 'ws' })
      await a.disconnected('n1', ea.since)
      assert.deepEqual((await a.byUser('chat21', 'u1')).find((e) => e.clientId === 'n1'), moved)
      await b.disconnected('n1', moved.since)
      await until(() => seenOf(seenA, false, 'n1'), 'node a to see n1 go')
      assert.equal(await a.isOnline('n1'), false)
    })

    test('a crashed node\'s entries expire for the others and are swept; a node back from a stall announces its clients again', async (t) => {
      const f = await open()
      if (!f.shared) return t.skip('one node only: a crash takes its memory with it')
      const clockA = new ManualClock()
      const clockB = new ManualClock()
      const a = await f.node(clockA, TTL)
      const b = await f.node(clockB, TTL)
      const seenB = recorder(b)
      await a.connected({ clientId: 'd1', kind: 'heartsms', username: 'alice', listener: 'mqtt' })
      await a.connected({ clientId: 'd2', kind: 'heartsms', username: 'alice', listener: 'hook', expiresAt: clockA.now() + 60_000 })
      await b.connected({ clientId: 'd3', kind: 'heartsms', username: 'alice', listener: 'mqtt' })
      assert.equal(await b.isOnline('d1'), true)
      // node a stands still (its heartbeat stops): past its deadline b ignores its entries, then sweeps them
      await clockB.advance(TTL + 1)
      assert.equal(await b.isOnline('d1'), false)
      assert.deepEqual(ids(await b.byUser('heartsms', 'alice')), ['d2', 'd3'], 'an expiring entry outlives its node')
      assert.equal(await b.count(), 2)
      // a heartbeat runs once its Redis round trip is done: time moves on in steps until it has
      await until(async () => { await clockB.advance(TTL / 3); return seenOf(seenB, false, 'd1') }, 'the dead node\'s entry to be swept')
      // node a's clock moves again: its heartbeat finds it was taken for dead and puts its clients back
      await until(async () => { await clockA.advance(TTL / 3); return b.isOnline('d1') }, 'node a to announce d1 again')
      assert.equal(await b.count(), 3)
    })
  })
}
