// chat21 §11.1: Prometheus counters per outgoing message, scraped from Herald's GET /metrics over HTTP. With
// HERALD_CHAT21_METRICS_ORIGINAL_LABELS the original's labels; by default no user ids or addresses in labels.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { Registry } from 'prom-client'
import { Chat21Metrics, MAX_SERIES, topicShape } from '../../src/dialects/chat21/metrics.ts'
import { login, rest, startChat21, type Chat21Herald, type TestUser } from './helpers.ts'

/** The value of one sample line, `name{labels} value`, or undefined when absent. */
function sample(text: string, name: string, labels: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}} `))
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1))
}

/** GET /metrics on Herald's Prometheus listener. */
async function scrape(h: Chat21Herald): Promise<string> {
  const res = await fetch(`${h.metricsUrl}/metrics`)
  assert.equal(res.status, 200)
  return res.text()
}

describe('chat21 Prometheus counters with the original labels (§11.1, HERALD_CHAT21_METRICS_ORIGINAL_LABELS=true)', () => {
  let h: Chat21Herald
  let u1: TestUser, u2: TestUser

  before(async () => {
    h = await startChat21({ env: { HERALD_CHAT21_METRICS_ORIGINAL_LABELS: 'true' } })
    ;[u1, u2] = await Promise.all(['U1', 'U2'].map((id) => login(h, id)))
  })
  after(async () => {
    await Promise.all([u1, u2].map((u) => u?.close()))
    await h?.close()
  })

  it('counts each routed outgoing message per topic, project, ip and project+ip', async () => {
    u1.send('U2', { text: 'a', attributes: { projectId: 'p1', ipAddress: '10.0.0.1' } })
    u1.send('U2', { text: 'b', attributes: { projectId: 'p1', ipAddress: '10.0.0.2' } })
    u1.send('U2', { text: 'c', attributes: { projectId: 'p2' } })
    u2.send('U1', { text: 'd', attributes: { ipAddress: '10.0.0.1' } })
    u2.send('U1', { text: 'e', attributes: { projectId: '', ipAddress: 42 } })
    u2.send('U1', { text: 'f' })
    await u2.waitFor('/users/U2/messages/U1/clientadded', (b) => b.text === 'c')
    await u1.waitFor('/users/U1/messages/U2/clientadded', (b) => b.text === 'f')

    const m = await scrape(h)
    assert.match(m, /# TYPE chat21_messages_per_topic_total counter/)
    assert.equal(sample(m, 'chat21_messages_per_topic_total', 'topic="apps.tilechat.outgoing.users.U1.messages.U2.outgoing"'), 3)
    assert.equal(sample(m, 'chat21_messages_per_topic_total', 'topic="apps.tilechat.outgoing.users.U2.messages.U1.outgoing"'), 3)
    assert.equal(sample(m, 'chat21_messages_per_project_total', 'project_id="p1"'), 2)
    assert.equal(sample(m, 'chat21_messages_per_project_total', 'project_id="p2"'), 1)
    assert.equal(sample(m, 'chat21_messages_per_ip_total', 'ip_address="10.0.0.1"'), 2)
    assert.equal(sample(m, 'chat21_messages_per_ip_total', 'ip_address="10.0.0.2"'), 1)
    assert.equal(sample(m, 'chat21_messages_per_project_ip_total', 'project_id="p1",ip_address="10.0.0.1"'), 1)
    assert.equal(sample(m, 'chat21_messages_per_project_ip_total', 'project_id="p1",ip_address="10.0.0.2"'), 1)
    // empty or non-string attributes are not labels
    assert.doesNotMatch(m, /project_id=""|ip_address=""|ip_address="42"/)
    assert.equal(m.split('\n').filter((l) => l.startsWith('chat21_messages_per_project_ip_total{')).length, 2)
  })

  it('counts HTTP sends and the info messages of group creation like MQTT sends; refused ones not at all', async () => {
    const ok = await rest(h, 'POST', '/tilechat/messages', u1.token, { sender_fullname: 'a', recipient_id: 'U2', recipient_fullname: 'b', text: 'http', attributes: { projectId: 'p1', ipAddress: '10.0.0.1' } })
    assert.equal(ok.status, 200)
    const g = await rest(h, 'POST', '/tilechat/groups', u2.token, { group_name: 'Closed', group_members: {} })
    const gid = g.body.group.uid
    const refused = await rest(h, 'POST', '/tilechat/messages', u1.token, { sender_fullname: 'a', recipient_id: gid, recipient_fullname: 'b', channel_type: 'group' })
    assert.equal(refused.status, 403)
    u1.send(gid, { text: 'not a member' })
    u1.send('U2', { text: 'after the refused one' })
    u2.send(gid, { text: 'member' })
    await u2.waitFor(`/users/U2/messages/${gid}/clientadded`, (b) => b.text === 'member')
    await u2.waitFor('/users/U2/messages/U1/clientadded', (b) => b.text === 'after the refused one')

    const m = await scrape(h)
    assert.equal(sample(m, 'chat21_messages_per_topic_total', 'topic="apps.tilechat.outgoing.users.U1.messages.U2.outgoing"'), 5)
    assert.equal(sample(m, 'chat21_messages_per_project_ip_total', 'project_id="p1",ip_address="10.0.0.1"'), 2)
    // "Group created" and "U2 joined group on creation", sent by system (§3.5)
    assert.equal(sample(m, 'chat21_messages_per_topic_total', `topic="apps.tilechat.outgoing.users.system.messages.${gid}.outgoing"`), 2)
    assert.equal(sample(m, 'chat21_messages_per_topic_total', `topic="apps.tilechat.outgoing.users.U2.messages.${gid}.outgoing"`), 1)
    assert.equal(sample(m, 'chat21_messages_per_topic_total', `topic="apps.tilechat.outgoing.users.U1.messages.${gid}.outgoing"`), undefined)
  })

  it('cuts label values to 100 characters and escapes them', async () => {
    const long = 'P'.repeat(150)
    u1.send('U2', { text: 'long', attributes: { projectId: long, ipAddress: 'a"b\\c' } })
    await u2.waitFor('/users/U2/messages/U1/clientadded', (b) => b.text === 'long')
    const m = await scrape(h)
    assert.equal(sample(m, 'chat21_messages_per_project_total', `project_id="${'P'.repeat(100)}"`), 1)
    assert.equal(sample(m, 'chat21_messages_per_ip_total', 'ip_address="a\\"b\\\\c"'), 1)
  })
})

describe('chat21 counters by default: no user ids or addresses in labels', () => {
  let h: Chat21Herald
  let u1: TestUser, u2: TestUser
  before(async () => {
    h = await startChat21()
    ;[u1, u2] = await Promise.all(['U1', 'U2'].map((id) => login(h, id)))
  })
  after(async () => {
    await Promise.all([u1, u2].map((u) => u?.close()))
    await h?.close()
  })

  it('counts per topic shape and per project; no per-IP counters', async () => {
    u1.send('U2', { text: 'a', attributes: { projectId: 'p1', ipAddress: '10.0.0.1' } })
    u2.send('U1', { text: 'b', attributes: { projectId: 'p1' } })
    const ok = await rest(h, 'POST', '/tilechat/messages', u1.token, { sender_fullname: 'a', recipient_id: 'U2', recipient_fullname: 'b', text: 'http', attributes: { ipAddress: '10.0.0.1' } })
    assert.equal(ok.status, 200)
    const g = await rest(h, 'POST', '/tilechat/groups', u2.token, { group_name: 'G', group_members: {}, group_id: 'group-shape' })
    assert.equal(g.status, 201)
    u2.send('group-shape', { text: 'to the group', attributes: { projectId: 'p2' } })
    await u2.waitFor('/users/U2/messages/U1/clientadded', (b) => b.text === 'a')
    await u2.waitFor('/users/U2/messages/group-shape/clientadded', (b) => b.text === 'to the group')
    await u1.waitFor('/users/U1/messages/U2/clientadded', (b) => b.text === 'b')

    const m = await scrape(h)
    assert.equal(sample(m, 'chat21_messages_per_topic_total', 'topic="apps.tilechat.outgoing.users.:sender.messages.:recipient.outgoing"'), 3)
    // "Group created", "U2 joined group on creation" and U2's message
    assert.equal(sample(m, 'chat21_messages_per_topic_total', 'topic="apps.tilechat.outgoing.users.:sender.messages.:group.outgoing"'), 3)
    assert.equal(sample(m, 'chat21_messages_per_project_total', 'project_id="p1"'), 2)
    assert.equal(sample(m, 'chat21_messages_per_project_total', 'project_id="p2"'), 1)
    assert.doesNotMatch(m, /chat21_messages_per_ip_total|chat21_messages_per_project_ip_total|10\.0\.0\.1/)
    assert.doesNotMatch(m.split('\n').filter((l) => l.startsWith('chat21_')).join('\n'), /U1|U2|group-shape|system/)
    // the drop counter is there from the start, at zero for each reason
    assert.equal(sample(m, 'chat21_messages_dropped_total', 'reason="too_deep"'), 0)
  })

  it('topicShape keeps the app id and the topic levels, and leaves an unexpected topic as it is', () => {
    assert.equal(topicShape('apps/tilechat/outgoing/users/U1/messages/U2/outgoing', {}), 'apps.tilechat.outgoing.users.:sender.messages.:recipient.outgoing')
    assert.equal(topicShape('apps/tilechat/outgoing/users/U1/messages/group-x/outgoing', {}), 'apps.tilechat.outgoing.users.:sender.messages.:group.outgoing')
    assert.equal(topicShape('apps/tilechat/outgoing/users/U1/messages/U2/outgoing', { channel_type: 'group' }), 'apps.tilechat.outgoing.users.:sender.messages.:group.outgoing')
  })
})

describe('chat21 counters: label sets are bounded', () => {
  it(`beyond ${MAX_SERIES} label sets a counter counts new ones under _other`, async () => {
    const registry = new Registry()
    const metrics = new Chat21Metrics(registry, { originalLabels: true })
    for (let i = 0; i <= MAX_SERIES + 5; i++) metrics.outgoing(`apps/a/outgoing/users/u${i}/messages/x/outgoing`, { attributes: { projectId: `p${i}` } })
    metrics.outgoing('apps/a/outgoing/users/u0/messages/x/outgoing', {})
    const text = await registry.metrics()
    assert.equal(sample(text, 'chat21_messages_per_topic_total', 'topic="apps.a.outgoing.users.u0.messages.x.outgoing"'), 2)
    assert.equal(sample(text, 'chat21_messages_per_topic_total', 'topic="_other"'), 6)
    assert.equal(sample(text, 'chat21_messages_per_project_total', 'project_id="_other"'), 6)
    assert.equal(text.split('\n').filter((l) => l.startsWith('chat21_messages_per_project_total{')).length, MAX_SERIES + 1)
  })
})
