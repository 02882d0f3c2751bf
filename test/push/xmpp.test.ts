// The XMPP side's pure parts (uwpx-push §4.2, §6.1, §11, §12.1 items 7–8, §14 item 1): the summary parser over
// stanzas as Prosody 0.12 sent them here, the event intake's verdicts, the §6.1 requests, the component's publish
// parsing and answers, the back-off; and what needs no XMPP server: settings refused at start, a bounded wait.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { xml, type Element } from '@xmpp/client'
import { ConfigError } from '../../src/config.ts'
import { createPush } from '../../src/dialects/push/index.ts'
import { pushSettings } from '../../src/dialects/push/settings.ts'
import { createNodeIq, deleteNodeIq, eventItems, subscribeIq, unsubscribeIq, type XmppClientMode } from '../../src/dialects/push/xmpp-client.ts'
import { answerOf, parsePublish } from '../../src/dialects/push/xmpp-component.ts'
import { backoffMs } from '../../src/dialects/push/xmpp-link.ts'
import { countOf, parseNotification } from '../../src/dialects/push/xmpp-summary.ts'
import { eventually, freePort, startTestHerald } from '../helpers.ts'
import { register, startRig } from './xmpp-rig.ts'

/** one stanza from its serialization, as xmpp.js parses a stream */
function parse(s: string): Element {
  const p = new xml.Parser()
  let out: Element | undefined
  p.on('element', (el) => { out = el })
  p.on('error', (err) => { throw err })
  p.write(`<stream xmlns="jabber:client">${s}</stream>`)
  if (!out) throw new Error(`not one stanza: ${s}`)
  return out
}

// the pubsub events Prosody 0.12.3 sent push@localhost in client mode (mod_cloud_notify with the contrib module)
const GOLDEN_PUSH = '<message type="headline" id="LIvYVVBUAzaiXp47g6ZwRvxb" from="push@localhost" to="push@localhost"><event xmlns="http://jabber.org/protocol/pubsub#event"><items node="N1796181159537"><item publisher="localhost" id="7b38fe87-5e49-4932-8e74-26e6b467faf1"><notification xmlns="urn:xmpp:push:0"><x type="form" xmlns="jabber:x:data"><field type="hidden" var="FORM_TYPE"><value>urn:xmpp:push:summary</value></field><field type="text-single" var="message-count"><value>1</value></field><field type="text-single" var="pending-subscription-count"/><field type="jid-single" var="last-message-sender"/><field type="text-single" var="last-message-body"><value>New Message!</value></field></x></notification></item></items></event></message>'
const GOLDEN_OWN = '<message type="headline" id="FygOWDoGbQ42lNp93OpfxF89" from="push@localhost" to="push@localhost"><event xmlns="http://jabber.org/protocol/pubsub#event"><items node="abcNODE123"><item publisher="push@localhost" id="83f6ad65-e1f1-4a5d-824b-59199c976e41"><notification xmlns="urn:xmpp:push:0"/></item></items></event></message>'

// the publish IQ Prosody 0.12.3's mod_cloud_notify sent the component push.localhost, publish-options as given at enable
const GOLDEN_PUBLISH = '<iq type="set" id="745323ec4d2b0252bd5f467bc5c17d3ca51b4e63552f3f500ce495654f813347" from="localhost" to="push.localhost"><pubsub xmlns="http://jabber.org/protocol/pubsub"><publish node="GoldenNode12345"><item><notification xmlns="urn:xmpp:push:0"><x type="form" xmlns="jabber:x:data"><field type="hidden" var="FORM_TYPE"><value>urn:xmpp:push:summary</value></field><field type="text-single" var="message-count"><value>1</value></field><field type="text-single" var="pending-subscription-count"/><field type="jid-single" var="last-message-sender"/><field type="text-single" var="last-message-body"><value>New Message!</value></field></x></notification></item></publish><publish-options><x type="submit" xmlns="jabber:x:data"><field var="FORM_TYPE"><value>http://jabber.org/protocol/pubsub#publish-options</value></field><field var="secret"><value>GoldenSecret123</value></field></x></publish-options></pubsub></iq>'

