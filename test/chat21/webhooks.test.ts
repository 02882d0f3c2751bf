// chat21 webhooks (§8) received by a local HTTP endpoint, including one that is down and later up.
import assert from 'node:assert/strict'
import { rmSync } from 'node:fs'
import { after, before, describe, it } from 'node:test'
import { login, startChat21, until, webhookSink, type Chat21Herald, type TestUser } from './helpers.ts'

for (const db of ['sqlite', 'postgres'] as const) {
  describe(`chat21 webhooks (${db})`, () => {
    let h: Chat21Herald
    let sink: Awaited<ReturnType<typeof webhookSink>>
    let u1: TestUser, u2: TestUser
    const events = (type: string, pred: (e: any) => boolean = () => true) => sink.got.filter((e) => e.event_type === type && pred(e))

    before(async () => {
      sink = await webhookSink()
      h = await startChat21({ db, overrides: {
        'chat21.webhooks.endpoints': sink.url, 'chat21.presence': true,
        'chat21.webhooks.retryBaseMs': 50, 'chat21.webhooks.retryMaxMs': 200,
      } })
      u1 = await login(h, 'U1')
      u2 = await login(h, 'U2')
    })
    after(async () => {
      await Promise.all([u1?.close(), u2?.close()])
      await h?.close()
      await sink?.close()
    })

    it('message-sent for the sender copy, message-delivered for the recipient copy (§8.2)', async () => {
      u1.send('U2', { text: 'hook me' })
      const sent = await until(() => events('message-sent', (e) => e.data.text === 'hook me')[0])
      const delivered = await until(() => events('message-delivered', (e) => e.data.text === 'hook me')[0])
      assert.equal(sent.delivered_to, 'U1')
      assert.equal(sent.recipient_id, 'U2')
      assert.equal(sent.app_id, 'tilechat')
      assert.equal(sent.data.status, 100)
      assert.equal(sent.extras.topic, 'apps.tilechat.users.U1.messages.U2.clientadded')
      assert.equal(delivered.delivered_to, 'U2')
      assert.equal(delivered.data.status, 150)
      assert.equal(delivered.message_id, sent.message_id)
      assert.equal(typeof sent.createdAt, 'number')
    })

    it('message-return-receipt and conversation-archived are delivered too (§8.4, §17.5)', async () => {
      const m = await u2.waitFor('/users/U2/messages/U1/clientadded', (b) => b.text === 'hook me')
      u2.publish(`apps/tilechat/users/U2/messages/U1/${m.body.message_id}/update`, { status: 200 })
      const r = await until(() => events('message-return-receipt')[0])
      assert.equal(r.message_id, m.body.message_id)
      assert.equal(r.data.status, 250)
      u2.publish('apps/tilechat/users/U2/conversations/U1/archive', {})
      const a = await until(() => events('conversation-archived')[0])
      assert.equal(a.user_id, 'U2')
      assert.equal(a.convers_with, 'U1')
      assert.equal(a.recipient_id, 'U1')
    })

    it('presence-change online on connect, offline from the last will (§5.7, §8.3)', async () => {
      const u3 = await login(h, 'U3')
      const on = await until(() => events('presence-change', (e) => e.user_id === 'U3' && e.presence === 'online')[0])
      const { createdAt, ...rest } = on
      assert.equal(typeof createdAt, 'number')
      assert.deepEqual(rest, { event_type: 'presence-change', presence: 'online', app_id: 'tilechat', user_id: 'U3', data: true })
      u3.client.stream.destroy()
      const off = await until(() => events('presence-change', (e) => e.user_id === 'U3' && e.presence === 'offline')[0])
      assert.equal(off.app_id, 'tilechat')
      assert.equal(off.data, true)
    })

    it('an endpoint that is down loses nothing: queued, retried with back-off, delivered when it is up', async () => {
      sink.down = true
      for (let i = 0; i < 3; i++) u1.send('U2', { text: `while down ${i}` })
      await u2.waitFor('/users/U2/messages/U1/clientadded', (b) => b.text === 'while down 2')
      await until(async () => (await h.chat21.flow!.store.pendingWebhooks()) >= 6 || undefined, 5000, 'queued webhooks')
      await new Promise((r) => setTimeout(r, 300)) // several failed attempts
      assert.equal(events('message-delivered', (e) => /while down/.test(e.data.text)).length, 0)
      sink.down = false
      await until(() => events('message-delivered', (e) => /while down/.test(e.data.text)).length === 3 || undefined, 5000, 'retried webhooks')
      await until(async () => (await h.chat21.flow!.store.pendingWebhooks()) === 0 || undefined, 5000, 'empty queue')
      assert.equal(events('message-sent', (e) => /while down/.test(e.data.text)).length, 3)
    })
  })
}

describe('chat21 webhook events filter (§8.1, §5.7)', () => {
  it('HERALD_CHAT21_WEBHOOK_EVENTS filters message events; presence-change follows the presence setting only', async () => {
    const sink = await webhookSink()
    const h = await startChat21({ overrides: { 'chat21.webhooks.endpoints': sink.url, 'chat21.webhooks.events': ['message-delivered'], 'chat21.presence': true } })
    try {
      const u1 = await login(h, 'U1')
      const u2 = await login(h, 'U2')
      u1.send('U2', { text: 'filtered' })
      await until(() => sink.got.find((e) => e.event_type === 'message-delivered' && e.data.text === 'filtered'))
      await until(() => sink.got.find((e) => e.event_type === 'presence-change' && e.user_id === 'U2'))
      assert.equal(sink.got.some((e) => e.event_type === 'message-sent'), false)
      await Promise.all([u1.close(), u2.close()])
    } finally {
      await h.close()
      await sink.close()
    }
  })
})

describe('chat21 webhooks survive a restart (§8, durable queue)', () => {
  it('events queued while the endpoint is down are delivered by the next Herald on the same store', async () => {
    const sink = await webhookSink()
    sink.down = true
    const overrides = { 'chat21.webhooks.endpoints': sink.url, 'chat21.webhooks.retryBaseMs': 50, 'chat21.webhooks.retryMaxMs': 200 }
    const h1 = await startChat21({ overrides })
    try {
      const u1 = await login(h1, 'U1')
      const u2 = await login(h1, 'U2')
      u1.send('U2', { text: 'before restart' })
      await u2.waitFor('/users/U2/messages/U1/clientadded', (b) => b.text === 'before restart')
      await until(async () => (await h1.chat21.flow!.store.pendingWebhooks()) === 2 || undefined, 5000, 'queued webhooks')
      await Promise.all([u1.close(), u2.close()])
    } finally {
      await h1.stop()
    }
    sink.down = false
    const h2 = await startChat21({ overrides: { ...overrides, dataDir: h1.dataDir } })
    try {
      await until(() => sink.got.filter((e) => e.data?.text === 'before restart').length === 2 || undefined, 5000, 'delivery after restart')
      assert.deepEqual(sink.got.map((e) => e.event_type).sort(), ['message-delivered', 'message-sent'])
    } finally {
      await h2.close()
      rmSync(h1.dataDir, { recursive: true, force: true })
      await sink.close()
    }
  })
})
