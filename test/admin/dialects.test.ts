// GET /api/v1/admin/dialects/:name: each dialect's summary() (issue 15 item 1), counts read from its own tables.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { createDialects } from '../../src/dialects/index.ts'
import { HeartStore } from '../../src/dialects/heartsms/store.ts'
import { Chat21Store } from '../../src/dialects/chat21/store.ts'
import { PushStore } from '../../src/dialects/push/store.ts'
import { startTestHerald, type TestHerald } from '../helpers.ts'

const ROOT = `Basic ${Buffer.from('root:root-pw').toString('base64')}`

describe('dialect summaries', () => {
  let h: TestHerald
  const summary = async (name: string) => {
    const r = await fetch(`${h.httpUrl}/api/v1/admin/dialects/${name}`, { headers: { authorization: ROOT } })
    assert.equal(r.status, 200)
    const body = await r.json() as { name: string; summary: Record<string, any> }
    assert.equal(body.name, name)
    return body.summary
  }

  before(async () => {
    const dialects = createDialects()
    h = await startTestHerald({ dialects, settings: dialects.flatMap((d) => d.settings ?? []), overrides: { 'push.port': 0 } })
    await h.users.add('root', 'root-pw', true)
  })
  after(async () => { await h.close() })

  test('GET /dialects lists the four enabled dialects, each with a summary', async () => {
    const r = await fetch(`${h.httpUrl}/api/v1/admin/dialects`, { headers: { authorization: ROOT } })
    assert.deepEqual(await r.json(), { items: ['heartsms', 'chat21', 'synrc', 'push'].map((name) => ({ name, summary: true })) })
  })

  test('heartsms: accounts and devices', async () => {
    assert.deepEqual(await summary('heartsms'), { accounts: 0, devices: 0 })
    await new HeartStore(h.store).createAccount({ session_id: 's-1', username: 'alice', password_hash: 'x', real_name: null, salt1: 'a', salt2: 'b', phone_number: '1' })
    assert.deepEqual(await summary('heartsms'), { accounts: 1, devices: 0 })
  })

  test('chat21: conversations, groups, messages, webhook delivery state', async () => {
    const before = await summary('chat21')
    assert.deepEqual(before, { appId: 'tilechat', conversations: 0, groups: 0, messages: 0, instances: 0, webhooks: { queued: 0, dead: 0 } })
    await new Chat21Store(h.store.db, h.outbox).saveGroup({ uid: 'group-1', appId: 'tilechat', members: {} })
    assert.equal((await summary('chat21')).groups, 1)
  })

  test('synrc: users, devices, rooms, connected devices', async () => {
    const s = await summary('synrc')
    for (const k of ['users', 'devices', 'rooms', 'connectedDevices']) assert.equal(s[k], 0, k)
  })

  test('push: registered devices and accounts, XMPP link state, queue per provider', async () => {
    const s = await summary('push')
    assert.equal(s.devices, 0)
    assert.equal(s.accounts, 0)
    assert.deepEqual(s.xmpp, { mode: 'off', up: null })
    assert.equal(typeof s.queue, 'object')
    await new PushStore(h.store.db, h.store.kind).setChannelUri('dev-1', 'https://db5p.notify.windows.com/?token=x', Date.now(), Date.now() + 60_000)
    assert.equal((await summary('push')).devices, 1)
  })
})