const notificationOfEvent = (m: Element) => {
  const [v] = eventItems(m, 'push@localhost')
  assert.equal(v?.kind, 'push')
  return (v as { notification: Element }).notification
}

describe('summary form (§4.2, §12.1 item 8)', () => {
  test("mod_cloud_notify's form: message-count 1, the empty pending-subscription-count 0, sender and body left out", () => {
    const s = parseNotification(notificationOfEvent(parse(GOLDEN_PUSH)))
    assert.equal(s.messageCount, 1)
    assert.equal(s.pendingSubscriptionCount, 0)
    assert.equal(s.notificationXml, '<notification xmlns="urn:xmpp:push:0"><x type="form" xmlns="jabber:x:data"><field type="hidden" var="FORM_TYPE"><value>urn:xmpp:push:summary</value></field><field type="text-single" var="message-count"><value>1</value></field><field type="text-single" var="pending-subscription-count"/></x></notification>')
  })

  test('integer prefix parse, default 0', () => {
    for (const [text, n] of [['3', 3], [' 12 new', 12], ['+4', 4], ['', 0], [null, 0], ['-2', 0], ['x1', 0], ['007', 7], ['99999999999999999999', Number.MAX_SAFE_INTEGER]] as const) {
      assert.equal(countOf(text), n, String(text))
    }
  })

  test('counts from the summary form only; no form: 0 and 0; a sender given with a value is still dropped', () => {
    const n = parse('<notification xmlns="urn:xmpp:push:0"><x xmlns="jabber:x:data"><field var="FORM_TYPE"><value>other</value></field><field var="message-count"><value>9</value></field></x>'
      + '<x xmlns="jabber:x:data"><field var="FORM_TYPE"><value>urn:xmpp:push:summary</value></field><field var="message-count"><value>2</value></field><field var="pending-subscription-count"><value>5</value></field><field var="last-message-sender"><value>juliet@example.org</value></field></x></notification>')
    const s = parseNotification(n)
    assert.deepEqual([s.messageCount, s.pendingSubscriptionCount], [2, 5])
    assert.ok(!s.notificationXml.includes('juliet'))
    const empty = parseNotification(parse('<notification xmlns="urn:xmpp:push:0"/>'))
    assert.deepEqual([empty.messageCount, empty.pendingSubscriptionCount, empty.notificationXml], [0, 0, '<notification xmlns="urn:xmpp:push:0"/>'])
  })
})

describe('client mode intake (§6.1, §12.2)', () => {
  test("a push; Herald's own node-creating item is not one", () => {
    assert.deepEqual(eventItems(parse(GOLDEN_PUSH), 'push@localhost').map((v) => v.kind), ['push'])
    assert.equal((eventItems(parse(GOLDEN_PUSH), 'push@localhost')[0] as { node: string }).node, 'N1796181159537')
    assert.deepEqual(eventItems(parse(GOLDEN_OWN), 'push@localhost').map((v) => v.kind), ['own'])
    // without a publisher attribute an empty notification is still Herald's own
    assert.deepEqual(eventItems(parse(GOLDEN_OWN.replace(' publisher="push@localhost"', '')), 'push@localhost').map((v) => v.kind), ['own'])
  })

  test('only from its own bare JID: another sender, a full JID, no from at all are dropped', () => {
    assert.deepEqual(eventItems(parse(GOLDEN_PUSH.replace('from="push@localhost"', 'from="mallory@localhost"')), 'push@localhost'), [])
    assert.deepEqual(eventItems(parse(GOLDEN_PUSH.replace('from="push@localhost"', 'from="push@localhost/res"')), 'push@localhost'), [])
    assert.deepEqual(eventItems(parse(GOLDEN_PUSH.replace('from="push@localhost" ', '')), 'push@localhost'), [])
    assert.deepEqual(eventItems(parse('<message from="push@localhost"><body>hi</body></message>'), 'push@localhost'), [])
  })

  test('§6.1 requests: create with the publish-options form, subscribe, unsubscribe, delete in #owner', () => {
    assert.equal(createNodeIq('N').toString(), '<iq type="set"><pubsub xmlns="http://jabber.org/protocol/pubsub"><publish node="N"><item><notification xmlns="urn:xmpp:push:0"/></item></publish>'
      + '<publish-options><x xmlns="jabber:x:data" type="submit"><field var="FORM_TYPE" type="hidden"><value>http://jabber.org/protocol/pubsub#publish-options</value></field>'
      + ['access_model', 'open', 'publish_model', 'open', 'deliver_notifications', '1', 'deliver_payloads', '1', 'persist_items', '1', 'subscribe', '1', 'presence_based_delivery', '0', 'notification_type', 'normal']
        .reduce((a, v, i, l) => (i % 2 ? a : a + `<field var="pubsub#${v}"><value>${l[i + 1]}</value></field>`), '')
      + '</x></publish-options></pubsub></iq>')
    assert.equal(subscribeIq('N', 'push@x').toString(), '<iq type="set"><pubsub xmlns="http://jabber.org/protocol/pubsub"><subscribe node="N" jid="push@x"/></pubsub></iq>')
    assert.equal(unsubscribeIq('N', 'push@x').toString(), '<iq type="set"><pubsub xmlns="http://jabber.org/protocol/pubsub"><unsubscribe node="N" jid="push@x"/></pubsub></iq>')
    assert.equal(deleteNodeIq('N').toString(), '<iq type="set"><pubsub xmlns="http://jabber.org/protocol/pubsub#owner"><delete node="N"/></pubsub></iq>')
  })
})

