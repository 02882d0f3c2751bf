// UWPX §3 over a real TLS socket on Herald's push port: the §3.5 wire examples byte for byte, every error reply,
// split and merged frames, a last message without NUL, node reuse (§5.3 #1), request_test_push refused without WNS.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { ERRORS } from '../../src/dialects/push/messages.ts'
import { ACC, clientJson, DEV, startPush, URI, UwpxClient, type PushHerald } from './client.ts'

const OK = '{"action":"response","status":1,"version":2}\0'
const err = (e: string) => `{"action":"response","error":${JSON.stringify(e)},"status":0,"version":2}\0`
const TOKEN = /^[0-9A-Za-z]{15}$/

type Acc = { account_id: string; node: string; secret: string; success: boolean }
const accountsOf = (reply: string): Acc[] => (JSON.parse(reply.slice(0, -1)) as { accounts: Acc[] }).accounts
/** the exact bytes of a set_push_accounts reply carrying these accounts */
const accountsReply = (accs: Acc[], jid = 'push@xmpp.uwpx.org') =>
  `{"accounts":[${accs.map((a) => `{"account_id":${JSON.stringify(a.account_id)},"node":"${a.node}","secret":"${a.secret}","success":${a.success}}`).join(',')}],"action":"response","push_bare_jid":"${jid}","status":1,"version":2}\0`

const setUri = (device = DEV, uri = URI) => clientJson({ version: 2, action: 'set_channel_uri', device_id: device, channel_uri: uri })
const setAccounts = (ids: string[], device = DEV, version = 2) =>
  clientJson({ version, action: 'set_push_accounts', device_id: device, accounts: ids.map((account_id) => ({ account_id })) })
const testPush = (device = DEV) => clientJson({ version: 2, action: 'request_test_push', device_id: device })

