// Component mode end to end against a real Prosody 0.12 (uwpx-push §11, §12.1 item 7b, §14 item 6): Herald is the
// XEP-0114 component push.localhost; mod_cloud_notify on localhost publishes to it unpatched. One WNS push per
// message; a wrong secret is answered forbidden and nothing is pushed; an unknown node item-not-found; a push queue
// that refuses is answered with a `wait` error; every publish IQ is answered exactly once.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { xml, type Element } from '@xmpp/client'
import type { PushNotification, PushSendOptions, PushService, PushTarget } from '../../src/core/push/service.ts'
import type { XmppComponentMode } from '../../src/dialects/push/xmpp-component.ts'
import { eventually, requireService } from '../helpers.ts'
import { Prosody, PROSODY_NEEDED, prosodyAvailable, startProsody } from './prosody.ts'
import { accountIdOf, chat, enableIq, login, onChannel, pushesOn, register, startRig, USERS, v2Body, type Rig, type User } from './xmpp-rig.ts'

const NS_PUBSUB = 'http://jabber.org/protocol/pubsub'
const COMPONENTS = [
  { jid: 'push.localhost', secret: 'component-secret-1' },
  { jid: 'push2.localhost', secret: 'component-secret-2' },
  { jid: 'push3.localhost', secret: 'component-secret-3' },
]
const skip = requireService(prosodyAvailable(), PROSODY_NEEDED)

const componentMode = (p: Prosody, c: { jid: string; secret: string }, extra: Record<string, unknown> = {}) => ({
  'push.xmpp.mode': 'component', 'push.xmpp.component': c.jid, 'push.xmpp.componentSecret': c.secret,
  'push.xmpp.service': p.componentService, ...extra,
})
const xmppOf = (r: Rig) => r.h.push.xmpp as XmppComponentMode
const readyz = async (r: Rig) => (await fetch(`${r.h.httpUrl}/readyz`)).status
const metric = async (r: Rig, outcome: string) => {
  const text = await (await fetch(r.h.metricsUrl + '/metrics')).text()
  return Number(new RegExp(`^push_xmpp_publishes_total\\{mode="component",outcome="${outcome}"\\} (\\d+)`, 'm').exec(text)?.[1] ?? 0)
}

async function enableThenLeave(p: Prosody, user: string, pushJid: string, node: string, secret: string): Promise<void> {
  const u = await login(p, user)
  assert.equal((await u.request(enableIq(pushJid, node, secret))).attrs.type, 'result')
  await u.close()
}

const field = (v: string, value: string, type?: string) => xml('field', { var: v, type }, xml('value', {}, value))
/** a publish as mod_cloud_notify sends it (§6.1 "What the user's server sends"), straight from a test client */
function publishIq(to: string, node: string, secret?: string, count = '3'): Element {
  return xml('iq', { type: 'set', to, id: `p${Math.random().toString(36).slice(2)}` }, xml('pubsub', { xmlns: NS_PUBSUB },
    xml('publish', { node }, xml('item', {}, xml('notification', { xmlns: 'urn:xmpp:push:0' },
      xml('x', { xmlns: 'jabber:x:data', type: 'submit' }, field('FORM_TYPE', 'urn:xmpp:push:summary', 'hidden'),
        field('message-count', count), xml('field', { var: 'pending-subscription-count' }), field('last-message-body', 'private text'))))),
    secret === undefined ? undefined : xml('publish-options', {}, xml('x', { xmlns: 'jabber:x:data', type: 'submit' },
      field('FORM_TYPE', 'http://jabber.org/protocol/pubsub#publish-options', 'hidden'), field('secret', secret)))))
}

/**
 * Send an IQ and collect every answer to its id: after the first one comes, a disco#info to the component is the
 * barrier (answered after anything the component sent before it, on the one stream to the client).
 */
