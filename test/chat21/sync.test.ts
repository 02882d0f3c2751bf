// chat21 §12.2 `POST /:app_id/messages/sync`: sent like `POST /:app_id/messages`, answered with the copy that
// lands in the caller's own inbox, the same one a real MQTT client subscribed to that inbox receives.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { login, rest, startChat21, type Chat21Herald, type TestUser } from './helpers.ts'

describe('chat21 POST /:app_id/messages/sync (§12.2)', () => {
  let h: Chat21Herald
  let u1: TestUser, u2: TestUser
  let admin: string
  // the original's client passes where to log in over MQTT; Herald routes in process and ignores them
  const sync = '/tilechat/messages/sync?mqtt_endpoint=ws%3A%2F%2Fexample.invalid%2Fws&chatapi_endpoint=http%3A%2F%2Fexample.invalid%2Fapi'

  before(async () => {
    h = await startChat21({ overrides: { 'chat21.http.syncTimeoutMs': 300 } })
    ;[u1, u2] = await Promise.all(['U1', 'U2'].map((id) => login(h, id)))
    admin = await h.chat21.tokens!.issue('apiadmin', { admin: true })
  })
  after(async () => {
    await Promise.all([u1, u2].map((u) => u?.close()))
    await h?.close()
  })

  it('direct: answers the status-100 sender copy, the one published to the sender\'s inbox; the recipient gets 150', async () => {
    const r = await rest(h, 'POST', sync, u1.token, { sender_fullname: 'One', recipient_id: 'U2', recipient_fullname: 'Two', text: 'sync direct', attributes: { a: 1 } })
    assert.equal(r.status, 200)
    assert.equal(r.body.success, true)
    const m = r.body.message
    assert.equal(m.status, 100)
    assert.equal(m.sender, 'U1')
    assert.equal(m.recipient, 'U2')
    assert.equal(m.text, 'sync direct')
    assert.equal(m.channel_type, 'direct')
    assert.deepEqual(m.attributes, { a: 1 })
    assert.match(m.message_id, /^[0-9a-f-]{36}$/)
    const mine = await u1.waitFor('/users/U1/messages/U2/clientadded', (b) => b.message_id === m.message_id)
    assert.deepEqual(mine.body, m)
    const theirs = await u2.waitFor('/users/U2/messages/U1/clientadded', (b) => b.message_id === m.message_id)
    assert.equal(theirs.body.status, 150)
    assert.equal(theirs.body.text, 'sync direct')
  })

  it('group: answers the sender\'s member copy as delivered to the sender; members get theirs', async () => {
    const g = await rest(h, 'POST', '/tilechat/groups', u1.token, { group_name: 'Sync team', group_members: { U2: 1 } })
    assert.equal(g.status, 201)
    const gid = g.body.group.uid
    const r = await rest(h, 'POST', sync, u1.token, { sender_fullname: 'One', recipient_id: gid, recipient_fullname: 'Sync team', text: 'sync group', channel_type: 'group' })
    assert.equal(r.status, 200)
    const m = r.body.message
    assert.equal(m.recipient, gid)
    assert.equal(m.status, 150)
    assert.equal(m.text, 'sync group')
    const mine = await u1.waitFor(`/users/U1/messages/${gid}/clientadded`, (b) => b.message_id === m.message_id)
    assert.deepEqual(mine.body, m)
    await u2.waitFor(`/users/U2/messages/${gid}/clientadded`, (b) => b.message_id === m.message_id)
  })

  it('validates and authorizes as POST /:app_id/messages: 405 plain text, 401 on another app, 403 for a non-member', async () => {
    const missing = await rest(h, 'POST', sync, u1.token, { recipient_id: 'U2', text: 'x' })
    assert.equal(missing.status, 405)
    assert.equal(missing.body, 'sender_fullname is mandatory')
    assert.equal((await rest(h, 'POST', '/tilechat/messages/sync', undefined, { sender_fullname: 'a', recipient_id: 'U2', recipient_fullname: 'b' })).status, 403)
    assert.equal((await rest(h, 'POST', '/otherapp/messages/sync', u1.token, { sender_fullname: 'a', recipient_id: 'U2', recipient_fullname: 'b' })).status, 401)
    const g = await rest(h, 'POST', '/tilechat/groups', u2.token, { group_name: 'Closed', group_members: {} })
    const refused = await rest(h, 'POST', sync, u1.token, { sender_fullname: 'a', recipient_id: g.body.group.uid, recipient_fullname: 'b', channel_type: 'group' })
    assert.equal(refused.status, 403)
    assert.equal(refused.body.success, false)
  })

  it('an admin may send as another user and gets that user\'s copy', async () => {
    const r = await rest(h, 'POST', sync, admin, { sender_fullname: 'Bot', recipient_id: 'U2', recipient_fullname: 'Two', text: 'from bot', sender_id: 'bot1' })
    assert.equal(r.status, 200)
    assert.equal(r.body.message.sender, 'bot1')
    assert.equal(r.body.message.status, 100)
    await u2.waitFor('/users/U2/messages/bot1/clientadded', (b) => b.message_id === r.body.message.message_id)
  })

  it('504 JSON when no copy reaches the sender (attributes.hiddenFor is the sender); the members still get theirs', async () => {
    const g = await rest(h, 'POST', '/tilechat/groups', u1.token, { group_name: 'Hidden', group_members: { U2: 1 } })
    const gid = g.body.group.uid
    const r = await rest(h, 'POST', sync, u1.token, { sender_fullname: 'One', recipient_id: gid, recipient_fullname: 'Hidden', text: 'not for me', channel_type: 'group', attributes: { hiddenFor: 'U1' } })
    assert.equal(r.status, 504)
    assert.equal(r.body.success, false)
    assert.match(r.body.err, /no copy reaches the sender/)
    await u2.waitFor(`/users/U2/messages/${gid}/clientadded`, (b) => b.text === 'not for me')
  })

  it('504 JSON when the copy is not routed in time (chat21.http.syncTimeoutMs); it is delivered later', async () => {
    const store = h.chat21.flow!.store
    const save = store.saveCopies.bind(store)
    // a slow database for this one commit
    store.saveCopies = (...args) => new Promise((r) => setTimeout(r, 600)).then(() => save(...args))
    try {
      const r = await rest(h, 'POST', sync, u1.token, { sender_fullname: 'One', recipient_id: 'U2', recipient_fullname: 'Two', text: 'slow' })
      assert.equal(r.status, 504)
      assert.equal(r.body.success, false)
      assert.match(r.body.err, /not routed within 300 ms/)
    } finally {
      store.saveCopies = save
    }
    await u1.waitFor('/users/U1/messages/U2/clientadded', (b) => b.text === 'slow')
    await u2.waitFor('/users/U2/messages/U1/clientadded', (b) => b.text === 'slow')
  })
})
