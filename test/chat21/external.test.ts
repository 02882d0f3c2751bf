// External mode (issue 4 item 7): the real RabbitMQ (MQTT + Web-MQTT plugins) is the broker, chat21 clients log
// in with their JWT through Herald's HTTP auth endpoints (§15), and two Herald nodes consume the client topics as
// competing consumers of durable AMQP queues: every message is routed exactly once.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import amqp from 'amqplib'
import { sharedQueueName } from '../../src/core/bus/amqp-shared.ts'
import { Topics } from '../../src/dialects/chat21/topics.ts'
import { createPgSchema, dropPgSchema, pgUrlForSchema, requireService, silence } from '../helpers.ts'
import { pointRabbitAuthAt, rabbitAuthAvailable, resetRabbitAuth, RABBIT_MQTT_URL, RABBIT_WS_URL } from '../rabbitmq.ts'
import { login, rest, startChat21, until, type Chat21Herald, type TestUser } from './helpers.ts'

const AMQP_URL = process.env.HERALD_TEST_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672'
const available = await rabbitAuthAvailable()

describe('chat21 on RabbitMQ, two Herald nodes', requireService(available, 'RabbitMQ with MQTT and the HTTP auth backend (scripts/rabbitmq-setup.sh)'), () => {
  const group = `c21t${process.pid}${Math.random().toString(36).slice(2, 8)}`
  let schema: string
  const nodes: Chat21Herald[] = []
  const routed = [0, 0]
  let u1: TestUser, u2: TestUser, u3: TestUser

  before(async () => {
    schema = await createPgSchema()
    for (let i = 0; i < 2; i++) {
      const h = await startChat21({ overrides: {
        databaseUrl: pgUrlForSchema(schema), 'broker.url': RABBIT_MQTT_URL, 'broker.amqpUrl': AMQP_URL,
        'broker.sharedGroup': group, 'broker.sharedSubscriptions': false,
        // Herald's own broker account is RabbitMQ's internal guest (first auth backend)
        'service.username': 'guest', 'service.password': 'guest',
      } })
      const flow = h.chat21.flow!
      const deliver = flow.deliver.bind(flow)
      flow.deliver = async (copies) => {
        if (copies.some((c) => c.msg.status === 100)) routed[i]++
        return deliver(copies)
      }
      nodes.push(h)
    }
    await pointRabbitAuthAt(nodes[0].httpUrl)
    ;[u1, u2, u3] = await Promise.all(['U1', 'U2', 'U3'].map((id) => login(nodes[0], id, { url: RABBIT_WS_URL })))
  })

  after(async () => {
    await Promise.allSettled([u1, u2, u3].map((u) => u?.close()))
    await Promise.allSettled(nodes.map((h) => h.close()))
    if (available) {
      await resetRabbitAuth()
      const conn = await amqp.connect(AMQP_URL)
      const ch = await conn.createChannel()
      const t = new Topics('tilechat')
      for (const f of [t.outgoingFilter(), t.receiptFilter(), t.conversationUpdateFilter(), t.archiveFilter(), t.presenceFilter()]) {
        await ch.deleteQueue(sharedQueueName(group, f)).catch(() => {})
      }
      await conn.close()
    }
    if (schema) await dropPgSchema(schema)
  })

  it('routes each direct message exactly once across the two nodes, stored before published', async () => {
    const N = 40
    for (let i = 0; i < N; i++) u1.send('U2', { text: `rabbit ${i}` })
    await until(() => u2.got.filter((m) => m.topic.endsWith('/users/U2/messages/U1/clientadded')).length >= N || undefined, 15000, 'all copies')
    await silence(u2.client, 500)
    const copies = u2.got.filter((m) => m.topic.endsWith('/users/U2/messages/U1/clientadded'))
    assert.equal(copies.length, N)
    assert.equal(new Set(copies.map((m) => m.body.text)).size, N)
    assert.equal(u1.got.filter((m) => m.topic.endsWith('/users/U1/messages/U2/clientadded')).length, N)
    assert.equal(routed[0] + routed[1], N)
    assert.ok(routed[0] > 0 && routed[1] > 0, `both nodes routed (${routed.join(' + ')})`)
    const hist = await rest(nodes[1], 'GET', '/tilechat/U2/conversations/U1/messages', u2.token)
    assert.equal(hist.body.result.length, N)
  })

  it('receipts, group fan-out and refused spoofing work through RabbitMQ', async () => {
    const m = u2.got.find((x) => x.body.text === 'rabbit 0')!
    u2.publish(`apps/tilechat/users/U2/messages/U1/${m.body.message_id}/update`, { status: 200 })
    await u1.waitFor(`/users/U1/messages/U2/${m.body.message_id}/clientupdated`, (b) => b.status === 250, 10000)
    const g = await rest(nodes[1], 'POST', '/tilechat/groups', u1.token, { group_name: 'R', group_members: { U2: 1, U3: 1 }, group_id: 'group-rabbit' })
    assert.equal(g.status, 201)
    u3.send('group-rabbit', { text: 'to the group' })
    for (const u of [u1, u2, u3]) await u.waitFor('/messages/group-rabbit/clientadded', (b) => b.text === 'to the group', 10000)
    // RabbitMQ asks Herald (topic_path) and Herald refuses: the spoofer's connection is closed, nothing routed
    const spoofer = await login(nodes[0], 'U3', { url: RABBIT_WS_URL })
    const closed = new Promise<void>((r) => spoofer.client.once('close', () => r()))
    spoofer.publish('apps/tilechat/outgoing/users/U1/messages/U2/outgoing', { text: 'spoofed via rabbit' })
    await closed
    await silence(u2.client, 500)
    assert.equal(u2.got.some((x) => x.body.text === 'spoofed via rabbit'), false)
    await spoofer.close()
  })
})