describe('UWPX registration server over TLS (§3)', () => {
  let h: PushHerald
  before(async () => { h = await startPush() })
  after(async () => { await h.close() })

  test('listens on its own port, reported in ports.push', () => {
    assert.equal(h.ports.push, h.push.port)
    assert.ok(h.push.port! > 0)
  })

  test('§3.5: set_channel_uri then set_push_accounts as the client writes them, byte for byte replies', async () => {
    const c = await UwpxClient.connect(h)
    assert.equal(await c.ask(setUri()), OK)
    const reply = await c.ask(setAccounts([ACC]))
    const [a] = accountsOf(reply)
    assert.match(a.node, TOKEN)
    assert.match(a.secret, TOKEN)
    assert.notEqual(a.node, a.secret)
    assert.equal(reply, accountsReply([{ account_id: ACC, node: a.node, secret: a.secret, success: true }]))
    assert.deepEqual(h.nodes.created, [a.node])
    c.close()
  })

  test('every §3.4 error reply, byte for byte, on one connection that keeps serving', async () => {
    const c = await UwpxClient.connect(h)
    const cases: [string | Buffer, string][] = [
      ['{"version":2,\0', ERRORS.malformed],
      [Buffer.from([0x7b, 0x22, 0xc3, 0x28, 0x22, 0x3a, 0x31, 0x7d, 0x00]), ERRORS.malformed],
      [clientJson({ version: 2, action: 'set_accounts', device_id: DEV }), ERRORS.malformed],
      [clientJson({ version: '2', action: 'request_test_push', device_id: DEV }), ERRORS.malformed],
      [clientJson({ version: 3, action: 'request_test_push', device_id: DEV }), ERRORS.invalid],
      [clientJson({ version: 2, action: 'set_push_accounts', device_id: DEV, accounts: [{ accountId: ACC }] }), ERRORS.invalid],
      [clientJson({ version: 2, action: 'set_channel_uri', device_id: DEV, channel_uri: '' }), ERRORS.invalid],
      [clientJson({ version: 2, action: 'response', status: 1 }), ERRORS.unsupported],
      [clientJson({ version: 2, action: 'response', status: 5 }), ERRORS.malformed],
      [setAccounts([ACC], 'unknown-device'), ERRORS.unknownDevice],
      [testPush('unknown-device'), ERRORS.unknownDevice],
      [setUri(DEV, 'ms-app://s-1-15-2-1234'), ERRORS.channelUri],
      [setUri(DEV, 'https://a.b.notify.windows.com/?token=x'), ERRORS.channelUri],
    ]
    for (const [req, e] of cases) assert.equal(await c.ask(req), err(e), String(req))
    assert.equal(await c.ask(setUri('d-errors')), OK, 'still serving')
    c.close()
  })

  test('a fault while handling answers the internal error (§3.4) and the connection serves on', async () => {
    const c = await UwpxClient.connect(h)
    await c.ask(setUri('d-fault'))
    h.nodes.answer = () => { throw new Error('xmpp down') }
    try {
      assert.equal(await c.ask(setAccounts(['x'], 'd-fault')), err(ERRORS.internal))
    } finally {
      h.nodes.answer = () => true
    }
    assert.equal(accountsOf(await c.ask(setAccounts(['x'], 'd-fault')))[0].success, true)
    c.close()
  })

  test('a message split over many TLS writes, and several in one write, answered in order', async () => {
    const c = await UwpxClient.connect(h)
    const whole = setUri('d-split')
    for (const part of whole.match(/[\s\S]{1,7}/g)!) {
      await c.write(part)
      await new Promise((r) => setTimeout(r, 2))
    }
    assert.equal((await c.reply()).toString(), OK)
    await c.write(setUri('d-merge') + testPush('nobody') + setAccounts([], 'd-merge'))
    assert.equal((await c.reply()).toString(), OK)
    assert.equal((await c.reply()).toString(), err(ERRORS.unknownDevice))
    assert.equal((await c.reply()).toString(), accountsReply([]))
    c.close()
  })

  test('a last message without NUL before the client half-closes is answered, then the server closes', async () => {
    const c = await UwpxClient.connect(h)
    await c.write(setUri('d-end').slice(0, -1).slice(0, 40))
    c.socket.end(setUri('d-end').slice(0, -1).slice(40))
    assert.equal((await c.reply()).toString(), OK)
    await c.done
    assert.equal(c.pending.length, 0)
  })

  test('a whole object without NUL in one read is answered at once (§12.1 item 2 compatibility)', async () => {
    const c = await UwpxClient.connect(h)
    assert.equal(await c.ask(setUri('d-nonul').slice(0, -1)), OK)
    // its late NUL is no second message
    assert.equal(await c.ask('\0' + testPush('nobody')), err(ERRORS.unknownDevice))
    c.close()
  })

  test('node reuse per (device, account): the same node and secret each time, dropped accounts removed (§5.3 #1)', async () => {
    const c = await UwpxClient.connect(h)
    await c.ask(setUri('d-reuse'))
    const first = accountsOf(await c.ask(setAccounts(['a', 'b'], 'd-reuse')))
    assert.deepEqual(first.map((a) => a.success), [true, true])
    for (let i = 0; i < 3; i++) {
      const again = accountsOf(await c.ask(setAccounts(['b', 'a'], 'd-reuse')))
      assert.deepEqual(again, [first[1], first[0]], `call ${i + 2}: the same nodes, in request order`)
      const target = await h.push.store!.byNode(first[0].node, Date.now())
      assert.equal(target?.account_id, 'a', `call ${i + 2}: the node still resolves`)
    }
    const created = h.nodes.created.length
    const third = accountsOf(await c.ask(setAccounts(['a', 'c', 'a'], 'd-reuse')))
    assert.deepEqual(third[0], first[0])
    assert.deepEqual(third[2], first[0], 'an account listed twice is answered the same')
    assert.notEqual(third[1].node, first[1].node)
    assert.equal(h.nodes.created.length, created + 1, 'only c got a new node')
    assert.ok(h.nodes.removed.includes(first[1].node), "b's node removed")
    assert.equal(await h.push.store!.byNode(first[1].node, Date.now()), undefined)
    assert.equal(await c.ask(setAccounts([], 'd-reuse')), accountsReply([]))
    assert.ok(h.nodes.removed.includes(first[0].node) && h.nodes.removed.includes(third[1].node))
    c.close()
  })

  test('an account whose node the XMPP side could not make ready: success false, not stored, a new node next time', async () => {
    const c = await UwpxClient.connect(h)
    await c.ask(setUri('d-fail'))
    h.nodes.answer = () => false
    const [a] = accountsOf(await c.ask(setAccounts(['z'], 'd-fail')))
    h.nodes.answer = () => true
    assert.equal(a.success, false)
    assert.equal(await h.push.store!.byNode(a.node, Date.now()), undefined)
    const [b] = accountsOf(await c.ask(setAccounts(['z'], 'd-fail')))
    assert.equal(b.success, true)
    assert.notEqual(b.node, a.node)
    c.close()
  })

  test('request_test_push without WNS credentials: the §3.4 test-push error, nothing queued (delivery: test-push.test.ts)', async () => {
    const c = await UwpxClient.connect(h)
    await c.ask(setUri('d-test1'))
    assert.equal(await c.ask(testPush('d-test1')), err(ERRORS.testPush))
    assert.deepEqual(await h.pushDispatch.store.list(), [])
    c.close()
  })

  test('set_channel_uri keeps the version and accounts (§3.3)', async () => {
    const c = await UwpxClient.connect(h)
    await c.ask(setUri('d-keep'))
    const [a] = accountsOf(await c.ask(setAccounts(['k'], 'd-keep', 1)))
    assert.equal(await c.ask(setUri('d-keep', 'https://wns2-db5p.notify.windows.com/?token=AwYA%3d%3d')), OK)
    const t = await h.push.store!.byNode(a.node, Date.now())
    assert.equal(t?.channel_uri, 'https://wns2-db5p.notify.windows.com/?token=AwYA%3d%3d')
    assert.equal(t?.version, '1')
    c.close()
  })

  test('TLS 1.2 and TLS 1.3 both negotiate', async () => {
    for (const v of ['TLSv1.2', 'TLSv1.3'] as const) {
      const c = await UwpxClient.connect(h, { minVersion: v, maxVersion: v })
      assert.equal(c.socket.getProtocol(), v)
      assert.equal(await c.ask(testPush('nobody')), err(ERRORS.unknownDevice))
      c.close()
    }
  })

  test('TLS 1.1 is refused', async () => {
    await assert.rejects(UwpxClient.connect(h, { minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT:@SECLEVEL=0' }))
  })
})

describe('UWPX with HERALD_PUSH_XMPP_MODE=off', () => {
  let h: PushHerald
  before(async () => { h = await startPush({ nodes: null, overrides: { 'push.xmpp.jid': 'push@example.org' } }) })
  after(async () => { await h.close() })

  test('new accounts answer success:false (nothing could publish), push_bare_jid from HERALD_PUSH_XMPP_JID', async () => {
    const c = await UwpxClient.connect(h)
    await c.ask(setUri())
    const reply = await c.ask(setAccounts([ACC]))
    const [a] = accountsOf(reply)
    assert.equal(reply, accountsReply([{ ...a, success: false }], 'push@example.org'))
    assert.equal(await h.push.store!.byNode(a.node, Date.now()), undefined)
    c.close()
  })
})
