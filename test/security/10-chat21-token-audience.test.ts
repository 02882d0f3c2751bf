// Security (chat21 §13.3, §13.4): one token check on both paths. A token whose `aud` lacks `rabbitmq` (a token
// of the same issuer meant for another service) logs in neither over MQTT nor at the REST API.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { SignJWT, type JWTPayload } from 'jose'
import { connect } from '../helpers.ts'
import { rest, startChat21, type Chat21Herald } from '../chat21/helpers.ts'

/** A §13.2 user token for U1 signed with the development key, with `aud` as given (absent when undefined). */
function token(aud: JWTPayload['aud']): Promise<string> {
  const claims: JWTPayload = {
    scope: ['rabbitmq.read:*/*/apps.tilechat.users.U1.*', 'rabbitmq.write:*/*/apps.tilechat.users.U1.*',
      'rabbitmq.write:*/*/apps.tilechat.outgoing.users.U1.*', 'rabbitmq.configure:*/*/*'],
    app_id: 'tilechat', tiledesk_api_roles: 'user',
  }
  if (aud !== undefined) claims.aud = aud
  return new SignJWT(claims).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).setSubject('U1').setIssuedAt()
    .setExpirationTime('1h').sign(new TextEncoder().encode('tokenKey'))
}

describe('security: chat21 token audience on MQTT and REST (§13.3)', () => {
  let h: Chat21Herald
  const mqttLogin = async (t: string) => {
    const c = await connect(`${h.wsUrl}/mqtt`, { username: 'JWT', password: t })
    await c.endAsync()
  }
  const conversations = (t: string) => rest(h, 'GET', '/tilechat/U1/conversations', t)

  before(async () => { h = await startChat21() })
  after(async () => { await h?.close() })

  for (const aud of [['other'], 'other', ['U1']]) {
    it(`aud ${JSON.stringify(aud)}: REST refuses with the §12.1 answer and MQTT login is refused`, async () => {
      const t = await token(aud)
      const r = await conversations(t)
      assert.equal(r.status, 403)
      assert.deepEqual(r.body, { success: false, msg: 'Unauthorized.' })
      // also when sent the other ways §12.1 allows
      assert.equal((await rest(h, 'GET', `/tilechat/U1/conversations?jwt=${t}`)).status, 403)
      await assert.rejects(mqttLogin(t), /Bad username or password|bad user name/i)
    })
  }

  for (const [what, aud] of [['aud ["rabbitmq","U1"] (as issued)', ['rabbitmq', 'U1']], ['aud "rabbitmq"', 'rabbitmq'], ['no aud claim', undefined]] as const) {
    it(`${what}: accepted on both paths`, async () => {
      const t = await token(aud as JWTPayload['aud'])
      const r = await conversations(t)
      assert.equal(r.status, 200)
      assert.equal(r.body.success, true)
      await mqttLogin(t)
    })
  }

  it('a token Herald issues works on both paths', async () => {
    const t = await h.chat21.tokens!.issue('U1')
    assert.equal((await conversations(t)).status, 200)
    await mqttLogin(t)
  })
})
