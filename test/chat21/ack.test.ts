// ARCHITECTURE "acknowledge only after the write committed", chat21 §5.1 on the embedded broker: a client's
// outgoing message gets its PUBACK only once it is stored. PostgreSQL makes the commit wait: another session holds
// a lock on the messages table, and the client is watched while Herald waits for it.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import pg from 'pg'
import { login, rest, startChat21, type Chat21Herald, type TestUser } from './helpers.ts'

describe('chat21 on the embedded broker: PUBACK after the commit (postgres)', () => {
  let h: Chat21Herald
  let alice: TestUser
  let bob: TestUser
  let locker: pg.Client
  before(async () => {
    h = await startChat21({ db: 'postgres' })
    alice = await login(h, `alice-${process.pid}`)
    bob = await login(h, `bob-${process.pid}`)
    locker = new pg.Client({ connectionString: String(h.config.databaseUrl) })
    await locker.connect()
  })
  after(async () => {
    await locker?.end().catch(() => {})
    await alice?.close()
    await bob?.close()
    await h?.close()
  })

  test('while the store cannot commit, the sender has no PUBACK and the recipient nothing; then both, once', async () => {
    await locker.query('BEGIN')
    await locker.query('LOCK TABLE chat21_messages IN EXCLUSIVE MODE')
    let acked = false
    const topic = `apps/tilechat/outgoing/users/${alice.id}/messages/${bob.id}/outgoing`
    const pub = alice.client.publishAsync(topic, JSON.stringify({ text: 'stored first', type: 'text' }), { qos: 1 }).then(() => { acked = true })
    try {
      await new Promise((r) => setTimeout(r, 700))
      assert.equal(acked, false, 'PUBACK before the message was stored')
      assert.equal(bob.got.some((m) => m.body?.text === 'stored first'), false)
    } finally {
      await locker.query('ROLLBACK')
    }
    await pub
    const copy = await bob.waitFor('/clientadded', (b) => b.text === 'stored first')
    assert.equal(copy.body.status, 150)
    const history = await rest(h, 'GET', `/tilechat/${alice.id}/conversations/${bob.id}/messages`, alice.token)
    assert.equal(history.body.result.filter((m: { text: string }) => m.text === 'stored first').length, 1)
  })
})
