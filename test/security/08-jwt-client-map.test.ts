// Security hole 8: on an external broker, a direct call to the public hook login with any valid chat21 token and a
// victim's client id overwrote the JWT client-id map, so the victim's connection was then judged as the attacker.
// A hook login never overwrites another principal's client-id entry, and a token login without a client id is
// never a fallback for other clients' questions.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { startChat21, type Chat21Herald } from '../chat21/helpers.ts'

let h: Chat21Herald
let victim: string
let attacker: string

before(async () => {
  h = await startChat21()
  victim = await h.chat21.tokens!.issue('victim')
  attacker = await h.chat21.tokens!.issue('attacker')
})
after(async () => { await h.close() })

async function goAuth(path: string, body: Record<string, unknown>): Promise<number> {
  const r = await fetch(`${h.httpUrl}/api/v1/mqtt/${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
  return r.status
}
async function rabbit(path: string, body: Record<string, string>): Promise<string> {
  const r = await fetch(`${h.httpUrl}/api/v1/rabbitmq/${path}`, {
    method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(body).toString(),
  })
  return r.text()
}
const inbox = (user: string) => `apps/tilechat/users/${user}/messages/x/y`

describe('security 8: the JWT client-id map cannot be poisoned through the hook login', () => {
  test('mosquitto-go-auth: a second token for the same client id is refused; the victim stays judged as itself', async () => {
    assert.equal(await goAuth('login', { username: 'JWT', password: victim, clientid: 'victim-c' }), 200)
    assert.equal(await goAuth('login', { username: 'JWT', password: attacker, clientid: 'victim-c' }), 401)
    assert.equal(await goAuth('acl', { username: 'JWT', clientid: 'victim-c', topic: inbox('victim'), acc: 1 }), 200)
    assert.equal(await goAuth('acl', { username: 'JWT', clientid: 'victim-c', topic: inbox('attacker'), acc: 1 }), 401)
    // legitimate counterpart: the victim logging in again (a reconnect with a fresh token) still works
    const fresh = await h.chat21.tokens!.issue('victim')
    assert.equal(await goAuth('login', { username: 'JWT', password: fresh, clientid: 'victim-c' }), 200)
  })

  test('RabbitMQ user/topic: the same', async () => {
    assert.equal(await rabbit('user', { username: 'JWT', password: victim, client_id: 'victim-r' }), 'allow')
    assert.equal(await rabbit('user', { username: 'JWT', password: attacker, client_id: 'victim-r' }), 'deny')
    const topic = (user: string) => ({
      username: 'JWT', vhost: '/', resource: 'topic', name: 'amq.topic', permission: 'read',
      routing_key: `apps.tilechat.users.${user}.messages.x.y`, 'variable_map.client_id': 'victim-r',
    })
    assert.equal(await rabbit('topic', topic('victim')), 'allow')
    assert.equal(await rabbit('topic', topic('attacker')), 'deny')
  })

  test('a token login without a client id answers for no other client', async () => {
    assert.equal(await goAuth('login', { username: 'JWT', password: attacker }), 200)
    assert.equal(await goAuth('acl', { username: 'JWT', topic: inbox('attacker'), acc: 1 }), 401)
    assert.equal(await goAuth('acl', { username: 'JWT', clientid: 'never-logged-in', topic: inbox('attacker'), acc: 1 }), 401)
  })
})
