// chat21 JWT login (§13, §14.1) and refused spoofing (§9, §17): scopes become grants on the embedded broker.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { SignJWT } from 'jose'
import { scopesToRules } from '../../src/dialects/chat21/access.ts'
import { decide } from '../../src/core/access/rules.ts'
import { connect, silence } from '../helpers.ts'
import { login, startChat21, until, type Chat21Herald, type TestUser } from './helpers.ts'

/** A user token with exactly the §13.2 claims, signed with `secret`. */
function specToken(user: string, secret: string): Promise<string> {
  return new SignJWT({
    jti: '179040d7-477b-496e-b045-317a3bbc6865', sub: user,
    scope: [`rabbitmq.read:*/*/apps.tilechat.users.${user}.*`, `rabbitmq.write:*/*/apps.tilechat.users.${user}.*`,
      `rabbitmq.write:*/*/apps.tilechat.outgoing.users.${user}.*`, 'rabbitmq.configure:*/*/*'],
    client_id: user, cid: user, azp: user, user_id: user, app_id: 'tilechat', iat: 1639214418, exp: 1950254418,
    aud: ['rabbitmq', user], kid: 'tiledesk-key', tiledesk_api_roles: 'user',
  }).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).sign(new TextEncoder().encode(secret))
}

describe('chat21 scopes as rules (§13.3)', () => {
  const p = { kind: 'chat21', username: 'U1', attrs: {}, grants: scopesToRules([
    'rabbitmq.read:*/*/apps.tilechat.users.U1.*', 'rabbitmq.write:*/*/apps.tilechat.users.U1.*',
    'rabbitmq.write:*/*/apps.tilechat.outgoing.users.U1.*', 'rabbitmq.configure:*/*/*',
  ]) }
  const can = (a: 'publish' | 'subscribe' | 'read', t: string) => decide([], p, a, t)
  it('reads its own subtree, as RabbitMQ wildcard patterns do', () => {
    assert.equal(can('subscribe', 'apps/tilechat/users/U1/#'), true)
    assert.equal(can('read', 'apps/tilechat/users/U1/messages/U2/clientadded'), true)
    assert.equal(can('subscribe', 'apps/tilechat/users/U2/#'), false)
    assert.equal(can('subscribe', 'apps/tilechat/users/+/#'), false)
    assert.equal(can('read', 'apps/tilechat/users/U10/messages/U2/clientadded'), false)
  })
  it('writes only client commands of its own', () => {
    assert.equal(can('publish', 'apps/tilechat/outgoing/users/U1/messages/U2/outgoing'), true)
    assert.equal(can('publish', 'apps/tilechat/users/U1/messages/U2/m1/update'), true)
    assert.equal(can('publish', 'apps/tilechat/users/U1/conversations/U2/update'), true)
    assert.equal(can('publish', 'apps/tilechat/users/U1/conversations/U2/archive'), true)
    assert.equal(can('publish', 'apps/tilechat/users/U1/presence/c1'), true)
    assert.equal(can('publish', 'apps/tilechat/outgoing/users/U2/messages/U1/outgoing'), false)
    assert.equal(can('publish', 'apps/tilechat/users/U1/messages/U2/clientadded'), false)
    assert.equal(can('publish', 'apps/tilechat/users/U1/groups/update'), false)
    assert.equal(can('publish', 'apps/tilechat/users/U1/groups/group-x/clientupdated'), false)
    assert.equal(can('publish', 'apps/observer/tilechat/groups/update'), false)
  })
  it('an observer token (*/*/*) may do everything', () => {
    const o = { kind: 'chat21', username: 'observer', attrs: {}, grants: scopesToRules(['rabbitmq.read:*/*/*', 'rabbitmq.write:*/*/*']) }
    assert.equal(decide([], o, 'publish', 'apps/tilechat/users/U1/messages/U2/clientadded'), true)
    assert.equal(decide([], o, 'subscribe', '#'), true)
  })
})

describe('chat21 JWT login on the embedded broker (development mode)', () => {
  let h: Chat21Herald
  let u2: TestUser
  before(async () => {
    h = await startChat21()
    u2 = await login(h, 'U2')
  })
  after(async () => { await u2?.close(); await h?.close() })

  it('accepts the original token format signed with the development key "tokenKey" (§13.2)', async () => {
    const u1 = await login(h, 'U1', { token: await specToken('U1', 'tokenKey') })
    u1.send('U2', { text: 'from a spec token' })
    await u2.waitFor('/users/U2/messages/U1/clientadded', (b) => b.text === 'from a spec token')
    await u1.close()
  })

  it('refuses a token signed with another secret, and a token under another username', async () => {
    const bad = await specToken('U1', 'not the secret')
    await assert.rejects(connect(`${h.wsUrl}/mqtt`, { username: 'JWT', password: bad }), /Bad username or password|bad user name/i)
    const good = await h.chat21.tokens!.issue('U1')
    await assert.rejects(connect(`${h.wsUrl}/mqtt`, { username: 'U1', password: good }))
  })

  it('refuses spoofing: another user\'s outgoing topic, server topics, another inbox (§9, §17)', async () => {
    // MQTT 3.1.1 §3.3.5: a denied PUBLISH is acknowledged (PUBACK) and dropped; the connection stays open
    const spoofer = await login(h, 'U3')
    await spoofer.client.publishAsync('apps/tilechat/outgoing/users/U1/messages/U2/outgoing', JSON.stringify({ text: 'spoofed' }), { qos: 1 })
    assert.equal(await silence(u2.client, 200) || !u2.got.some((m) => m.body.text === 'spoofed'), true)
    for (const topic of ['apps/tilechat/users/U3/messages/U2/clientadded', 'apps/tilechat/users/U3/groups/update', 'apps/tilechat/users/U2/messages/U3/clientadded']) {
      await spoofer.client.publishAsync(topic, JSON.stringify({ text: 'forged', members: { U2: 1 } }), { qos: 1 })
    }
    await silence(u2.client, 200)
    assert.equal(u2.got.some((m) => m.body.text === 'forged'), false)
    assert.equal(spoofer.client.connected, true)
    const peek = await login(h, 'U3')
    // SUBACK 0x80: mqtt.js reports it as a subscribe error
    await assert.rejects(peek.client.subscribeAsync('apps/tilechat/users/U2/#'), /Subscribe error/)
    await peek.close()
    await spoofer.close()
  })

  it('presence: the last will is retained on the presence topic (§3.1)', async () => {
    const u4 = await login(h, 'U4')
    u4.client.stream.destroy() // abnormal disconnect: the broker publishes the will
    const again = await login(h, 'U4')
    const will = await until(() => again.got.find((m) => m.topic.startsWith(`apps/tilechat/users/U4/presence/${u4.clientId}`) && m.retain))
    assert.deepEqual(will.body, { disconnected: true })
    await again.close()
  })
})

describe('chat21 JWT secret outside development mode (issue item 6)', () => {
  it('refuses "tokenKey" tokens unless HERALD_CHAT21_JWT_SECRET says so', async () => {
    const h = await startChat21({ overrides: { mode: 'production' } })
    try {
      await assert.rejects(connect(`${h.wsUrl}/mqtt`, { username: 'JWT', password: await specToken('U1', 'tokenKey') }))
    } finally { await h.close() }
    const h2 = await startChat21({ overrides: { mode: 'production' }, env: { HERALD_CHAT21_JWT_SECRET: 'production secret' } })
    try {
      const c = await connect(`${h2.wsUrl}/mqtt`, { username: 'JWT', password: await specToken('U1', 'production secret') })
      await c.endAsync()
    } finally { await h2.close() }
  })
})
