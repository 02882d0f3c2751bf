// Issue 9 §3: each dialect owns its topic space; an ACL-file grant (even `#`) or open anonymous access does not
// reach inside it unless the operator names it in HERALD_AUTH_GRANT_OWNED; dialects get a narrow registry.
import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import type { MqttClient } from 'mqtt'
import { AccessControl } from '../../src/core/access/access.ts'
import { parseAcl } from '../../src/core/access/acl-file.ts'
import { api, newAccount, startHeart } from '../heartsms/helpers.ts'
import { collect, connect, silence } from '../helpers.ts'

function aclFile(text: string): string {
  const f = join(process.env.TMPDIR ?? '/tmp', `herald-scoped-${process.pid}-${Math.random().toString(36).slice(2)}.acl`)
  writeFileSync(f, text)
  return f
}

const refused = (c: MqttClient, filter: string) => assert.rejects(c.subscribeAsync(filter, { qos: 0 }), /Subscribe error/)

describe('owned topic spaces', () => {
  test('an ACL-file `#` grant does not reach heartsms/…: no subscription inside it, no delivery through `#`', async () => {
    const h = await startHeart('sqlite', { overrides: { 'auth.aclFile': aclFile('user ops\ntopic readwrite #\n') } })
    try {
      await h.users.add('ops', 'pw')
      const a = await newAccount(h)
      const ops = await connect(h.mqttUrl, { username: 'ops', password: 'pw', clientId: 'scoped-ops' })
      await ops.subscribeAsync('#', { qos: 1 })
      await refused(ops, `heartsms/${a.account_id}`)
      // a write publishes on heartsms/<account>: the ACL-file user does not see it, the account's device does
      const device = await connect(`${h.wsUrl}/api/v1/stream`, { username: a.username, password: a.account_id, clientId: 'scoped-dev' })
      await device.subscribeAsync(`heartsms/${a.account_id}`, { qos: 1 })
      const got = collect(device, 1)
      const quiet = silence(ops, 500)
      await api(h, 'accounts/dismissed_notification', { body: { account_id: a.account_id, id: 1 } })
      assert.equal((await got).length, 1)
      assert.equal(await quiet, true, 'nothing from heartsms/… reached the `#` subscriber')
      // outside owned spaces the grant works as before
      const mine = collect(ops, 1)
      await ops.publishAsync('plant/line1', 'ok', { qos: 1 })
      assert.equal((await mine)[0].topic, 'plant/line1')
      ops.end(true)
      device.end(true)
    } finally {
      await h.close()
    }
  })

  test('HERALD_AUTH_GRANT_OWNED opens a named filter to ACL-file rules, explicitly', async () => {
    const h = await startHeart('sqlite', {
      overrides: { 'auth.aclFile': aclFile('user ops\ntopic read heartsms/#\n'), 'auth.grantOwned': ['heartsms/#'] },
    })
    try {
      await h.users.add('ops', 'pw')
      const a = await newAccount(h)
      const ops = await connect(h.mqttUrl, { username: 'ops', password: 'pw', clientId: 'scoped-ops2' })
      await ops.subscribeAsync('heartsms/#', { qos: 1 })
      const got = collect(ops, 1)
      await api(h, 'accounts/dismissed_notification', { body: { account_id: a.account_id, id: 2 } })
      assert.equal((await got)[0].topic, `heartsms/${a.account_id}`)
      ops.end(true)
    } finally {
      await h.close()
    }
  })

  test('open anonymous access (no ACL file) stops at owned spaces', async () => {
    const h = await startHeart('sqlite', { overrides: { 'auth.allowAnonymous': true } })
    try {
      const anon = await connect(h.mqttUrl, { clientId: 'scoped-anon' })
      await refused(anon, 'heartsms/#')
      await assert.doesNotReject(anon.subscribeAsync('sandbox/#', { qos: 0 }))
      anon.end(true)
    } finally {
      await h.close()
    }
  })

  test('decision function: owned filters, deny lines still deny, dialect rules still grant', () => {
    const access = new AccessControl()
    access.addRules(parseAcl('user ops\ntopic readwrite #\ntopic deny secret/#\n'), true)
    const reg = access.registry('demo')
    reg.ownTopics(['demo/#'])
    reg.addRules([{ kind: 'demo', topic: 'demo/{room}/#', access: 'read' }])
    const ops = { kind: 'user', username: 'ops', attrs: {} }
    const member = { kind: 'demo', username: 'm', attrs: { room: 'r1' } }
    assert.equal(access.authorize(ops, 'publish', 'demo/r1/x'), false)
    assert.equal(access.authorize(ops, 'subscribe', 'demo/#'), false)
    assert.equal(access.authorize(ops, 'subscribe', '#'), true, 'a filter overlapping an owned space: delivery decides')
    assert.equal(access.authorize(ops, 'read', 'demo/r1/x'), false)
    assert.equal(access.authorize(ops, 'read', 'secret/x'), false)
    assert.equal(access.authorize(ops, 'read', 'other/x'), true)
    assert.equal(access.authorize(member, 'read', 'demo/r1/x'), true)
    assert.equal(access.authorize(member, 'read', 'demo/r2/x'), false)
  })
})