async function answersTo(u: User, iq: Element): Promise<Element[]> {
  const id = iq.attrs.id!
  const of = () => u.stanzas.filter((s) => s.is('iq') && s.attrs.id === id)
  await u.client.send(iq)
  await eventually(() => of().length > 0, `an answer to ${id}`, 15_000)
  await u.request(xml('iq', { type: 'get', to: iq.attrs.to }, xml('query', { xmlns: 'http://jabber.org/protocol/disco#info' })))
  return of()
}
const conditionOf = (iq: Element) => iq.getChild('error')?.getChildElements()[0]?.name
const errorTypeOf = (iq: Element) => iq.getChild('error')?.attrs.type

describe('component mode against Prosody (§12.1 item 7b)', skip, () => {
  let p: Prosody
  let rig: Rig
  before(async () => {
    p = await startProsody({ users: USERS, components: COMPONENTS })
    rig = await startRig(componentMode(p, COMPONENTS[0]))
    await eventually(() => xmppOf(rig).up, 'the component connected', 15_000)
  })
  after(async () => {
    await rig?.close()
    await p?.close()
  })

  test('/readyz is ready once the component is connected; disco#info names a pubsub/push service', async () => {
    assert.equal(await readyz(rig), 200)
    const bob = await login(p, 'bob')
    try {
      const info = await bob.request(xml('iq', { type: 'get', to: 'push.localhost' }, xml('query', { xmlns: 'http://jabber.org/protocol/disco#info' })))
      const q = info.getChild('query')!
      assert.deepEqual(q.getChild('identity')?.attrs, { category: 'pubsub', type: 'push', name: 'Herald push' })
      assert.ok(q.getChildren('feature').some((f) => f.attrs.var === 'urn:xmpp:push:0'))
    } finally { await bob.close() }
  })

  test('a message to an offline user: mod_cloud_notify publishes to the component, exactly one WNS push per message', async () => {
    const [alice] = await register(rig.h, 'device-a', 'alice1', ['alice@localhost'])
    assert.equal(alice.success, true)
    assert.equal(alice.push_bare_jid, 'push.localhost')
    const [carol] = await register(rig.h, 'device-c', 'carol1', ['carol@localhost'])
    await enableThenLeave(p, 'alice', alice.push_bare_jid, alice.node, alice.secret)
    await enableThenLeave(p, 'carol', carol.push_bare_jid, carol.node, carol.secret)
    const bob = await login(p, 'bob')
    try {
      await bob.client.send(chat('alice@localhost', 'private words'))
      assert.deepEqual(await pushesOn(rig.fake, 'alice1', 1), [v2Body(accountIdOf('device-a', 'alice@localhost'))])
      await bob.client.send(chat('alice@localhost', 'more private words'))
      await pushesOn(rig.fake, 'alice1', 2)
      await bob.client.send(chat('carol@localhost', 'hello carol'))
      await pushesOn(rig.fake, 'carol1', 1)
      assert.deepEqual(await pushesOn(rig.fake, 'alice1', 2), [v2Body(alice.account_id), v2Body(alice.account_id)], 'one push per message')
      assert.equal(await metric(rig, 'queued'), 3)
      assert.doesNotMatch(p.log(), /Got error/, 'every publish was answered with a result')
    } finally { await bob.close() }
  })

  test('a wrong secret at enable: the publish is answered forbidden and nothing is pushed', async () => {
    // alice's second device, enabled with a secret that is not the one Herald gave
    const [a2] = await register(rig.h, 'device-a2', 'alice2', ['alice@localhost'])
    await enableThenLeave(p, 'alice', a2.push_bare_jid, a2.node, 'NotTheSecret123')
    const before = await metric(rig, 'forbidden')
    const bob = await login(p, 'bob')
    try {
      await bob.client.send(chat('alice@localhost', 'to the wrong secret'))
      await eventually(async () => (await metric(rig, 'forbidden')) === before + 1, 'the forbidden answer', 15_000)
      await eventually(() => /Got error <auth:forbidden/.test(p.log()), 'Prosody counting the error', 15_000)
      assert.equal(onChannel(rig.fake, 'alice2').length, 0)
    } finally { await bob.close() }
  })

  test('publish IQs answered exactly once: result, forbidden (wrong or no secret), item-not-found, bad-request', async () => {
    const [e] = await register(rig.h, 'device-e', 'erin1', ['erin@example.org'])
    const bob = await login(p, 'bob')
    try {
      const ok = await answersTo(bob, publishIq('push.localhost', e.node, e.secret, '7'))
      assert.equal(ok.length, 1)
      assert.equal(ok[0].attrs.type, 'result')
      assert.deepEqual(await pushesOn(rig.fake, 'erin1', 1),
        [`{"account_id":"${e.account_id}","action":"push","message_count":7,"pending_subscription_count":0,"version":2}`])

      for (const [iq, type, condition] of [
        [publishIq('push.localhost', e.node, 'WrongSecret0000'), 'auth', 'forbidden'],
        [publishIq('push.localhost', e.node), 'auth', 'forbidden'],
        [publishIq('push.localhost', 'NoSuchNode12345', e.secret), 'cancel', 'item-not-found'],
        [xml('iq', { type: 'set', to: 'push.localhost', id: 'nonode' }, xml('pubsub', { xmlns: NS_PUBSUB }, xml('publish', {}))), 'modify', 'bad-request'],
      ] as [Element, string, string][]) {
        const answers = await answersTo(bob, iq)
        assert.equal(answers.length, 1, `one answer to ${iq.toString()}`)
        assert.equal(answers[0].attrs.type, 'error')
        assert.equal(errorTypeOf(answers[0]), type)
        assert.equal(conditionOf(answers[0]), condition)
      }
      assert.equal(onChannel(rig.fake, 'erin1').length, 1, 'only the publish with the right secret was pushed')
    } finally { await bob.close() }
  })
})

