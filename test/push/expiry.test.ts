// UWPX §5.1, §5.3 #2, §12.2: a registration lives HERALD_PUSH_TTL_DAYS unless refreshed, by set_channel_uri too;
// time moves on a manual clock.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { ManualClock } from '../../src/core/clock.ts'
import { ERRORS } from '../../src/dialects/push/messages.ts'
import { eventually } from '../helpers.ts'
import { clientJson, startPush, URI, UwpxClient, type PushHerald } from './client.ts'

const DAY = 86_400_000
const OK = '{"action":"response","status":1,"version":2}\0'
const UNKNOWN = `{"action":"response","error":${JSON.stringify(ERRORS.unknownDevice)},"status":0,"version":2}\0`
const setUri = (d: string) => clientJson({ version: 2, action: 'set_channel_uri', device_id: d, channel_uri: URI })
const setAccounts = (d: string, ids: string[]) => clientJson({ version: 2, action: 'set_push_accounts', device_id: d, accounts: ids.map((account_id) => ({ account_id })) })
const testPush = (d: string) => clientJson({ version: 2, action: 'request_test_push', device_id: d })
const nodesOf = (r: string) => (JSON.parse(r.slice(0, -1)) as { accounts: { node: string; success: boolean }[] }).accounts

describe('UWPX record expiry (§5.1)', () => {
  const clock = new ManualClock()
  let h: PushHerald
  let c: UwpxClient
  before(async () => {
    // WNS configured (request_test_push answers status 1 only then), routed to a closed loopback port: never the internet
    h = await startPush({ clock, overrides: { 'push.ttlDays': 210, 'push.wns.clientId': 'ms-app://s-1-15-2-1', 'push.wns.clientSecret': 's', 'push.wns.connectTo': '127.0.0.1:9' } })
    c = await UwpxClient.connect(h)
  })
  after(async () => { c.close(); await h.close() })

  test('210 days after the last refresh the device is unknown and its nodes resolve no more', async () => {
    await c.ask(setUri('d-old'))
    const [a] = nodesOf(await c.ask(setAccounts('d-old', ['a'])))
    await clock.advance(210 * DAY - 1)
    assert.equal(await c.ask(testPush('d-old')), OK)
    assert.ok(await h.push.store!.byNode(a.node, clock.now()))
    await clock.advance(1)
    assert.equal(await c.ask(testPush('d-old')), UNKNOWN)
    assert.equal(await c.ask(setAccounts('d-old', ['a'])), UNKNOWN)
    assert.equal(await h.push.store!.byNode(a.node, clock.now()), undefined)
  })

  test('set_channel_uri refreshes the device and its accounts alike (no §5.3 #2 asymmetry)', async () => {
    await c.ask(setUri('d-fresh'))
    const [a] = nodesOf(await c.ask(setAccounts('d-fresh', ['a'])))
    await clock.advance(200 * DAY)
    assert.equal(await c.ask(setUri('d-fresh')), OK)
    await clock.advance(200 * DAY)
    assert.equal((await h.push.store!.byNode(a.node, clock.now()))?.account_id, 'a')
    const [again] = nodesOf(await c.ask(setAccounts('d-fresh', ['a'])))
    assert.deepEqual(again, a, 'the node is reused after 400 days of refreshes')
  })

  test('a device registered again after expiry starts over with new nodes', async () => {
    await c.ask(setUri('d-again'))
    const [a] = nodesOf(await c.ask(setAccounts('d-again', ['a'])))
    await clock.advance(211 * DAY)
    assert.equal(await c.ask(setUri('d-again')), OK)
    const [b] = nodesOf(await c.ask(setAccounts('d-again', ['a'])))
    assert.notEqual(b.node, a.node)
  })

  test('the hourly sweep deletes expired records and hands their nodes to the XMPP side for removal', async () => {
    await c.ask(setUri('d-sweep'))
    const [a] = nodesOf(await c.ask(setAccounts('d-sweep', ['a'])))
    await clock.advance(211 * DAY)
    // the sweeper sleeps an hour of the manual clock between rounds
    await eventually(async () => { await clock.advance(3_600_000); return h.nodes.removed.includes(a.node) }, 'the swept node removed')
    assert.deepEqual(await h.push.store!.accounts('d-sweep'), [])
  })
})
