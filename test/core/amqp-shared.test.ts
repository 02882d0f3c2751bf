// The RabbitMQ shared-subscription bus (src/core/bus/amqp-shared.ts): competing consumers on a durable queue bound
// to amq.topic, RabbitMQ's MQTT ↔ AMQP name mapping, and a node that loses its AMQP connection consumes again.
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import net from 'node:net'
import { after, before, describe, test } from 'node:test'
import { promisify } from 'node:util'
import amqp, { type ChannelModel } from 'amqplib'
import { AmqpShared, sharedQueueName } from '../../src/core/bus/amqp-shared.ts'
import { filterToBindingKey, routingKeyToTopic } from '../../src/core/util/routing-keys.ts'
import { requireService } from '../helpers.ts'

const AMQP_URL = 'amqp://guest:guest@127.0.0.1:5672'
const run = promisify(execFile)

function amqpUp(): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port: 5672 })
    s.once('connect', () => { s.destroy(); resolve(true) })
    s.once('error', () => resolve(false))
  })
}

async function until(cond: () => boolean, ms = 15_000): Promise<void> {
  const end = Date.now() + ms
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out')
    await new Promise((r) => setTimeout(r, 50))
  }
}

test('names follow RabbitMQ\'s MQTT mapping (/ and . swapped, + is *)', () => {
  assert.equal(filterToBindingKey('apps/tilechat/users/+/messages/#'), 'apps.tilechat.users.*.messages.#')
  assert.equal(filterToBindingKey('a.b/c'), 'a/b.c')
  assert.equal(routingKeyToTopic('apps.tilechat.u/1'), 'apps/tilechat/u.1')
  assert.match(sharedQueueName('herald', 'a/+/b'), /^herald\.herald\.a\.\*\.b$/)
})

describe('AmqpShared on the real RabbitMQ', async () => {
  const opts = requireService(await amqpUp(), 'RabbitMQ AMQP on 127.0.0.1:5672')
  const group = `t${process.pid}${Math.random().toString(36).slice(2, 6)}`
  const base = `amqptest/${group}`
  let pub: ChannelModel
  const nodes: AmqpShared[] = []

  before(async () => { if (!opts.skip) pub = await amqp.connect(AMQP_URL) })
  after(async () => {
    for (const n of nodes) await n.close()
    if (pub) {
      const ch = await pub.createChannel()
      await ch.deleteQueue(sharedQueueName(group, `${base}/#`)).catch(() => {})
      await pub.close()
    }
  })

  const send = async (topic: string) => {
    const ch = await pub.createConfirmChannel()
    ch.publish('amq.topic', filterToBindingKey(topic), Buffer.from(topic))
    await ch.waitForConfirms()
    await ch.close()
  }

  test('two nodes share the work, each message handled once; a dropped connection consumes again', opts, async () => {
    const got: string[][] = [[], []]
    for (const i of [0, 1]) {
      const n = await AmqpShared.connect({ url: AMQP_URL, group, connectionName: `herald-test-${group}-${i}` })
      nodes.push(n)
      await n.subscribe(`${base}/#`, (m) => { got[i].push(m.topic) })
    }
    for (let i = 0; i < 20; i++) await send(`${base}/m${i}`)
    await until(() => got[0].length + got[1].length === 20)
    assert.deepEqual([...got[0], ...got[1]].sort(), Array.from({ length: 20 }, (_, i) => `${base}/m${i}`).sort())

    // the broker drops node 0's connection: it reconnects and consumes its queue again
    const local = (nodes[0] as any).conn.connection.stream.localPort as number
    await nodes[1].close()
    const { stdout } = await run('rabbitmqctl', ['-q', 'list_connections', 'pid', 'name'], { timeout: 30_000 })
    const line = stdout.split('\n').find((l) => l.includes(`127.0.0.1:${local} ->`))
    assert.ok(line, `node 0's connection (local port ${local}) is listed`)
    await run('rabbitmqctl', ['-q', 'close_connection', line.split('\t')[0], 'test'], { timeout: 30_000 })
    got[0].length = 0
    await send(`${base}/after`)
    await until(() => got[0].includes(`${base}/after`))
  })
})
