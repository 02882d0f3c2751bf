// Client mode end to end against a real Prosody 0.12 (uwpx-push §6.1, §7, §12.1 item 7a, §14 item 5): Herald logs in
// as push@localhost, a device registers over UWPX, a user enables push with the node and secret it got and goes
// offline, another user writes, mod_cloud_notify publishes into Herald's PEP node, and the local WNS gets exactly one
// raw push per message with the §4.2 body. Also: node removal (#owner), readiness, reconnect, STARTTLS verification,
// and the stock-Prosody fact that needs contrib/prosody/mod_cloud_notify_local_pep.lua.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { xml } from '@xmpp/client'
import type { XmppClientMode } from '../../src/dialects/push/xmpp-client.ts'
import { eventually, freePort, requireService } from '../helpers.ts'
import { Prosody, PROSODY_NEEDED, prosodyAvailable, startProsody } from './prosody.ts'
import { accountIdOf, chat, enableIq, login, onChannel, PASSWORDS, pushesOn, register, startRig, USERS, v2Body, type Rig } from './xmpp-rig.ts'

const NS_PUBSUB = 'http://jabber.org/protocol/pubsub'
const skip = requireService(prosodyAvailable(), PROSODY_NEEDED)

const clientMode = (p: Prosody, extra: Record<string, unknown> = {}) => ({
  'push.xmpp.mode': 'client', 'push.xmpp.jid': `push@${p.domain}`, 'push.xmpp.password': PASSWORDS.push,
  'push.xmpp.service': p.service, 'push.xmpp.caFile': p.certFile, ...extra,
})
const xmppOf = (r: Rig) => r.h.push.xmpp as XmppClientMode
const readyz = async (r: Rig) => (await fetch(`${r.h.httpUrl}/readyz`)).status
const metric = async (r: Rig, outcome: string) => {
  const text = await (await fetch(r.h.metricsUrl + '/metrics')).text()
  return Number(new RegExp(`^push_xmpp_publishes_total\\{mode="client",outcome="${outcome}"\\} (\\d+)`, 'm').exec(text)?.[1] ?? 0)
}

/** a user enables push with what Herald gave, then goes offline (§7 step 3) */
async function enableThenLeave(p: Prosody, user: string, pushJid: string, node: string, secret: string): Promise<void> {
  const u = await login(p, user)
  const r = await u.request(enableIq(pushJid, node, secret))
  assert.equal(r.attrs.type, 'result')
  await u.close()
}

