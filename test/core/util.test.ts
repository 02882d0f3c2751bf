// Issue 9 §5: the small helpers the dialects and the core share (src/core/util), one copy each.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { dialectCatalog, loadDialects } from '../../src/dialects/catalog.ts'
import { createDialects } from '../../src/dialects/index.ts'
import { BoundedMap } from '../../src/core/util/bounded-map.ts'
import { globMatch } from '../../src/core/util/glob.ts'
import { bindingKeyToFilter, filterToBindingKey, routingKeyToTopic, topicToRoutingKey } from '../../src/core/util/routing-keys.ts'
import { secretOrRandom } from '../../src/core/util/secrets.ts'

describe('core/util', () => {
  test('BoundedMap drops the oldest entry past its ceiling; setting a key again makes it the newest', () => {
    const m = new BoundedMap<string, number>(2)
    m.set('a', 1).set('b', 2).set('a', 3).set('c', 4)
    assert.deepEqual([...m], [['a', 3], ['c', 4]])
    assert.throws(() => new BoundedMap(0), RangeError)
  })

  test('globMatch: * is any run of characters, the rest literal', () => {
    assert.equal(globMatch('amq.*', 'amq.topic'), true)
    assert.equal(globMatch('amq.topic', 'amqXtopic'), false)
    assert.equal(globMatch('apps/*/users/(x)', 'apps/a/b/users/(x)'), true)
    assert.equal(globMatch('*', ''), true)
  })

  test('routing keys as RabbitMQ maps them: / and . swap, + is * in filters', () => {
    assert.equal(topicToRoutingKey('apps/tilechat/users/u1/messages/u2/clientadded'), 'apps.tilechat.users.u1.messages.u2.clientadded')
    assert.equal(topicToRoutingKey('a.b/c'), 'a/b.c')
    assert.equal(routingKeyToTopic(topicToRoutingKey('x/y.z/w')), 'x/y.z/w')
    assert.equal(filterToBindingKey('apps/+/users/#'), 'apps.*.users.#')
    assert.equal(bindingKeyToFilter('apps.*.users.#'), 'apps/+/users/#')
  })

  test('secretOrRandom: configured, else the fixed one, else random and announced once', () => {
    const seen: string[] = []
    const onRandom = (s: string) => seen.push(s)
    assert.equal(secretOrRandom({ configured: 'set', fixed: 'dev', bytes: 8, onRandom }), 'set')
    assert.equal(secretOrRandom({ configured: '', fixed: 'dev', bytes: 8, onRandom }), 'dev')
    const r = secretOrRandom({ configured: '', bytes: 8, onRandom })
    assert.match(r, /^[0-9a-f]{16}$/)
    assert.deepEqual(seen, [r])
    assert.notEqual(secretOrRandom({ configured: '', bytes: 8 }), r)
  })

  test('createDialects builds fresh instances every call (no module singletons)', () => {
    const [a, b] = [createDialects(), createDialects()]
    assert.deepEqual(a.map((d) => d.name), ['heartsms', 'chat21', 'synrc', 'push'])
    for (let i = 0; i < a.length; i++) assert.notEqual(a[i], b[i])
  })

  test('the catalog `herald serve` loads from names the same dialects, with the same settings, and refuses an unknown one', async () => {
    const all = createDialects()
    assert.deepEqual(dialectCatalog.map((d) => d.name), all.map((d) => d.name))
    for (const [i, d] of all.entries()) assert.equal(dialectCatalog[i].settings, d.settings, d.name)
    const loaded = await loadDialects(['push', 'heartsms'])
    assert.deepEqual(loaded.map((d) => d.name), ['heartsms', 'push'])
    await assert.rejects(loadDialects(['heartsms', 'xmpp']), /unknown dialect\(s\) in HERALD_DIALECTS: xmpp/)
  })
})
