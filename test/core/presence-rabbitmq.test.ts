// Issue 9 §2, external mode for real: RabbitMQ's MQTT plugin logs a client in through Herald's
// rabbitmq_auth_backend_http endpoints, and that login (with its client id) makes the client online in Herald's
// presence; its topic checks keep it so. RabbitMQ's HTTP backend reports no disconnect: the entry expires after
// presence.hookTtlMs without a hook call (moved on a ManualClock here).
import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import type { MqttClient } from 'mqtt'
import { ManualClock } from '../../src/core/clock.ts'
import { connect, requireService, startTestHerald, type TestHerald } from '../helpers.ts'
import { pointRabbitAuthAt, RABBIT_MQTT_URL, rabbitAuthAvailable, resetRabbitAuth } from '../rabbitmq.ts'

const available = await rabbitAuthAvailable()
const HOOK_TTL = 60_000

describe('presence from RabbitMQ hook logins', requireService(available, 'RabbitMQ with MQTT and the HTTP auth backend (scripts/rabbitmq-setup.sh)'), () => {
  const clock = new ManualClock()
  let h: TestHerald
  const open: MqttClient[] = []
  before(async () => {
    const acl = join(process.env.TMPDIR ?? '/tmp', `herald-presence-acl-${process.pid}.conf`)
    writeFileSync(acl, 'user alice\ntopic readwrite alice/#\n')
    h = await startTestHerald({ clock, overrides: { 'presence.hookTtlMs': HOOK_TTL, 'auth.aclFile': acl } })
    await h.users.add('alice', 'alice-pw')
    await pointRabbitAuthAt(h.httpUrl)
  })
  after(async () => {
    for (const c of open) c.end(true)
    await resetRabbitAuth()
    await h.close()
  })

  test('a client logged in through RabbitMQ is online under its client id; without hook calls for a TTL it is not', async () => {
    const clientId = `presence-rq-${process.pid}`
    const c = await connect(RABBIT_MQTT_URL, { username: 'alice', password: 'alice-pw', clientId })
    open.push(c)
    c.on('error', () => {})
    // the user hook answered before RabbitMQ's CONNACK, and presence was updated before that answer
    assert.equal(await h.presence.isOnline(clientId), true)
    const [entry] = await h.presence.byUser('user', 'alice')
    assert.deepEqual({ clientId: entry.clientId, listener: entry.listener }, { clientId, listener: 'hook' })
    await clock.advance(HOOK_TTL * 2 / 3)
    // a subscribe makes RabbitMQ ask the vhost/resource/topic hooks for this client id: its entry is extended
    await c.subscribeAsync('alice/presence', { qos: 0 })
    await clock.advance(HOOK_TTL / 2)
    assert.equal(await h.presence.isOnline(clientId), true, 'kept online by the hook calls of its subscribe')
    await c.endAsync()
    await clock.advance(HOOK_TTL)
    assert.equal(await h.presence.isOnline(clientId), false)
  })
})