describe('client mode against Prosody with the contrib module (§6.1, §7)', skip, () => {
  let p: Prosody
  let rig: Rig
  before(async () => {
    p = await startProsody({ users: USERS, localPepFix: true })
    rig = await startRig(clientMode(p))
    await eventually(() => xmppOf(rig).up, 'the push account logged in', 15_000)
  })
  after(async () => {
    await rig?.close()
    await p?.close()
  })

  test('/readyz is ready once the XMPP session is up, and push_xmpp_up says so', async () => {
    assert.equal(await readyz(rig), 200)
    assert.match(await (await fetch(rig.h.metricsUrl + '/metrics')).text(), /^push_xmpp_up\{mode="client"\} 1$/m)
  })

  test('a message to an offline user: exactly one WNS raw push per message, the §4.2 v2 body, no sender or body', async () => {
    const [alice] = await register(rig.h, 'device-a', 'alice1', ['alice@localhost'])
    assert.equal(alice.success, true)
    assert.equal(alice.push_bare_jid, 'push@localhost')
    // a second device, v1 (§4.2): the notification element, the private fields left out, <account id> appended
    const [carol] = await register(rig.h, 'device-c', 'carol1', ['carol@localhost'], 1)
    assert.equal(carol.success, true)
    await enableThenLeave(p, 'alice', alice.push_bare_jid, alice.node, alice.secret)
    await enableThenLeave(p, 'carol', carol.push_bare_jid, carol.node, carol.secret)

    const bob = await login(p, 'bob')
    try {
      await bob.client.send(chat('alice@localhost', 'secret words from bob'))
      assert.deepEqual(await pushesOn(rig.fake, 'alice1', 1), [v2Body(accountIdOf('device-a', 'alice@localhost'))])
      await bob.client.send(chat('alice@localhost', 'more words'))
      await pushesOn(rig.fake, 'alice1', 2)
      // carol's push comes through the same session after alice's: a duplicate of those would have come first
      await bob.client.send(chat('carol@localhost', 'hello carol'))
      const [v1] = await pushesOn(rig.fake, 'carol1', 1)
      assert.deepEqual(await pushesOn(rig.fake, 'alice1', 2), [v2Body(alice.account_id), v2Body(alice.account_id)], 'one push per message')
      assert.equal(alice.account_id, accountIdOf('device-a', 'alice@localhost'))

      const n = onChannel(rig.fake, 'alice1')[0]
      assert.equal(n.method, 'POST')
      assert.equal(n.headers['x-wns-type'], 'wns/raw')
      assert.equal(n.headers['content-type'], 'application/octet-stream')

      assert.match(v1, /^<notification xmlns="urn:xmpp:push:0"><x [^>]*xmlns="jabber:x:data"[^>]*>.*<\/x><account id="[0-9a-f]{64}"\/><\/notification>$/)
      assert.ok(v1.includes(`<account id="${carol.account_id}"/>`))
      // attribute order is Prosody's (a Lua table's, not fixed)
      assert.match(v1, /<field (?=[^>]*var="message-count")[^>]*><value>1<\/value><\/field>/)
      assert.match(v1, /<field (?=[^>]*var="FORM_TYPE")[^>]*><value>urn:xmpp:push:summary<\/value><\/field>/)
      for (const text of ['last-message-body', 'last-message-sender', 'New Message!', 'bob', 'hello carol']) assert.ok(!v1.includes(text), `${text} in ${v1}`)
      for (const body of await pushesOn(rig.fake, 'alice1', 2)) assert.ok(!body.includes('bob') && !body.includes('words'))
      // Herald's own node-creating items came back as events (on subscribe) and were not pushes
      assert.ok(await metric(rig, 'ignored') >= 2)
      assert.equal(await metric(rig, 'queued'), 3)
    } finally { await bob.close() }
  })

  test('an account dropped by set_push_accounts: its PEP node is unsubscribed and deleted (#owner)', async () => {
    const [dave] = await register(rig.h, 'device-d', 'dave1', ['dave@localhost'])
    assert.equal(dave.success, true)
    const owner = await login(p, 'push')
    try {
      const items = xml('iq', { type: 'get' }, xml('pubsub', { xmlns: NS_PUBSUB }, xml('items', { node: dave.node })))
      assert.equal((await owner.request(items)).attrs.type, 'result', 'the node exists')
      assert.deepEqual(await register(rig.h, 'device-d', 'dave1', []), [])
      await assert.rejects(owner.request(xml('iq', { type: 'get' }, xml('pubsub', { xmlns: NS_PUBSUB }, xml('items', { node: dave.node })))),
        (err: Error & { condition?: string }) => err.condition === 'item-not-found')
    } finally { await owner.close() }
  })

  test('STARTTLS: a certificate Node does not trust is refused (no session, /readyz 503); TLS_INSECURE accepts it', async () => {
    const strict = await startRig(clientMode(p, { 'push.xmpp.caFile': '', 'push.xmpp.readyWaitMs': 200 }))
    try {
      const x = xmppOf(strict)
      await eventually(() => x.failures >= 1, 'a failed login', 15_000)
      assert.match(String(x.lastError?.message), /self[- ]signed|certificate/i)
      assert.equal(x.up, false)
      assert.equal(await readyz(strict), 503)
      assert.match(await (await fetch(strict.h.metricsUrl + '/metrics')).text(), /^push_xmpp_up\{mode="client"\} 0$/m)
      const [r] = await register(strict.h, 'device-s', 'strict1', ['alice@localhost'])
      assert.equal(r.success, false, 'no session: the node cannot be made')
    } finally { await strict.close() }
    const insecure = await startRig(clientMode(p, { 'push.xmpp.caFile': '', 'push.xmpp.tlsInsecure': true }))
    try {
      await eventually(() => xmppOf(insecure).up, 'logged in without verification', 15_000)
      assert.equal(await readyz(insecure), 200)
    } finally { await insecure.close() }
  })
})

