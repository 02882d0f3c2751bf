// Issue 9 §1 on RabbitMQ: the sessions contract against RabbitMQ 3.x's MQTT plugin (server-side subscriptions are
// bindings on the client's own subscription queue, made through rabbitmq_management; connect and disconnect come from
// rabbitmq_event_exchange), and the Erlang-printed client ids of the event headers.
import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { erlangClientId } from '../../src/core/sessions/rabbitmq.ts'
import { sessionsContract } from '../contracts/sessions.ts'
import { requireService, startTestHerald } from '../helpers.ts'
import { pointRabbitAuthAt, RABBIT_MQTT_URL, rabbitAuthAvailable, resetRabbitAuth } from '../rabbitmq.ts'

const AMQP_URL = process.env.HERALD_TEST_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672'
const MANAGEMENT_URL = process.env.HERALD_TEST_RABBIT_MANAGEMENT_URL ?? 'http://guest:guest@127.0.0.1:15672'

async function managementAvailable(): Promise<boolean> {
  try {
    const u = new URL(MANAGEMENT_URL)
    const res = await fetch(`${u.origin}/api/exchanges/%2F/amq.rabbitmq.event`, {
      headers: { authorization: 'Basic ' + Buffer.from(`${u.username}:${u.password}`).toString('base64') },
      signal: AbortSignal.timeout(3000),
    })
    return res.ok
  } catch {
    return false
  }
}

const available = (await rabbitAuthAvailable()) && (await managementAvailable())
const need = requireService(available, 'RabbitMQ with MQTT, the HTTP auth backend, rabbitmq_management and rabbitmq_event_exchange (scripts/rabbitmq-setup.sh)')

const root = `sessions-rq-${process.pid}`
sessionsContract('RabbitMQ 3.x (management API + event exchange)', async () => {
  const acl = join(process.env.TMPDIR ?? '/tmp', `herald-sessions-rq-acl-${process.pid}.conf`)
  const login = { username: `plain-rq-${process.pid}`, password: 'pw-plain' }
  writeFileSync(acl, `user ${login.username}\ntopic read ${root}/+/own\n`)
  const h = await startTestHerald({ overrides: {
    'broker.url': RABBIT_MQTT_URL, 'broker.amqpUrl': AMQP_URL, 'broker.managementUrl': MANAGEMENT_URL, 'auth.aclFile': acl,
    // Herald's own broker account is RabbitMQ's internal guest (first auth backend)
    'service.username': 'guest', 'service.password': 'guest',
  } })
  await h.users.add(login.username, login.password, false)
  await pointRabbitAuthAt(h.httpUrl)
  return {
    sessions: h.sessions, mqttUrl: RABBIT_MQTT_URL, login, listener: 'mqtt', root,
    publish: (topic, payload) => h.bus.publish(topic, payload, { qos: 1 }),
    close: async () => {
      await resetRabbitAuth()
      await h.close()
    },
  }
}, { skip: need.skip })

describe('client ids in rabbitmq_event_exchange headers', () => {
  test('printable, escaped, utf8-marked and byte-listed binaries', () => {
    assert.equal(erlangClientId('#{<<"client_id">> => <<"exp-1">>}'), 'exp-1')
    assert.equal(erlangClientId('#{<<"client_id">> => <<"a\\"b\\\\c">>}'), 'a"b\\c')
    assert.equal(erlangClientId('#{<<"client_id">> => <<"d\\x{e9}v"/utf8>>}'), 'dév')
    assert.equal(erlangClientId('#{<<"client_id">> => <<100,195,169,118>>}'), 'dév')
    assert.equal(erlangClientId('#{}'), undefined)
  })
})
