// Issue 14 item 5 for Chat21: a device registers its FCM token as a push instance (§12.2); a message routed to a user
// with no connected client is pushed to each instance through Herald's FCM provider (a local FCM HTTP v1 service and
// OAuth endpoint that check the service account's JWT); no push when the recipient is online or the §12.2 rules say
// not to; `POST /:app/notify` for admins; an instance FCM calls UNREGISTERED is deleted.
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { chat21Notification, pushWanted } from '../../src/dialects/chat21/push.ts'
import { caFile, FakeFcm, fcmError, FCM_HOST } from '../push/fake-endpoints.ts'
import { login, rest, startChat21, until, type Chat21Herald } from './helpers.ts'

let dir: string
let h: Chat21Herald
let fcm: FakeFcm

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'herald-chat21-push-'))
  fcm = await new FakeFcm().start()
  const account = fcm.writeAccount(dir)
  h = await startChat21({
    overrides: {
      'push.caFile': caFile(dir), 'push.fcm.serviceAccountFile': account.file, 'push.fcm.url': `https://${FCM_HOST}`,
      'push.fcm.connectTo': fcm.connectTo, 'push.pollMs': 50, 'push.retryBaseMs': 50, 'push.retryMaxMs': 200,
    },
  })
})
after(async () => {
  await h?.close()
  await fcm?.close()
  rmSync(dir, { recursive: true, force: true })
})

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const pushesTo = (token: string) => fcm.messages.filter((m) => m.token === token)

async function instance(user: string, token: string): Promise<void> {
  const jwt = await h.chat21.tokens!.issue(user)
  const r = await rest(h, 'POST', `/tilechat/${user}/instances/${token}`, jwt, { device_model: 'Pixel', platform: 'android', language: 'en', platform_version: '14' })
  assert.deepEqual([r.status, r.body], [200, { success: true }])
}

describe('chat21 offline push', () => {
  test('a message to a user with no connected client reaches each of their instances, without its text', async () => {
    await instance('bob', 'fcm-bob-1')
    await instance('bob', 'fcm-bob-2')
    const alice = await login(h, 'alice')
    try {
      alice.send('bob', { text: 'secret words', type: 'text', sender_fullname: 'Alice A', recipient_fullname: 'Bob', channel_type: 'direct' })
      await until(() => (pushesTo('fcm-bob-1').length && pushesTo('fcm-bob-2').length ? true : undefined), 8000, 'both pushes')
      const m = pushesTo('fcm-bob-1')[0].message
      assert.equal(m.data.sender, 'alice')
      assert.equal(m.data.recipient, 'bob')
      assert.equal(m.data.app_id, 'tilechat')
      assert.match(m.data.message_id, /.+/)
      assert.equal(m.notification.title, 'New message')
      assert.ok(!JSON.stringify(m).includes('secret words'), 'no message text without HERALD_CHAT21_PUSH_INCLUDE_CONTENT')
      assert.ok(!JSON.stringify(m).includes('Alice A'))
      await sleep(300)
      assert.equal(pushesTo('fcm-bob-1').length, 1, 'exactly one push per message and instance')
    } finally {
      await alice.close()
    }
  })

  test('no push to a recipient with a connected client, nor for sendnotification false', async () => {
    await instance('carol', 'fcm-carol')
    const carol = await login(h, 'carol')
    const alice = await login(h, 'alice')
    try {
      alice.send('carol', { text: 'online', type: 'text' })
      await carol.waitFor('/clientadded', (b) => b.text === 'online')
      await carol.close()
      await until(async () => ((await h.presence.byUser('chat21', 'carol')).length === 0 ? true : undefined), 5000, 'carol offline')
      alice.send('carol', { text: 'quiet', type: 'text', attributes: { sendnotification: false } })
      alice.send('carol', { text: 'loud', type: 'text', attributes: { sendnotification: false, forcenotification: true } })
      await until(() => (pushesTo('fcm-carol').length ? true : undefined), 8000, 'the forced push')
      await sleep(400)
      assert.equal(pushesTo('fcm-carol').length, 1, 'only the forced one: none while online, none for sendnotification false')
    } finally {
      await alice.close()
    }
  })

  test('an instance FCM calls UNREGISTERED is deleted', async () => {
    await instance('dave', 'fcm-dave-old')
    fcm.script('fcm-dave-old', [fcmError(404, 'UNREGISTERED')])
    const alice = await login(h, 'alice')
    try {
      alice.send('dave', { text: 'hi', type: 'text' })
      await until(async () => ((await h.chat21.flow!.store.instances('dave')).length === 0 ? true : undefined), 8000, 'the instance deleted')
    } finally {
      await alice.close()
    }
  })
})

describe('POST /:app/notify', () => {
  test('an admin token pushes the event\'s message to delivered_to; a user token is refused', async () => {
    await instance('erin', 'fcm-erin')
    const body = { event_type: 'message-delivered', delivered_to: 'erin', data: { sender: 'frank', recipient: 'erin', text: 't', message_id: 'm-notify', channel_type: 'direct' } }
    const user = await rest(h, 'POST', '/tilechat/notify', await h.chat21.tokens!.issue('frank'), body)
    assert.equal(user.status, 401)
    const admin = await h.chat21.tokens!.issue('admin', { admin: true })
    const r = await rest(h, 'POST', '/tilechat/notify', admin, body)
    assert.deepEqual([r.status, r.body], [200, { success: true, sent: 1 }])
    await until(() => (pushesTo('fcm-erin').some((m) => m.message.data.message_id === 'm-notify') ? true : undefined), 8000, 'the notify push')
    const bad = await rest(h, 'POST', '/tilechat/notify', admin, { event_type: 'message-delivered' })
    assert.equal(bad.status, 400)
  })
})

test('§12.2 push rules and the notification with content allowed', () => {
  assert.equal(pushWanted({ sender: 'a', recipient: 'b' }, 'b'), true)
  assert.equal(pushWanted({ sender: 'a', recipient: 'b' }, 'a'), false)
  assert.equal(pushWanted({ sender: 'a', recipient: 'system' }, 'system'), false)
  assert.equal(pushWanted({ sender: 'system', recipient: 'b' }, 'b'), false)
  assert.equal(pushWanted({ sender: 'system', recipient: 'b', attributes: { forcenotification: true } }, 'b'), true)
  assert.equal(pushWanted({ sender: 'a', recipient: 'general_group' }, 'b'), false)
  const n = chat21Notification('tilechat', { sender: 'a', sender_fullname: 'Ann', recipient: 'b', text: 'hello', message_id: 'm1' }, true)
  assert.deepEqual(n.fcm?.notification, { title: 'Ann', body: 'hello' })
  assert.equal(n.fcm?.data?.text, 'hello')
})
