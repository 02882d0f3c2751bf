// Security (chat21 §5.2, §17.3): an inline `group` in a message must not let a non-member write into a stored
// group. The attacker publishes over MQTT as a real client would; the legitimate members keep their groups.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { login, rest, startChat21, type Chat21Herald, type TestUser } from '../chat21/helpers.ts'

const GID = 'group-closed'

describe('security: chat21 inline group vs a stored group (§5.2, §17.3)', () => {
  let h: Chat21Herald
  let owner: TestUser, member: TestUser, attacker: TestUser, outsider: TestUser
  const everyone = () => [owner, member, attacker, outsider]
  const timeline = () => h.chat21.flow!.store.messages(GID, 'tilechat', GID)

  before(async () => {
    h = await startChat21()
    ;[owner, member, attacker, outsider] = await Promise.all(['OWNER', 'MEMBER', 'ATTACKER', 'OUTSIDER'].map((id) => login(h, id)))
    const g = await rest(h, 'POST', '/tilechat/groups', owner.token, { group_name: 'Closed', group_members: { MEMBER: 1 }, group_id: GID })
    assert.equal(g.status, 201)
    await member.waitFor(`/users/MEMBER/messages/${GID}/clientadded`, (b) => b.text === 'MEMBER joined group on creation')
  })
  after(async () => {
    await Promise.all(everyone().map((u) => u?.close()))
    await h?.close()
  })

  it('a non-member publishing with an inline group reaches nobody and is not stored or replayed', async () => {
    const inline = { members: { OWNER: 1, MEMBER: 1, OUTSIDER: 1, ATTACKER: 1 } }
    // QoS 1: on the embedded broker the PUBACK comes once the observer has handled the message
    await attacker.client.publishAsync(`apps/tilechat/outgoing/users/ATTACKER/messages/${GID}/outgoing`,
      JSON.stringify({ text: 'injected', channel_type: 'group', group: inline }), { qos: 1 })
    // a member's message after it: once it arrived everywhere, the attacker's would have too
    member.send(GID, { text: 'after the attack' })
    await owner.waitFor(`/users/OWNER/messages/${GID}/clientadded`, (b) => b.text === 'after the attack')
    await member.waitFor(`/users/MEMBER/messages/${GID}/clientadded`, (b) => b.text === 'after the attack')
    for (const u of everyone()) assert.equal(u.got.some((m) => m.body?.text === 'injected'), false, `${u.id} got the injected message`)

    const stored = await timeline()
    assert.equal(stored.some((m) => m.text === 'injected'), false, 'the injected message is in the group timeline')
    assert.equal(stored.some((m) => m.text === 'after the attack'), true)
    const hist = await rest(h, 'GET', `/tilechat/MEMBER/conversations/${GID}/messages`, member.token)
    assert.equal(hist.status, 200)
    assert.equal(hist.body.result.some((m: any) => m.text === 'injected'), false)

    // a later joiner gets the history, without the injected message
    const joiner = await login(h, 'JOINER')
    try {
      assert.equal((await rest(h, 'POST', `/tilechat/groups/${GID}/members`, owner.token, { member_id: 'JOINER' })).status, 200)
      await joiner.waitFor(`/users/JOINER/messages/${GID}/clientadded`, (b) => b.text === 'after the attack' && b.__history === 'true')
      assert.equal(joiner.got.some((m) => m.body?.text === 'injected'), false)
    } finally { await joiner.close() }
  })

  it('a member still reaches the stored members, with or without an inline group; the inline list is ignored', async () => {
    member.send(GID, { text: 'plain member message' })
    for (const u of [owner, member]) await u.waitFor(`/messages/${GID}/clientadded`, (b) => b.text === 'plain member message')

    await member.client.publishAsync(`apps/tilechat/outgoing/users/MEMBER/messages/${GID}/outgoing`,
      JSON.stringify({ text: 'member with inline', group: { members: { OUTSIDER: 1 } } }), { qos: 1 })
    const copies = await Promise.all([owner, member].map((u) => u.waitFor(`/messages/${GID}/clientadded`, (b) => b.text === 'member with inline')))
    // the copies do not carry the sender's own member list: the stored group is the one that counts
    for (const c of copies) assert.equal(c.body.group, undefined)
    owner.send(GID, { text: 'marker' })
    await member.waitFor(`/messages/${GID}/clientadded`, (b) => b.text === 'marker')
    assert.equal(outsider.got.some((m) => m.body?.text === 'member with inline'), false, 'the inline list reached a non-member')
    const stored = (await timeline()).find((m) => m.text === 'member with inline')
    assert.ok(stored)
    assert.equal(stored.group, undefined)
  })

  it('an inline group with no stored group behind it is still honoured (§5.2 volatile groups)', async () => {
    attacker.send('group-volatile', { text: 'volatile', group: { members: { OUTSIDER: 1 } } })
    const m = await outsider.waitFor('/users/OUTSIDER/messages/group-volatile/clientadded', (b) => b.text === 'volatile')
    assert.deepEqual(m.body.group.members, { OUTSIDER: 1, 'group-volatile': 1, ATTACKER: 1 })
  })
})
