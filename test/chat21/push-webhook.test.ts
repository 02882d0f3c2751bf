// chat21 push webhook forwarder (§12.2 `POST /:app_id/push/webhook/endpoint/:token`, §12.1, §10.2 PUSH_WH_*):
// no JWT, the path token is the credential; message-delivered events go on to the notify URL with the admin token.
import assert from 'node:assert/strict'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { login, rest, startChat21, until, webhookSink, type Chat21Herald } from './helpers.ts'

const TOKEN = 'wh-secret-123'
const ADMIN = 'eyJ.admin.token'

const event = (type: string, extra: Record<string, unknown> = {}) => ({
  event_type: type, createdAt: 1637857283012, recipient_id: 'U2', app_id: 'tilechat', message_id: 'm-1',
  data: { text: 'hi', sender: 'U1', recipient: 'U2', status: 150 }, extras: { topic: 'apps.tilechat.users.U2.messages.U1.clientadded' },
  delivered_to: 'U2', ...extra,
})

/** A port that refuses connections: listen, note it, close. */
async function closedPort(): Promise<number> {
  const s = http.createServer()
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()))
  const { port } = s.address() as AddressInfo
  await new Promise<void>((r) => s.close(() => r()))
  return port
}

describe('chat21 push webhook forwarder (§12.2)', () => {
  let h: Chat21Herald
  let sink: Awaited<ReturnType<typeof webhookSink>>
  const path = (token = TOKEN) => `/tilechat/push/webhook/endpoint/${token}`

  before(async () => {
    sink = await webhookSink()
    h = await startChat21({ env: {
      HERALD_CHAT21_PUSH_WH_WEBHOOK_TOKEN: TOKEN, HERALD_CHAT21_PUSH_WH_CHAT21_API_ADMIN_TOKEN: ADMIN,
      HERALD_CHAT21_PUSH_WH_NOTIFY_URL: sink.url, HERALD_CHAT21_PUSH_WH_TIMEOUT_MS: '2000',
    } })
  })
  after(async () => {
    await h?.close()
    await sink?.close()
  })

  it('forwards message-delivered as JSON with Authorization: <admin token>, without a JWT; answers 200 once forwarded', async () => {
    const body = event('message-delivered')
    const r = await rest(h, 'POST', path(), undefined, body)
    assert.equal(r.status, 200)
    assert.deepEqual(r.body, { success: true })
    assert.equal(sink.got.length, 1) // forwarded before the answer
    assert.deepEqual(sink.got[0], body)
    assert.equal(sink.headers[0].authorization, ADMIN)
    assert.match(sink.headers[0]['content-type'] ?? '', /^application\/json/)
  })

  it('answers 200 and forwards nothing for any other event', async () => {
    const before = sink.got.length
    for (const type of ['message-sent', 'presence-change', 'message-return-receipt']) {
      const r = await rest(h, 'POST', path(), undefined, event(type))
      assert.equal(r.status, 200, type)
    }
    assert.equal((await rest(h, 'POST', path(), undefined, { hello: 'world' })).status, 200)
    assert.equal(sink.got.length, before)
  })

  it('401 JSON for a wrong token; a JWT is no substitute', async () => {
    const u1 = await h.chat21.tokens!.issue('U1')
    for (const [token, jwt] of [['wrong', undefined], [TOKEN + 'x', undefined], ['wrong', u1]] as const) {
      const r = await rest(h, 'POST', path(token), jwt, event('message-delivered'))
      assert.equal(r.status, 401)
      assert.deepEqual(r.body, { success: false, err: 'invalid push webhook token' })
    }
    assert.equal(sink.got.filter((e) => e.message_id === 'm-1').length, 1)
  })

  it('502 JSON when the notify endpoint refuses the event', async () => {
    sink.down = true
    try {
      const r = await rest(h, 'POST', path(), undefined, event('message-delivered', { message_id: 'm-down' }))
      assert.equal(r.status, 502)
      assert.equal(r.body.success, false)
      assert.match(r.body.err, /503/)
    } finally {
      sink.down = false
    }
  })

  it('takes Herald\'s own message-delivered webhooks end to end: a real MQTT message reaches the notify URL once per recipient copy', async () => {
    const pushUrl = `${h.api}${path()}`
    const sender = await startChat21({ overrides: { 'chat21.webhooks.endpoints': pushUrl } })
    try {
      const [u1, u2] = await Promise.all(['U1', 'U2'].map((id) => login(sender, id)))
      u1.send('U2', { text: 'push me' })
      const fwd = await until(() => sink.got.find((e) => e.data?.text === 'push me'))
      assert.equal(fwd.event_type, 'message-delivered')
      assert.equal(fwd.delivered_to, 'U2')
      assert.equal(fwd.data.status, 150)
      await new Promise((r) => setTimeout(r, 200))
      assert.equal(sink.got.filter((e) => e.data?.text === 'push me').length, 1) // message-sent was dropped
      await Promise.all([u1.close(), u2.close()])
    } finally {
      await sender.close()
    }
  })
})

describe('chat21 push webhook forwarder: configuration (§10.2)', () => {
  it('without a configured token every call is refused with 401', async () => {
    const h = await startChat21()
    try {
      for (const token of ['x', 'undefined', '%20']) {
        const r = await rest(h, 'POST', `/tilechat/push/webhook/endpoint/${token}`, undefined, event('message-delivered'))
        assert.equal(r.status, 401)
        assert.equal(r.body.success, false)
      }
    } finally {
      await h.close()
    }
  })

  it('502 JSON when the notify URL is unreachable', async () => {
    const h = await startChat21({ overrides: {
      'chat21.pushWebhook.token': TOKEN, 'chat21.pushWebhook.notifyUrl': `http://127.0.0.1:${await closedPort()}/notify`,
    } })
    try {
      const r = await rest(h, 'POST', `/tilechat/push/webhook/endpoint/${TOKEN}`, undefined, event('message-delivered'))
      assert.equal(r.status, 502)
      assert.deepEqual(r.body, { success: false, err: 'notify endpoint unreachable' })
    } finally {
      await h.close()
    }
  })

  it('a token without a notify URL, or a notify URL that is not http(s), stops the start naming the setting', async () => {
    await assert.rejects(startChat21({ overrides: { 'chat21.pushWebhook.token': TOKEN } }), /HERALD_CHAT21_PUSH_WH_NOTIFY_URL/)
    await assert.rejects(startChat21({ overrides: { 'chat21.pushWebhook.token': TOKEN, 'chat21.pushWebhook.notifyUrl': 'ftp://x/y' } }), /must be an http\(s\) URL/)
  })
})