/** a push service whose queue refuses every push, as a full or failing store would */
class RefusingPush implements PushService {
  calls = 0
  async send(_t: PushTarget, _n: PushNotification, _o: PushSendOptions): Promise<void> {
    this.calls++
    throw new Error('the push queue is not available')
  }
  enabled(): boolean { return true }
  onEndpointGone(): void {}
  vapidPublicKey(): string | undefined { return undefined }
}

describe('component mode: transient faults and the handshake (§11)', skip, () => {
  let p: Prosody
  before(async () => { p = await startProsody({ users: USERS, components: COMPONENTS }) })
  after(async () => { await p?.close() })

  test('the push queue refusing a push: the publish is answered with a wait-type error', async () => {
    const refusing = new RefusingPush()
    const rig = await startRig(componentMode(p, COMPONENTS[1]), { push: refusing })
    try {
      await eventually(() => xmppOf(rig).up, 'the component connected', 15_000)
      const [a] = await register(rig.h, 'device-a', 'alice9', ['alice@localhost'])
      const bob = await login(p, 'bob')
      try {
        const answers = await answersTo(bob, publishIq('push2.localhost', a.node, a.secret))
        assert.equal(answers.length, 1)
        assert.equal(errorTypeOf(answers[0]), 'wait')
        assert.equal(conditionOf(answers[0]), 'resource-constraint')
        assert.equal(refusing.calls, 1)
      } finally { await bob.close() }
    } finally { await rig.close() }
  })

  test('a wrong component secret: the handshake fails, no session, /readyz 503, registrations answer success:false', async () => {
    const rig = await startRig(componentMode(p, { jid: COMPONENTS[2].jid, secret: 'not-the-secret' }, { 'push.xmpp.readyWaitMs': 200 }))
    try {
      await eventually(() => xmppOf(rig).failures >= 1, 'a failed handshake', 15_000)
      assert.equal(xmppOf(rig).up, false)
      assert.equal(await readyz(rig), 503)
      const [a] = await register(rig.h, 'device-a', 'alice8', ['alice@localhost'])
      assert.equal(a.success, false)
    } finally { await rig.close() }
  })
})