describe('component publishes (§11, §12.1 item 7b)', () => {
  const publish = (opts: string) => parse('<iq type="set" from="localhost" to="push.localhost" id="1"><pubsub xmlns="http://jabber.org/protocol/pubsub"><publish node="NODE"><item id="it"><notification xmlns="urn:xmpp:push:0"/></item></publish>' + opts + '</pubsub></iq>').getChild('pubsub')!

  test("mod_cloud_notify's publish: node, secret, counts 1 and 0, no item id", () => {
    const r = parsePublish(parse(GOLDEN_PUBLISH).getChild('pubsub')!)
    assert.ok(r.ok)
    assert.deepEqual([r.node, r.secret, r.itemId], ['GoldenNode12345', 'GoldenSecret123', undefined])
    const s = parseNotification(r.notification)
    assert.deepEqual([s.messageCount, s.pendingSubscriptionCount], [1, 0])
    assert.ok(!s.notificationXml.includes('New Message!'))
  })

  test('node, notification and the publish-options secret', () => {
    const r = parsePublish(publish('<publish-options><x xmlns="jabber:x:data" type="submit"><field var="FORM_TYPE" type="hidden"><value>http://jabber.org/protocol/pubsub#publish-options</value></field><field var="secret"><value>S3cr3t</value></field></x></publish-options>'))
    assert.ok(r.ok)
    assert.deepEqual([r.node, r.secret, r.itemId], ['NODE', 'S3cr3t', 'it'])
    const none = parsePublish(publish(''))
    assert.ok(none.ok && none.secret === null, 'no publish-options: no secret (forbidden later)')
    const empty = parsePublish(publish('<publish-options><x xmlns="jabber:x:data"><field var="secret"/></x></publish-options>'))
    assert.ok(empty.ok && empty.secret === '')
  })

  test('malformed publishes get modify/bad-request or feature-not-implemented', () => {
    const bad = (s: string) => { const r = parsePublish(parse(s)); assert.ok(!r.ok); return r.error.toString() }
    assert.match(bad('<pubsub xmlns="http://jabber.org/protocol/pubsub"><publish><item/></publish></pubsub>'), /type="modify".*bad-request.*nodeid-required/)
    assert.match(bad('<pubsub xmlns="http://jabber.org/protocol/pubsub"><publish node="N"><item><other/></item></publish></pubsub>'), /type="modify".*bad-request/)
    assert.match(bad('<pubsub xmlns="http://jabber.org/protocol/pubsub"><subscribe node="N" jid="a@b"/></pubsub>'), /type="cancel".*feature-not-implemented/)
  })

  test('the answer by outcome', () => {
    assert.equal(answerOf('queued', 'N', 'it').toString(), '<pubsub xmlns="http://jabber.org/protocol/pubsub"><publish node="N"><item id="it"/></publish></pubsub>')
    assert.equal(answerOf('forbidden', 'N', undefined).toString(), '<error type="auth"><forbidden xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></error>')
    assert.equal(answerOf('unknown-node', 'N', undefined).toString(), '<error type="cancel"><item-not-found xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></error>')
    assert.equal(answerOf('transient', 'N', undefined).toString(), '<error type="wait"><resource-constraint xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></error>')
  })
})

