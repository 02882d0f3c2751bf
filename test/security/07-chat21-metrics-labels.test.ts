// Security (chat21 §11.1): whoever can scrape /metrics must not learn who talks to whom, nor from which address.
// By default the topic label names the topic shape, not the ids, and the per-IP counters are not emitted;
// HERALD_CHAT21_METRICS_ORIGINAL_LABELS=true brings back the original's labels.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { login, rest, startChat21, type Chat21Herald, type TestUser } from '../chat21/helpers.ts'

const ALICE = 'alice-7f3a'
const BOB = 'bob-91c2'
const IP = '203.0.113.77'

/** The value of one sample line, `name{labels} value`, or undefined when absent. */
function sample(text: string, name: string, labels: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}} `))
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1))
}

/** Alice writes to Bob twice over MQTT and once over HTTP, and once to a group; what /metrics shows then. */
async function traffic(h: Chat21Herald): Promise<string> {
  const [alice, bob]: TestUser[] = await Promise.all([ALICE, BOB].map((id) => login(h, id)))
  try {
    const attributes = { projectId: 'proj-1', ipAddress: IP }
    alice.send(BOB, { text: 'one', attributes })
    alice.send(BOB, { text: 'two', attributes })
    const ok = await rest(h, 'POST', '/tilechat/messages', alice.token, { sender_fullname: 'A', recipient_id: BOB, recipient_fullname: 'B', text: 'three', attributes })
    assert.equal(ok.status, 200)
    const g = await rest(h, 'POST', '/tilechat/groups', alice.token, { group_name: 'G', group_members: { [BOB]: 1 }, group_id: 'group-metrics' })
    assert.equal(g.status, 201)
    alice.send('group-metrics', { text: 'four', attributes })
    await bob.waitFor(`/users/${BOB}/messages/${ALICE}/clientadded`, (b) => b.text === 'two')
    await bob.waitFor(`/users/${BOB}/messages/group-metrics/clientadded`, (b) => b.text === 'four')
    const res = await fetch(`${h.metricsUrl}/metrics`)
    assert.equal(res.status, 200)
    return await res.text()
  } finally {
    await Promise.all([alice, bob].map((u) => u.close()))
  }
}

describe('security: chat21 metrics labels carry no user ids or addresses (§11.1)', () => {
  it('by default: topic shapes with placeholders, no ip_address counters, project_id kept', async () => {
    const h = await startChat21()
    try {
      const m = await traffic(h)
      const chat21 = m.split('\n').filter((l) => l.startsWith('chat21_')).join('\n')
      assert.doesNotMatch(chat21, new RegExp(`${ALICE}|${BOB}|${IP.replace(/\./g, '\\.')}|group-metrics`))
      assert.doesNotMatch(m, /chat21_messages_per_ip_total|chat21_messages_per_project_ip_total|ip_address=/)
      // the counts are still there, per topic shape: direct (MQTT and HTTP) and group
      assert.equal(sample(m, 'chat21_messages_per_topic_total', 'topic="apps.tilechat.outgoing.users.:sender.messages.:recipient.outgoing"'), 3)
      // the group's own sends: "Group created", two "joined on creation" info messages, and Alice's
      assert.equal(sample(m, 'chat21_messages_per_topic_total', 'topic="apps.tilechat.outgoing.users.:sender.messages.:group.outgoing"'), 4)
      assert.equal(sample(m, 'chat21_messages_per_project_total', 'project_id="proj-1"'), 4)
    } finally { await h.close() }
  })

  it('HERALD_CHAT21_METRICS_ORIGINAL_LABELS=true: the original labels, as the operator asked', async () => {
    const h = await startChat21({ env: { HERALD_CHAT21_METRICS_ORIGINAL_LABELS: 'true' } })
    try {
      const m = await traffic(h)
      assert.equal(sample(m, 'chat21_messages_per_topic_total', `topic="apps.tilechat.outgoing.users.${ALICE}.messages.${BOB}.outgoing"`), 3)
      assert.equal(sample(m, 'chat21_messages_per_ip_total', `ip_address="${IP}"`), 4)
      assert.equal(sample(m, 'chat21_messages_per_project_ip_total', `project_id="proj-1",ip_address="${IP}"`), 4)
    } finally { await h.close() }
  })
})
