// Issue 9 §1: Sessions on the embedded broker (the contract suite), a SYNRC-like dialect that subscribes its clients
// server-side, and the start-up refusal on a broker without server-side subscriptions.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { MqttClient } from 'mqtt'
import { SessionCapabilityError } from '../../src/core/sessions/types.ts'
import type { Dialect, DialectContext } from '../../src/dialects/types.ts'
import { sessionsContract } from '../contracts/sessions.ts'
import { collect, connect, silence, startTestHerald, type TestHerald } from '../helpers.ts'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

sessionsContract('embedded (Aedes)', async () => {
  const h = await startTestHerald()
  const login = { username: `plain-${process.pid}`, password: 'pw-plain' }
  await h.users.add(login.username, login.password, false) // no ACL file: it may read nothing itself
  return {
    sessions: h.sessions, mqttUrl: h.mqttUrl, login, listener: 'mqtt', root: `sessions-${process.pid}`,
    publish: (topic, payload) => h.bus.publish(topic, payload, { qos: 1 }),
    close: () => h.close(),
  }
})

/** SYNRC-like (specs/synrc.md): every device is subscribed server-side to its rooms when it connects. */
function roomsDialect(): Dialect & { ctx?: DialectContext } {
  const d: Dialect & { ctx?: DialectContext } = {
    name: 'rooms',
    needs: ['events', 'subscriptions'],
    async start(ctx) {
      d.ctx = ctx
      ctx.sessions.on('connect', (s) => ctx.sessions.subscribe(s.clientId, [{ filter: `room/${s.principal.username}/#`, qos: 1 }]))
    },
  }
  return d
}

describe('a dialect subscribing its clients server-side (SYNRC-like)', () => {
  let h: TestHerald
  const login = { username: `roomer-${process.pid}`, password: 'pw-room' }
  const clients: MqttClient[] = []
  const dialect = roomsDialect()
  const room = (rest: string) => `room/${login.username}/${rest}`

  before(async () => {
    h = await startTestHerald({ dialects: [dialect] })
    await h.users.add(login.username, login.password, false)
  })
  after(async () => {
    for (const c of clients) c.end(true)
    await h.close()
  })

  async function device(clientId: string, clean: boolean) {
    const c = await connect(h.mqttUrl, { ...login, clientId, clean })
    clients.push(c)
    // the dialect subscribes on the connect event: wait until the session shows it
    const end = Date.now() + 5000
    while (!(await h.sessions.list(clientId)).some((s) => s.filter === `room/${login.username}/#`)) {
      if (Date.now() > end) throw new Error('the dialect did not subscribe the client')
      await sleep(20)
    }
    return c
  }

  test('the client receives its room\'s messages without subscribing itself; list() shows the subscription', async () => {
    const c = await device('dev-1', true)
    assert.deepEqual(await h.sessions.list('dev-1'), [{ filter: `room/${login.username}/#`, qos: 1 }])
    const got = collect(c, 1)
    await h.bus.publish(room('lobby'), 'hello', { qos: 1 })
    assert.deepEqual((await got).map((m) => [m.topic, m.payload.toString()]), [[room('lobby'), 'hello']])
    // other rooms are not its own: neither the dialect's subscription nor its rules reach them
    const quiet = silence(c)
    await h.bus.publish(`room/someone-else/lobby`, 'not yours', { qos: 1 })
    assert.equal(await quiet, true)
    await c.endAsync()
  })

  test('a persistent session keeps it across a reconnect (clean: false); a clean session does not', async () => {
    const c = await device('dev-2', false)
    await c.endAsync()
    await sleep(100)
    await h.bus.publish(room('while-away'), 'kept for you', { qos: 1 })
    const back = await connect(h.mqttUrl, { ...login, clientId: 'dev-2', clean: false })
    clients.push(back)
    const [m] = await collect(back, 1)
    assert.deepEqual([m.topic, m.payload.toString()], [room('while-away'), 'kept for you'])
    await back.endAsync()
    await sleep(100)
    await h.bus.publish(room('while-away'), 'for the old session', { qos: 1 })
    // a clean session discards the old one with its subscription: what was queued for it never arrives
    const fresh = await connect(h.mqttUrl, { ...login, clientId: 'dev-2', clean: true })
    clients.push(fresh)
    assert.equal(await silence(fresh, 500), true)
  })

  test('disconnect() closes the client', async () => {
    const c = await device('dev-3', true)
    const closed = new Promise<void>((r) => c.once('close', () => r()))
    assert.equal(await dialect.ctx!.sessions.disconnect('dev-3'), true)
    await closed
  })
})

test('a dialect that needs server-side subscriptions refuses to start on a broker without them (a Mosquitto URL)', async () => {
  await assert.rejects(
    startTestHerald({ overrides: { 'broker.url': 'mqtt://127.0.0.1:1883' }, dialects: [roomsDialect()] }),
    (err: Error) => {
      assert.ok(err instanceof SessionCapabilityError, String(err))
      assert.match(err.message, /dialect rooms needs connect\/disconnect events, which the external mqtt:\/\/127\.0\.0\.1:1883 broker does not offer/)
      return true
    },
  )
})