test('reconnect back-off doubles to its maximum, with jitter between half and all of it', () => {
  assert.deepEqual([1, 2, 3, 4, 8, 40].map((n) => backoffMs(n, 1000, 10_000, () => 1)), [1000, 2000, 4000, 8000, 10_000, 10_000])
  assert.deepEqual([1, 2].map((n) => backoffMs(n, 1000, 10_000, () => 0)), [500, 1000])
})

describe('settings checked at start (issue 14 Settings)', () => {
  const start = (o: Record<string, unknown>) => startTestHerald({ dialects: [createPush()], settings: pushSettings, overrides: { 'push.port': 0, ...o } })
  for (const [o, why] of [
    [{ 'push.xmpp.mode': 'pubsub' }, /client, component or off .*HERALD_PUSH_XMPP_MODE/],
    [{ 'push.xmpp.mode': 'client', 'push.xmpp.password': 'x' }, /bare JID.*HERALD_PUSH_XMPP_JID/],
    [{ 'push.xmpp.mode': 'client', 'push.xmpp.jid': 'push@example.org' }, /password.*HERALD_PUSH_XMPP_PASSWORD/],
    [{ 'push.xmpp.mode': 'client', 'push.xmpp.jid': 'push@example.org', 'push.xmpp.password': 'x', 'push.xmpp.service': 'http://x:5222' }, /HERALD_PUSH_XMPP_SERVICE.*xmpp:\/\/host:port/],
    [{ 'push.xmpp.mode': 'client', 'push.xmpp.jid': 'push@example.org', 'push.xmpp.password': 'x', 'push.xmpp.caFile': '/nonexistent.pem' }, /HERALD_PUSH_XMPP_CA_FILE.*cannot read \/nonexistent\.pem/],
    [{ 'push.xmpp.mode': 'component', 'push.xmpp.componentSecret': 'x' }, /component's JID.*HERALD_PUSH_XMPP_COMPONENT/],
    [{ 'push.xmpp.mode': 'component', 'push.xmpp.component': 'push.example.org' }, /component secret.*HERALD_PUSH_XMPP_COMPONENT_SECRET/],
  ] as [Record<string, unknown>, RegExp][]) {
    test(`refused: ${JSON.stringify(o)}`, async () => {
      await assert.rejects(start(o), (err: Error) => err instanceof ConfigError && why.test(err.message))
    })
  }
})

test('no XMPP server: /readyz 503 and set_push_accounts waits only HERALD_PUSH_XMPP_READY_WAIT_MS, then success:false', async () => {
  const port = await freePort()
  const rig = await startRig({
    'push.xmpp.mode': 'client', 'push.xmpp.jid': 'push@localhost', 'push.xmpp.password': 'x',
    'push.xmpp.service': `xmpp://127.0.0.1:${port}`, 'push.xmpp.readyWaitMs': 100,
  })
  try {
    const x = rig.h.push.xmpp as XmppClientMode
    await eventually(() => x.failures >= 2, 'reconnect attempts')
    assert.match(String(x.lastError?.message), /ECONNREFUSED/)
    assert.equal((await fetch(`${rig.h.httpUrl}/readyz`)).status, 503)
    const [a] = await register(rig.h, 'device-z', 'zed1', ['zed@localhost'])
    assert.equal(a.success, false)
  } finally { await rig.close() }
})
