// UWPX §5, §12.2–12.3: the push dialect's store on SQLite and PostgreSQL, the same assertions on both: upsert
// keeping version and accounts, full replacement with node reuse (no §5.3 #1 corruption), node lookup, expiry.
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { migrate, openStore, type Store } from '../../src/core/store/db.ts'
import { pushMigrations } from '../../src/dialects/push/migrations.ts'
import { PushStore } from '../../src/dialects/push/store.ts'
import { createPgSchema, dropPgSchema, PG_URL, pgAvailable, pgUrlForSchema, requireService } from '../helpers.ts'

/** millisecond timestamps past 2^32 (BIGINT columns) */
const T0 = 1_764_000_000_000
const TTL = 210 * 86_400_000
const URI = 'https://db5p.notify.windows.com/?token=AAA'

function contract(kind: 'sqlite' | 'postgres', opts: { skip?: string | false }): void {
  describe(`push store on ${kind}`, opts, () => {
    let dataDir: string
    let schema: string | undefined
    let store: Store
    let s: PushStore

    before(async () => {
      if (opts.skip) return
      dataDir = mkdtempSync(join(tmpdir(), 'herald-push-store-'))
      if (kind === 'postgres') schema = await createPgSchema()
      store = openStore({ dataDir, databaseUrl: schema ? pgUrlForSchema(schema) : '' })
      await migrate(store.db, 'push', pushMigrations)
      await migrate(store.db, 'push', pushMigrations)
      s = new PushStore(store.db, store.kind)
    })
    after(async () => {
      if (opts.skip) return
      await store.close()
      if (schema) await dropPgSchema(schema)
      rmSync(dataDir, { recursive: true, force: true })
    })

    test('set_channel_uri inserts, then updates keeping version and accounts (§3.3)', async () => {
      await s.setChannelUri('d1', URI, T0, T0 + TTL)
      assert.deepEqual(await s.device('d1', T0), { device_id: 'd1', channel_uri: URI, version: null, updated_at: T0, expires_at: T0 + TTL })
      assert.equal(await s.replaceAccounts('d1', '2', [{ account_id: 'a', node: 'n1', secret: 's1' }], T0 + 1, T0 + 1 + TTL), true)
      await s.setChannelUri('d1', `${URI}2`, T0 + 2, T0 + 2 + TTL)
      const d = await s.device('d1', T0 + 2)
      assert.equal(d?.channel_uri, `${URI}2`)
      assert.equal(d?.version, '2')
      assert.equal(d?.expires_at, T0 + 2 + TTL)
      assert.deepEqual((await s.accounts('d1')).map((a) => [a.account_id, a.node, a.secret]), [['a', 'n1', 's1']])
    })

    test('replaceAccounts on an unknown device changes nothing', async () => {
      assert.equal(await s.replaceAccounts('nobody', '2', [{ account_id: 'a', node: 'nx', secret: 's' }], T0, T0 + TTL), false)
      assert.equal(await s.byNode('nx', T0), undefined)
    })

    test('the account set is replaced whole; a reused node keeps delivering every time (§5.3 #1)', async () => {
      await s.setChannelUri('d2', URI, T0, T0 + TTL)
      for (let i = 0; i < 3; i++) {
        assert.equal(await s.replaceAccounts('d2', '2', [{ account_id: 'a', node: 'm1', secret: 't1' }, { account_id: 'b', node: `m${i + 2}`, secret: 't' }], T0 + i, T0 + i + TTL), true)
        assert.deepEqual(await s.byNode('m1', T0 + i), { node: 'm1', account_id: 'a', device_id: 'd2', secret: 't1', channel_uri: URI, version: '2' }, `call ${i + 1}`)
        assert.ok(await s.byNode(`m${i + 2}`, T0 + i))
        if (i > 0) assert.equal(await s.byNode(`m${i + 1}`, T0 + i), undefined, 'the dropped node is gone')
      }
      assert.equal((await s.accounts('d2')).length, 2)
      // the first registration time of a reused node survives the rewrite
      assert.equal((await s.accounts('d2')).find((a) => a.node === 'm1')?.created_at, T0)
      assert.equal(await s.replaceAccounts('d2', '1', [], T0 + 5, T0 + 5 + TTL), true)
      assert.deepEqual(await s.accounts('d2'), [])
      assert.equal((await s.device('d2', T0 + 5))?.version, '1')
    })

    test('records expire after their lifetime unless refreshed; the sweep deletes them and names their nodes', async () => {
      await s.setChannelUri('d3', URI, T0, T0 + 1000)
      await s.replaceAccounts('d3', '2', [{ account_id: 'a', node: 'e1', secret: 's' }], T0, T0 + 1000)
      await s.setChannelUri('d4', URI, T0, T0 + 1000)
      await s.setChannelUri('d4', URI, T0 + 500, T0 + 1500)
      assert.ok(await s.device('d3', T0 + 999))
      assert.equal(await s.device('d3', T0 + 1000), undefined)
      assert.equal(await s.byNode('e1', T0 + 1000), undefined)
      assert.equal(await s.replaceAccounts('d3', '2', [], T0 + 1000, T0 + 2000), false, 'an expired device is unknown')
      assert.ok(await s.device('d4', T0 + 1000), 'refreshed by set_channel_uri')
      const swept = await s.sweep(T0 + 1000)
      assert.ok(swept.includes('e1'))
      assert.deepEqual(await s.accounts('d3'), [])
      assert.ok(await s.device('d4', T0 + 1000))
    })

    test('set_channel_uri on an expired record starts over: no version, no accounts', async () => {
      await s.setChannelUri('d5', URI, T0, T0 + 1000)
      await s.replaceAccounts('d5', '2', [{ account_id: 'a', node: 'f1', secret: 's' }], T0, T0 + 1000)
      await s.setChannelUri('d5', URI, T0 + 2000, T0 + 3000)
      const d = await s.device('d5', T0 + 2000)
      assert.equal(d?.version, null)
      assert.deepEqual(await s.accounts('d5'), [])
      assert.equal(await s.byNode('f1', T0 + 2000), undefined)
    })

    test('ids of any length and characters are kept exactly', async () => {
      const id = `dé😀'"${'x'.repeat(500)}`
      await s.setChannelUri(id, URI, T0, T0 + TTL)
      await s.replaceAccounts(id, '2', [{ account_id: id, node: 'g1', secret: 's' }], T0, T0 + TTL)
      assert.equal((await s.byNode('g1', T0))?.account_id, id)
    })
  })
}

contract('sqlite', { skip: false })
contract('postgres', requireService(await pgAvailable(), `PostgreSQL at ${PG_URL}`))
