// chat21 routing end to end (§5) with real MQTT clients over WebSocket, on SQLite and PostgreSQL.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { silence } from '../helpers.ts'
import { login, rest, startChat21, until, type Chat21Herald, type TestUser } from './helpers.ts'

for (const db of ['sqlite', 'postgres'] as const) {
  describe(`chat21 routing (${db})`, () => {
    let h: Chat21Herald
    let u1: TestUser, u2: TestUser, u3: TestUser
    before(async () => {
      h = await startChat21({ db })
      ;[u1, u2, u3] = await Promise.all(['U1', 'U2', 'U3'].map((id) => login(h, id)))
    })
    after(async () => {
      await Promise.all([u1, u2, u3].map((u) => u?.close()))
      await h?.close()
    })

    it('direct: sender copy 100, recipient copy 150, ids from the topic, new message_id (§5.1, §4.2)', async () => {
      u1.send('U2', { text: 'hello', type: 'text', sender: 'SPOOF', recipient: 'X', message_id: 'mine', sender_fullname: 'User 1', recipient_fullname: 'User 2', channel_type: 'direct', attributes: null, metadata: null })
      const mine = await u1.waitFor('/users/U1/messages/U2/clientadded', (b) => b.text === 'hello')
      const theirs = await u2.waitFor('/users/U2/messages/U1/clientadded', (b) => b.text === 'hello')
      assert.equal(mine.body.status, 100)
      assert.equal(theirs.body.status, 150)
      for (const m of [mine.body, theirs.body]) {
        assert.equal(m.sender, 'U1')
        assert.equal(m.recipient, 'U2')
        assert.equal(m.app_id, 'tilechat')
        assert.equal(typeof m.timestamp, 'number')
        assert.match(m.message_id, /^[0-9a-f-]{36}$/)
      }
      assert.equal(mine.body.message_id, theirs.body.message_id)
      // stored before published: the history is there as soon as the copy arrived
      const hist = await rest(h, 'GET', '/tilechat/U2/conversations/U1/messages', u2.token)
      assert.equal(hist.status, 200)
      assert.equal(hist.body.result[0].message_id, theirs.body.message_id)
      assert.equal(hist.body.result[0].timelineOf, 'U2')
      assert.equal(hist.body.result[0].conversWith, 'U1')
      const convs = await rest(h, 'GET', '/tilechat/U1/conversations', u1.token)
      const c = convs.body.result.find((x: any) => x.conversWith === 'U2')
      assert.equal(c.last_message_text, 'hello')
      assert.equal(c.is_new, true)
      assert.equal(c.archived, false)
    })

    it('keeps a client timestamp and the order of one sender', async () => {
      for (let i = 0; i < 20; i++) u1.send('U3', { text: `n${i}`, timestamp: 1000 + i })
      await u3.waitFor('/messages/U1/clientadded', (b) => b.text === 'n19')
      const texts = u3.got.filter((m) => m.topic.endsWith('/messages/U1/clientadded')).map((m) => m.body.text)
      assert.deepEqual(texts, Array.from({ length: 20 }, (_, i) => `n${i}`))
      assert.equal(u3.got.find((m) => m.body.text === 'n0')!.body.timestamp, 1000)
    })

    it('one sender\'s group messages reach every member in the order sent (§5.2)', async () => {
      await rest(h, 'POST', '/tilechat/groups', u1.token, { group_name: 'Order', group_members: { U2: 1 }, group_id: 'group-order' })
      const n = 30
      for (let i = 0; i < n; i++) u1.send('group-order', { text: `g${i}` })
      await u2.waitFor('/users/U2/messages/group-order/clientadded', (b) => b.text === `g${n - 1}`)
      const live = u2.got.filter((m) => m.topic.endsWith('/group-order/clientadded') && /^g\d+$/.test(m.body.text)).map((m) => m.body.text)
      assert.deepEqual(live, Array.from({ length: n }, (_, i) => `g${i}`))
    })

    it('messages with the same timestamp keep their order: history newest first, replay oldest first (§6.1, §5.9)', async () => {
      await rest(h, 'POST', '/tilechat/groups', u1.token, { group_name: 'Ties', group_members: { U2: 1 }, group_id: 'group-ties' })
      const n = 30
      for (let i = 0; i < n; i++) u1.send('U2', { text: `same ${i}`, timestamp: 4242 })
      for (let i = 0; i < n; i++) u1.send('group-ties', { text: `gsame ${i}`, timestamp: 4343 })
      await u2.waitFor('/users/U2/messages/U1/clientadded', (b) => b.text === `same ${n - 1}`)
      await u2.waitFor('/users/U2/messages/group-ties/clientadded', (b) => b.text === `gsame ${n - 1}`)
      const hist = await rest(h, 'GET', '/tilechat/U2/conversations/U1/messages', u2.token)
      const same = hist.body.result.map((m: any) => m.text).filter((t: string) => t.startsWith('same '))
      assert.deepEqual(same, Array.from({ length: n }, (_, i) => `same ${n - 1 - i}`))
      await rest(h, 'POST', '/tilechat/groups/group-ties/members', u1.token, { member_id: 'U3' })
      await u3.waitFor('/users/U3/messages/group-ties/clientadded', (b) => b.text === `gsame ${n - 1}`)
      const replayed = u3.got.filter((m) => m.topic.endsWith('/group-ties/clientadded') && m.body.text.startsWith('gsame ')).map((m) => m.body.text)
      assert.deepEqual(replayed, Array.from({ length: n }, (_, i) => `gsame ${i}`))
    })

    it('receipt 200 becomes 250 back to the sender (§5.4)', async () => {
      u2.send('U1', { text: 'ack me' })
      const m = await u1.waitFor('/users/U1/messages/U2/clientadded', (b) => b.text === 'ack me')
      u1.publish(`apps/tilechat/users/U1/messages/U2/${m.body.message_id}/update`, { status: 200 })
      const r = await u2.waitFor(`/users/U2/messages/U1/${m.body.message_id}/clientupdated`)
      assert.deepEqual(r.body, { timelineOf: 'U2', message_id: m.body.message_id, status: 250 })
      const hist = await until(async () => {
        const res = await rest(h, 'GET', '/tilechat/U2/conversations/U1/messages', u2.token)
        const x = res.body.result.find((y: any) => y.message_id === m.body.message_id)
        return x.status === 250 ? x : undefined
      })
      assert.equal(hist.status, 250)
    })

    it('conversation patch is stored and echoed (§5.5)', async () => {
      u1.publish('apps/tilechat/users/U1/conversations/U2/update', { is_new: false })
      const r = await u1.waitFor('/users/U1/conversations/U2/clientupdated')
      assert.deepEqual(r.body, { is_new: false, timelineOf: 'U1', conversWith: 'U2' })
      const c = await rest(h, 'GET', '/tilechat/U1/conversations/U2', u1.token)
      assert.equal(c.body.result[0].is_new, false)
    })

    it('archive moves the conversation to the archived list; a new message un-archives it (§5.6)', async () => {
      u2.publish('apps/tilechat/users/U2/conversations/U1/archive', {})
      const del = await u2.waitFor('/users/U2/conversations/U1/clientdeleted')
      const add = await u2.waitFor('/users/U2/archived_conversations/U1/clientadded')
      assert.equal(del.body.archived, true)
      assert.equal(add.body.conversWith, 'U1')
      assert.equal((await rest(h, 'GET', '/tilechat/U2/archived_conversations', u2.token)).body.result.length, 1)
      assert.equal((await rest(h, 'GET', '/tilechat/U2/conversations/U1', u2.token)).body.result.length, 0)
      u1.send('U2', { text: 'back' })
      await u2.waitFor('/users/U2/messages/U1/clientadded', (b) => b.text === 'back')
      assert.equal((await rest(h, 'GET', '/tilechat/U2/conversations/U1', u2.token)).body.result.length, 1)
    })

    it('group: every member gets a 150 copy, the group timeline one 100 copy; history replay on join (§5.2, §5.9)', async () => {
      const g = await rest(h, 'POST', '/tilechat/groups', u1.token, { group_name: 'G', group_members: { U2: 1 }, group_id: 'group-g1' })
      assert.equal(g.status, 201)
      assert.deepEqual(Object.keys(g.body.group.members).sort(), ['U1', 'U2'])
      await u2.waitFor('/users/U2/messages/group-g1/clientadded', (b) => b.attributes?.messagelabel?.key === 'GROUP_CREATED')
      u2.send('group-g1', { text: 'hi group' })
      const a = await u1.waitFor('/users/U1/messages/group-g1/clientadded', (b) => b.text === 'hi group')
      const b = await u2.waitFor('/users/U2/messages/group-g1/clientadded', (x) => x.text === 'hi group')
      assert.equal(a.body.status, 150)
      assert.equal(b.body.status, 150)
      assert.equal(a.body.sender, 'U2')
      // the group timeline keeps one copy with status 100
      const timeline = await h.chat21.flow!.store.messages('group-g1', 'tilechat', 'group-g1')
      assert.equal(timeline.find((m) => m.text === 'hi group')!.status, 100)
      // U3 is not a member: nothing for U3, and U3 cannot write to the stored group (§17.3)
      assert.equal(u3.got.some((m) => m.topic.includes('group-g1')), false)
      u3.send('group-g1', { text: 'intruder' })
      assert.equal(await silence(u1.client, 300) || !u1.got.some((m) => m.body.text === 'intruder'), true)
      // join: the newest history, marked __history, then the info message
      const j = await rest(h, 'POST', '/tilechat/groups/group-g1/members', u1.token, { member_id: 'U3' })
      assert.equal(j.status, 200)
      const replay = await u3.waitFor('/users/U3/messages/group-g1/clientadded', (x) => x.text === 'hi group')
      assert.equal(replay.body.__history, 'true')
      assert.equal(replay.body.status, 150)
      assert.equal(replay.body.attributes.sendnotification, false)
      const upd = await u1.waitFor('/users/U1/groups/group-g1/clientupdated')
      assert.equal(upd.body.notification.messagelabel.key, 'MEMBER_JOINED_GROUP')
      assert.ok(upd.body.members.U3)
      u3.send('group-g1', { text: 'now a member' })
      await u1.waitFor('/users/U1/messages/group-g1/clientadded', (x) => x.text === 'now a member')
      assert.equal(u1.got.some((m) => m.body.text === 'intruder'), false)
    })

    it('join: the info message first, then the history, which does not repeat it (§5.8 order)', async () => {
      await rest(h, 'POST', '/tilechat/groups', u1.token, { group_name: 'J', group_members: { U2: 1 }, group_id: 'group-join' })
      u1.send('group-join', { text: 'before join' })
      await u2.waitFor('/users/U2/messages/group-join/clientadded', (b) => b.text === 'before join')
      assert.equal((await rest(h, 'POST', '/tilechat/groups/group-join/members', u1.token, { member_id: 'U3' })).status, 200)
      await u3.waitFor('/users/U3/messages/group-join/clientadded', (b) => b.text === 'before join')
      const seen = u3.got.filter((m) => m.topic === 'apps/tilechat/users/U3/messages/group-join/clientadded').map((m) => m.body)
      assert.equal(seen[0].attributes.messagelabel.key, 'MEMBER_JOINED_GROUP')
      assert.equal(seen[0].attributes.messagelabel.parameters.member_id, 'U3')
      assert.equal(seen[0].__history, undefined)
      const history = seen.slice(1)
      assert.ok(history.every((m) => m.__history === 'true'))
      assert.deepEqual(history.map((m) => m.text), ['Group created', 'U2 joined group on creation', 'U1 joined group on creation', 'before join'])
      // set members: the same order for each added member
      assert.equal((await rest(h, 'PUT', '/tilechat/groups/group-join/members', u1.token, { members: { U1: 1, U2: 1 } })).status, 200)
      await u3.waitFor('/users/U3/groups/group-join/clientupdated', (b) => !b.members.U3)
      u3.got.length = 0
      assert.equal((await rest(h, 'PUT', '/tilechat/groups/group-join/members', u1.token, { members: { U1: 1, U2: 1, U3: 1 } })).status, 200)
      await u3.waitFor('/users/U3/messages/group-join/clientadded', (b) => b.text === 'before join')
      const again = u3.got.filter((m) => m.topic === 'apps/tilechat/users/U3/messages/group-join/clientadded').map((m) => m.body)
      assert.equal(again[0].text, 'U3 added to group')
      assert.equal(again[0].__history, undefined)
      assert.ok(again.slice(1).every((m) => m.__history === 'true' && m.message_id !== again[0].message_id))
    })

    it('hiddenFor skips one member only (§17.2)', async () => {
      await rest(h, 'POST', '/tilechat/groups', u1.token, { group_name: 'H', group_members: { U2: 1, U3: 1 }, group_id: 'group-h1' })
      u1.send('group-h1', { text: 'not for U2', attributes: { hiddenFor: 'U2' } })
      await u3.waitFor('/users/U3/messages/group-h1/clientadded', (b) => b.text === 'not for U2')
      await u1.waitFor('/users/U1/messages/group-h1/clientadded', (b) => b.text === 'not for U2')
      assert.equal(await silence(u2.client, 200) && !u2.got.some((m) => m.body.text === 'not for U2'), true)
    })

    it('inline group: the payload names the members, as the original (§5.2)', async () => {
      u1.send('group-inline', { text: 'inline', group: { members: { U3: 1 } } })
      const m = await u3.waitFor('/users/U3/messages/group-inline/clientadded', (b) => b.text === 'inline')
      assert.deepEqual(m.body.group.members, { U3: 1, 'group-inline': 1, U1: 1 })
    })
  })
}
