// Issue 9 §2: presence fed for real. Embedded: a real mqtt.js client connecting makes it online, its disconnect
// offline. External style: mosquitto-go-auth's login hook with a client id makes it online for
// presence.hookTtlMs, its ACL calls keep it so (go-auth never calls on a disconnect). Memory and Redis presence.
import assert from 'node:assert/strict'
import { after, describe, test } from 'node:test'
import { Redis } from 'ioredis'
import { ManualClock } from '../../src/core/clock.ts'
import { connect, requireService, startTestHerald, type TestHerald, eventually } from '../helpers.ts'

const REDIS_URL = process.env.HERALD_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'
const HOOK_TTL = 60_000

async function redisAvailable(): Promise<boolean> {
  const r = new Redis(REDIS_URL, { lazyConnect: true, retryStrategy: () => null, connectTimeout: 2_000, maxRetriesPerRequest: 0 })
  r.on('error', () => {})
  try { await r.connect(); return (await r.ping()) === 'PONG' } catch { return false } finally { r.disconnect() }
}

const until = eventually

const available = await redisAvailable()
const prefix = `herald-test:${process.pid}:${Math.random().toString(36).slice(2, 10)}:`
const modes = [
  { name: 'memory', overrides: {}, skip: false as string | false },
  { name: 'redis', overrides: { 'presence.redisUrl': REDIS_URL, 'presence.redisPrefix': prefix }, skip: requireService(available, 'Redis at ' + REDIS_URL).skip },
]

for (const mode of modes) {
  describe(`presence fed by the broker and the hooks (${mode.name})`, { skip: mode.skip }, () => {
    const hs: TestHerald[] = []
    after(async () => {
      for (const h of hs) await h.close()
      // hook entries outlive their node by design: this run's keys go with it
      if (mode.name === 'redis') {
        const r = new Redis(REDIS_URL)
        try {
          const keys = await r.keys(prefix.replace(/[*?[\]\\]/g, '\\$&') + '*')
          if (keys.length > 0) await r.del(...keys)
        } finally { r.disconnect() }
      }
    })
    const start = async (clock?: ManualClock) => {
      const h = await startTestHerald({ clock, overrides: { ...mode.overrides, 'presence.hookTtlMs': HOOK_TTL } })
      hs.push(h)
      await h.users.add('alice', 'alice-pw')
      return h
    }

    test('an mqtt.js client connecting to the embedded broker is online, and offline once it disconnects', async () => {
      const h = await start()
      const clientId = `e2e-${mode.name}-${process.pid}`
      const seen: string[] = []
      h.presence.onChange((c) => { if (c.entry.clientId === clientId) seen.push(c.online ? 'online' : 'offline') })
      assert.equal(await h.presence.isOnline(clientId), false)
      const c = await connect(h.mqttUrl, { clientId, username: 'alice', password: 'alice-pw' })
      await until(() => h.presence.isOnline(clientId), 'the client to be online')
      const [entry] = await h.presence.byUser('user', 'alice')
      assert.deepEqual({ clientId: entry.clientId, listener: entry.listener, node: entry.node, expiresAt: entry.expiresAt }, { clientId, listener: 'mqtt', node: h.presence.node, expiresAt: undefined })
      assert.equal(await h.presence.count(), 1)
      await c.endAsync()
      await until(async () => !(await h.presence.isOnline(clientId)), 'the client to be offline')
      assert.deepEqual(await h.presence.byUser('user', 'alice'), [])
      await until(async () => seen.length === 2, 'both changes')
      assert.deepEqual(seen, ['online', 'offline'])
    })

    test('go-auth hook login with a client id: online until the TTL, extended by ACL calls; a refused login is not', async () => {
      const clock = new ManualClock()
      const h = await start(clock)
      const clientId = `hook-${mode.name}-${process.pid}`
      const post = (path: string, body: Record<string, string | number>) => fetch(h.httpUrl + path, {
        method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
      }).then((r) => r.status)
      assert.equal(await post('/api/v1/mqtt/login', { username: 'alice', password: 'wrong', clientid: clientId }), 401)
      assert.equal(await h.presence.isOnline(clientId), false)
      assert.equal(await post('/api/v1/mqtt/login', { username: 'alice', password: 'alice-pw', clientid: clientId }), 200)
      assert.equal(await h.presence.isOnline(clientId), true)
      const [entry] = await h.presence.byUser('user', 'alice')
      assert.deepEqual({ clientId: entry.clientId, listener: entry.listener, expiresAt: entry.expiresAt }, { clientId, listener: 'hook', expiresAt: clock.now() + HOOK_TTL })
      await clock.advance(HOOK_TTL * 2 / 3)
      // an ACL call for the client (allowed or not, the broker asks for a connected client)
      assert.equal(await post('/api/v1/mqtt/acl', { username: 'alice', clientid: clientId, topic: 'anything', acc: 1 }), 401)
      await clock.advance(HOOK_TTL / 2)
      assert.equal(await h.presence.isOnline(clientId), true, 'past the login\'s TTL, within the ACL call\'s')
      await clock.advance(HOOK_TTL / 2)
      assert.equal(await h.presence.isOnline(clientId), false, 'no call for a whole TTL: gone')
      assert.equal(await h.presence.count(), 0)
      // the next ACL call shows the broker still has the client: online again
      assert.equal(await post('/api/v1/mqtt/acl', { username: 'alice', clientid: clientId, topic: 'anything', acc: 1 }), 401)
      assert.equal(await h.presence.isOnline(clientId), true)
    })
  })
}