describe('client mode: the STARTTLS certificate must name the JID\'s domain', skip, () => {
  let p: Prosody
  before(async () => { p = await startProsody({ users: USERS, domain: 'example.test', certNames: ['other.example'] }) })
  after(async () => { await p?.close() })

  test('a trusted certificate for another name is refused; TLS_INSECURE accepts it', async () => {
    const wrongName = await startRig(clientMode(p, { 'push.xmpp.readyWaitMs': 200 }))
    try {
      const x = xmppOf(wrongName)
      await eventually(() => x.failures >= 1, 'a failed login', 15_000)
      assert.match(String(x.lastError?.message), /altnames|example\.test/i)
      assert.equal(x.up, false)
    } finally { await wrongName.close() }
    const insecure = await startRig(clientMode(p, { 'push.xmpp.tlsInsecure': true }))
    try {
      await eventually(() => xmppOf(insecure).up, 'logged in without verification', 15_000)
    } finally { await insecure.close() }
  })
})

describe('client mode: readiness while Prosody is down, reconnect after it restarts', skip, () => {
  let p: Prosody
  let rig: Rig
  before(async () => {
    p = new Prosody({ users: USERS, localPepFix: true })
    p.c2sPort = await freePort()
    p.componentPort = await freePort()
    rig = await startRig(clientMode(p, { 'push.xmpp.readyWaitMs': 60_000 }))
  })
  after(async () => {
    await rig?.close()
    await p?.close()
  })

  test('not ready before the first login; set_push_accounts waits for the session instead of answering success:false', async () => {
    assert.equal(await readyz(rig), 503)
    await eventually(() => xmppOf(rig).failures >= 1, 'a refused connection')
    const pending = register(rig.h, 'device-a', 'alice2', ['alice@localhost'])
    await p.start()
    const [alice] = await pending
    assert.equal(alice.success, true)
    await eventually(async () => (await readyz(rig)) === 200, '/readyz ready')

    await enableThenLeave(p, 'alice', alice.push_bare_jid, alice.node, alice.secret)
    await p.stop()
    await eventually(() => !xmppOf(rig).up, 'the session seen gone')
    assert.equal(await readyz(rig), 503)
    await p.start()
    await eventually(() => xmppOf(rig).up, 'logged in again', 15_000)
    const bob = await login(p, 'bob')
    try {
      await bob.client.send(chat('alice@localhost', 'after the restart'))
      assert.deepEqual(await pushesOn(rig.fake, 'alice2', 1), [v2Body(alice.account_id)])
    } finally { await bob.close() }
  })
})

describe('stock Prosody 0.12 without the contrib module (issue 14 "Facts")', skip, () => {
  let p: Prosody
  let rig: Rig
  before(async () => {
    p = await startProsody({ users: USERS })
    rig = await startRig(clientMode(p))
    await eventually(() => xmppOf(rig).up, 'the push account logged in', 15_000)
  })
  after(async () => {
    await rig?.close()
    await p?.close()
  })

  test("mod_pep refuses mod_cloud_notify's local publish as an invalid item: nothing reaches Herald", async () => {
    const [alice] = await register(rig.h, 'device-a', 'alice3', ['alice@localhost'])
    assert.equal(alice.success, true, 'creating and subscribing works unpatched')
    await enableThenLeave(p, 'alice', alice.push_bare_jid, alice.node, alice.secret)
    const bob = await login(p, 'bob')
    try {
      await bob.client.send(chat('alice@localhost', 'lost'))
      await eventually(() => /Got error <modify:bad-request:invalid item>/.test(p.log()), "Prosody's push error", 15_000)
      assert.equal(onChannel(rig.fake, 'alice3').length, 0)
      assert.equal(await metric(rig, 'queued'), 0)
    } finally { await bob.close() }
  })
})
