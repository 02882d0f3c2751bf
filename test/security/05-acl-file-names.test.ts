// Security hole 5: an ACL-file `user` section applied to any account of that name, so an open HeartSMS signup
// named `sensor1` got the file's `sensor1` rights. ACL-file rules now apply to Herald's own accounts (and client
// certificates) only, and the file's user names are reserved at dialect signups.
import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { createChat21 } from '../../src/dialects/chat21/index.ts'
import { chat21Settings } from '../../src/dialects/chat21/settings.ts'
import { createHeartsms } from '../../src/dialects/heartsms/index.ts'
import { connect, startTestHerald, type TestHerald } from '../helpers.ts'
import { api, sha256 } from '../heartsms/helpers.ts'

let h: TestHerald
const chat21 = createChat21()

before(async () => {
  const acl = join(process.env.TMPDIR ?? '/tmp', `herald-sec5-${process.pid}.acl`)
  writeFileSync(acl, 'user sensor1\ntopic readwrite sensors/#\npattern read devices/%u/#\n')
  const heart = createHeartsms()
  h = await startTestHerald({
    dialects: [heart, chat21], settings: [...heart.settings!, ...chat21Settings],
    env: { NODE_ENV: 'test', HEART_ALLOWED_USERS: '*' },
    overrides: { 'auth.aclFile': acl },
  })
  await h.users.add('sensor1', 'sensor-pw')
})
after(async () => { await h.close() })

const signup = (name: string) => api(h, 'accounts/signup', { body: { name, password: sha256('x'), phone_number: '5555555555', real_name: 'R' } })

describe('security 5: ACL-file rules belong to Herald accounts, not to dialect accounts of the same name', () => {
  test('a HeartSMS signup cannot take an ACL-file user name', async () => {
    const r = await signup('sensor1')
    assert.deepEqual({ status: r.status, body: r.body }, { status: 401, body: { error: 'username is not allowed' } })
    assert.equal((await signup('sensor1-other')).status, 200, 'other names still sign up')
  })

  test("a chat21 user whose id equals the ACL file's user name gets none of its rights", async () => {
    const token = await chat21.tokens!.issue('sensor1')
    const c = await connect(h.mqttUrl, { username: 'JWT', password: token, clientId: 'sec5-chat21' })
    try {
      // mqtt.js rejects a SUBSCRIBE whose SUBACK carries 0x80
      await assert.rejects(c.subscribeAsync('sensors/#', { qos: 0 }), /Subscribe error/)
      await assert.rejects(c.subscribeAsync('devices/sensor1/#', { qos: 0 }), /Subscribe error/)
      const own = await c.subscribeAsync('apps/tilechat/users/sensor1/#', { qos: 0 })
      assert.equal(own[0].qos, 0, 'its own chat21 rights are untouched')
    } finally {
      c.end(true)
    }
  })

  test('the Herald account the file names keeps its rights (user section and pattern)', async () => {
    const c = await connect(h.mqttUrl, { username: 'sensor1', password: 'sensor-pw', clientId: 'sec5-herald' })
    try {
      const granted = await c.subscribeAsync(['sensors/#', 'devices/sensor1/#'], { qos: 0 })
      assert.deepEqual(granted.map((g) => g.qos), [0, 0])
    } finally {
      c.end(true)
    }
  })
})
