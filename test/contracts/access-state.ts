// Contract suite for AccessState (issue 9 §3, §6): what every implementation (memory, the store on SQLite and on
// PostgreSQL) must do, so that several nodes on one database agree on logins, client ids and hook logins.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { AccessState, AccessStateOptions } from '../../src/core/access/state.ts'
import { ManualClock } from '../../src/core/clock.ts'

export interface AccessStateFixture {
  /** two handles on the same state (two nodes), with this clock */
  make(o: AccessStateOptions): Promise<{ a: AccessState; b: AccessState; close(): Promise<void> }>
  /** the implementation is per process: a second node sees nothing of the first */
  perNode?: boolean
  /** no sweep(): the implementation bounds itself as it goes (memory) */
  selfBounded?: boolean
}

const HOLD = 60_000
const opts = (clock: ManualClock): AccessStateOptions => ({ failLimit: 3, failWindowMs: 10_000, clientIdHoldMs: HOLD, rememberMs: 30_000, clock })

export function accessStateContract(name: string, fx: AccessStateFixture, skip: string | false = false): void {
  describe(`AccessState contract: ${name}`, { skip }, () => {
    const run = (title: string, body: (s: { a: AccessState; b: AccessState; clock: ManualClock }) => Promise<void>, skipIt: string | false = false) =>
      test(title, { skip: skipIt }, async () => {
        const clock = new ManualClock()
        const s = await fx.make(opts(clock))
        try { await body({ ...s, clock }) } finally { await s.close() }
      })

    run('failed logins: blocked at the limit within the window, free again after it', async ({ a, b, clock }) => {
      for (let i = 0; i < 3; i++) { assert.equal(await a.blocked('u:alice'), false); await a.fail('u:alice') }
      assert.equal(await a.blocked('u:alice'), true)
      assert.equal(await a.blocked('u:bob'), false, 'per key')
      if (!fx.perNode) assert.equal(await b.blocked('u:alice'), true, 'the other node agrees')
      await clock.advance(10_001)
      assert.equal(await a.blocked('u:alice'), false)
      await a.fail('u:alice')
      assert.equal(await a.blocked('u:alice'), false, 'a new window starts at one')
    })

    run('client ids: the holder keeps its id; another owner is refused while it is held; a superuser may take it', async ({ a, b }) => {
      assert.equal(await a.claim('c1', 'heartsms\u0000alice', false), true)
      await a.connected('c1', 'heartsms\u0000alice')
      assert.equal(await a.claim('c1', 'heartsms\u0000mallory', false), false)
      if (!fx.perNode) assert.equal(await b.claim('c1', 'heartsms\u0000mallory', false), false, 'refused on the other node too')
      assert.equal(await a.claim('c1', 'heartsms\u0000alice', false), true, 'the holder reconnects')
      assert.equal(await a.isLive('c1', 'heartsms\u0000alice'), true)
      assert.equal(await a.isLive('c1', 'heartsms\u0000mallory'), false)
      assert.equal(await a.claim('c1', 'service\u0000herald', true), true, 'a superuser takes any id')
    })

    run('client ids: a clean session lets go at disconnect; a persistent one is held until the hold time passes', async ({ a, clock }) => {
      await a.claim('clean', 'k\u0000alice', false)
      await a.connected('clean', 'k\u0000alice')
      await a.disconnected('clean', 'k\u0000alice', true)
      assert.equal(await a.claim('clean', 'k\u0000bob', false), true)

      await a.claim('kept', 'k\u0000alice', false)
      await a.connected('kept', 'k\u0000alice')
      await a.disconnected('kept', 'k\u0000alice', false)
      assert.equal(await a.isLive('kept', 'k\u0000alice'), false)
      assert.equal(await a.claim('kept', 'k\u0000bob', false), false)
      await clock.advance(HOLD / 2)
      await a.touch('kept', 'k\u0000alice')
      await clock.advance(HOLD / 2 + 1)
      assert.equal(await a.claim('kept', 'k\u0000bob', false), false, 'a touch by the holder renews the hold')
      await clock.advance(HOLD + 1)
      assert.equal(await a.claim('kept', 'k\u0000bob', false), true)
    })

    run('client ids: two connections of one owner; the id stays live until both are gone', async ({ a }) => {
      await a.claim('two', 'k\u0000alice', false)
      await a.connected('two', 'k\u0000alice')
      await a.connected('two', 'k\u0000alice')
      await a.disconnected('two', 'k\u0000alice', true)
      assert.equal(await a.isLive('two', 'k\u0000alice'), true)
      assert.equal(await a.claim('two', 'k\u0000bob', false), false)
      await a.disconnected('two', 'k\u0000alice', true)
      assert.equal(await a.claim('two', 'k\u0000bob', false), true)
    })

    run('hook logins: remembered per key for a while, then forgotten', async ({ a, b, clock }) => {
      const p = { kind: 'chat21', username: 'u1', clientId: 'c9', attrs: { app_id: 'tilechat' }, grants: [{ topic: 'x/#', access: 'read' as const }] }
      await a.remember('JWT\u0000c9', p)
      assert.deepEqual(await a.recall('JWT\u0000c9'), p)
      if (!fx.perNode) assert.deepEqual(await b.recall('JWT\u0000c9'), p, 'the other node answers the broker the same')
      assert.equal(await a.recall('JWT\u0000other'), undefined)
      await clock.advance(30_001)
      assert.equal(await a.recall('JWT\u0000c9'), undefined)
    })

    run('sweep: expired state is deleted, live state kept, every answer the same', async ({ a, b, clock }) => {
      const p = { kind: 'k', username: 'u', attrs: {}, grants: [] }
      await a.fail('a:1.2.3.4')
      await a.claim('gone', 'k\u0000alice', false)
      await a.connected('gone', 'k\u0000alice')
      await a.disconnected('gone', 'k\u0000alice', false)
      await a.claim('live', 'k\u0000alice', false)
      await a.connected('live', 'k\u0000alice')
      await a.remember('old', p)
      await clock.advance(HOLD + 1)
      for (let i = 0; i < 3; i++) await a.fail('u:fresh')
      await a.remember('new', p)
      assert.equal(await b.sweep!(), 3, 'the failure window, the released id and the old hook login')
      assert.equal(await a.sweep!(), 0, 'nothing more')
      assert.equal(await a.blocked('u:fresh'), true)
      assert.equal(await a.isLive('live', 'k\u0000alice'), true)
      assert.equal(await a.claim('live', 'k\u0000bob', false), false, 'a live id is still held')
      assert.equal(await a.claim('gone', 'k\u0000bob', false), true)
      assert.deepEqual(await a.recall('new'), p)
      assert.equal(await a.recall('old'), undefined)
    }, fx.selfBounded ? 'bounds itself as it goes, no sweep' : false)
  })
}
