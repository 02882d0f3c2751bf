// Security (ARCHITECTURE "bad input gets a clear error"; chat21 §4.1, §12.2): a 50,000-level nested JSON send is
// refused with a 400 over REST, and over MQTT dropped (and counted) before its PUBACK, never stored or routed.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { MAX_JSON_DEPTH } from '../../src/dialects/chat21/json.ts'
import { login, rest, startChat21, type Chat21Herald, type TestUser } from '../chat21/helpers.ts'

const LEVELS = 50_000
/** `attributes` nested LEVELS arrays deep: about 100 kB, under the HTTP body limit and the MQTT packet limit. */
const deep = (fields: string) => `{${fields},"text":"deep","attributes":${'['.repeat(LEVELS)}${']'.repeat(LEVELS)}}`
/** nested objects, `levels` deep in all (the message itself is level 1) */
const nested = (levels: number): unknown => (levels <= 1 ? { text: 'nested' } : { text: 'nested', n: nested(levels - 1) })

/** The value of one sample line, `name{labels} value`, or undefined when absent. */
function sample(text: string, name: string, labels: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}} `))
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1))
}

describe('security: chat21 deeply nested JSON (§4.1, §12.2)', () => {
  let h: Chat21Herald
  let u1: TestUser, u2: TestUser
  const scrape = async () => (await fetch(`${h.metricsUrl}/metrics`)).text()
  const dropped = async () => sample(await scrape(), 'chat21_messages_dropped_total', 'reason="too_deep"') ?? 0
  const post = async (body: string) => {
    const res = await fetch(`${h.api}/tilechat/messages`, { method: 'POST', headers: { authorization: u1.token, 'content-type': 'application/json' }, body })
    return { status: res.status, type: res.headers.get('content-type') ?? '', text: await res.text() }
  }

  before(async () => {
    h = await startChat21()
    ;[u1, u2] = await Promise.all(['U1', 'U2'].map((id) => login(h, id)))
  })
  after(async () => {
    await Promise.all([u1, u2].map((u) => u?.close()))
    await h?.close()
  })

  it('REST: 400 with a chat21 JSON error, nothing routed; a normal send still works', async () => {
    const r = await post(deep('"sender_fullname":"a","recipient_id":"U2","recipient_fullname":"b"'))
    assert.equal(r.status, 400)
    assert.match(r.type, /^application\/json/)
    const body = JSON.parse(r.text)
    assert.equal(body.success, false)
    assert.match(body.err, /nested/)
    // also on other chat21 routes (the parser is the API's)
    const g = await fetch(`${h.api}/tilechat/groups`, { method: 'POST', headers: { authorization: u1.token, 'content-type': 'application/json' }, body: `{"group_name":"x","group_members":{},"attributes":${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}}` })
    assert.equal(g.status, 400)

    const ok = await rest(h, 'POST', '/tilechat/messages', u1.token, { sender_fullname: 'a', recipient_id: 'U2', recipient_fullname: 'b', text: 'normal http', attributes: nested(MAX_JSON_DEPTH - 1) })
    assert.equal(ok.status, 200)
    await u2.waitFor('/users/U2/messages/U1/clientadded', (b) => b.text === 'normal http')
    assert.equal(u2.got.some((m) => m.body?.text === 'deep'), false)
    assert.equal((await h.chat21.flow!.store.messages('U2', 'tilechat', 'U1')).some((m) => m.text === 'deep'), false)
  })

  it('MQTT: dropped and counted before the PUBACK, nothing delivered or stored; the next message is routed', async () => {
    const before = await dropped()
    // the broker acknowledges a QoS 1 PUBLISH once the observer has handled it: the drop is already counted
    await u1.client.publishAsync('apps/tilechat/outgoing/users/U1/messages/U2/outgoing', deep('"sender_fullname":"a"'), { qos: 1 })
    assert.equal(await dropped(), before + 1)
    // one level too deep is dropped as well; exactly the limit passes
    await u1.client.publishAsync('apps/tilechat/outgoing/users/U1/messages/U2/outgoing', JSON.stringify({ ...nested(MAX_JSON_DEPTH + 1) as object, text: 'limit+1' }), { qos: 1 })
    assert.equal(await dropped(), before + 2)
    u1.send('U2', { ...nested(MAX_JSON_DEPTH) as object, text: 'at the limit' })
    u1.send('U2', { text: 'next' })
    await u2.waitFor('/users/U2/messages/U1/clientadded', (b) => b.text === 'at the limit')
    await u2.waitFor('/users/U2/messages/U1/clientadded', (b) => b.text === 'next')
    await u1.waitFor('/users/U1/messages/U2/clientadded', (b) => b.text === 'next')
    for (const u of [u1, u2]) assert.equal(u.got.some((m) => m.body?.text === 'deep' || m.body?.text === 'limit+1'), false)
    const stored = await h.chat21.flow!.store.messages('U2', 'tilechat', 'U1')
    assert.equal(stored.some((m) => m.text === 'deep' || m.text === 'limit+1'), false)
    assert.equal(u1.client.connected, true)
  })

})

describe('security: chat21 deeply nested JSON among other messages (§5.3 group commit, PostgreSQL)', () => {
  let h: Chat21Herald
  let u1: TestUser, u2: TestUser
  before(async () => {
    h = await startChat21({ db: 'postgres' })
    ;[u1, u2] = await Promise.all(['U1', 'U2'].map((id) => login(h, id)))
  })
  after(async () => {
    await Promise.all([u1, u2].map((u) => u?.close()))
    await h?.close()
  })

  it('a deep message routed among others does not take their group commit down with it', async () => {
    // what arrives while a commit is in flight shares the next transaction (the store's group commit)
    u1.send('U2', { text: 'around 0' })
    u1.publish('apps/tilechat/outgoing/users/U1/messages/U2/outgoing', deep('"x":1'))
    for (let i = 1; i <= 20; i++) u1.send('U2', { text: `around ${i}` })
    await u2.waitFor('/users/U2/messages/U1/clientadded', (b) => b.text === 'around 20')
    const got = u2.got.filter((m) => m.topic.endsWith('/users/U2/messages/U1/clientadded') && /^around /.test(m.body.text))
    assert.deepEqual(got.map((m) => m.body.text), Array.from({ length: 21 }, (_, i) => `around ${i}`))
  })
})
