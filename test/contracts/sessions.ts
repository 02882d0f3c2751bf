// Sessions contract (issue 9 §1, §6): what every Sessions implementation that claims its capabilities does for a
// real client on a real socket. Run by test/core/sessions.test.ts on the embedded broker (and any other that has them).
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { MqttClient } from 'mqtt'
import type { SessionInfo, Sessions, SessionSubscription } from '../../src/core/sessions/types.ts'
import { collect, connect, connectCollecting, silence } from '../helpers.ts'

export interface SessionsTarget {
  sessions: Sessions
  /** where a client connects, and as whom (an account whose own rules let it read nothing under `root` but
   *  `<root>/<clientId>/own`, which a client subscribes itself where the broker needs that for a session) */
  mqttUrl: string
  login: { username: string; password: string }
  /** the listener name a client of `mqttUrl` is reported with */
  listener: string
  /** publish as Herald (QoS 1) */
  publish(topic: string, payload: string): Promise<void>
  /** a topic root no other test uses */
  root: string
  close(): Promise<void>
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

async function until(pred: () => boolean | Promise<boolean>, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms
  while (!(await pred())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await sleep(20)
  }
}

export function sessionsContract(name: string, open: () => Promise<SessionsTarget>, opts: { skip?: string | false } = {}): void {
  describe(`sessions contract: ${name}`, opts, () => {
    let t: SessionsTarget
    let n = 0
    const clients: MqttClient[] = []
    const id = () => `sess-${process.pid}-${++n}`
    const client = async (clientId: string, clean = true) => {
      const c = await connect(t.mqttUrl, { ...t.login, clientId, clean })
      clients.push(c)
      return c
    }
    const byFilter = (l: SessionSubscription[]) => [...l].sort((a, b) => a.filter.localeCompare(b.filter))
    /** RabbitMQ keeps a session only as a subscription queue: there the client subscribes to something first */
    const ownSubscription = async (c: MqttClient, cid: string): Promise<SessionSubscription[]> => {
      if (t.sessions.capabilities.sessionWithoutSubscription) return []
      await c.subscribeAsync(`${t.root}/${cid}/own`, { qos: 1 })
      return [{ filter: `${t.root}/${cid}/own`, qos: 1 }]
    }
    before(async () => { t = await open() })
    after(async () => {
      for (const c of clients) c.end(true)
      await t?.close()
    })

    test('connect and disconnect events name the client, its principal, its listener and its clean flag', async () => {
      const seen: [string, SessionInfo][] = []
      const offs = [t.sessions.on('connect', (s) => { seen.push(['connect', s]) }), t.sessions.on('disconnect', (s) => { seen.push(['disconnect', s]) })]
      try {
        const cid = id()
        const c = await client(cid, false)
        await until(() => seen.some(([e, s]) => e === 'connect' && s.clientId === cid), 'the connect event')
        await c.endAsync()
        await until(() => seen.some(([e, s]) => e === 'disconnect' && s.clientId === cid), 'the disconnect event')
        const mine = seen.filter(([, s]) => s.clientId === cid)
        const clean = t.sessions.capabilities.cleanFlag ? false : undefined
        assert.deepEqual(mine.map(([e, s]) => [e, s.principal.username, s.listener, s.clean]),
          [['connect', t.login.username, t.listener, clean], ['disconnect', t.login.username, t.listener, clean]])
      } finally {
        for (const off of offs) off()
      }
    })

    test('a server-side subscription delivers to a client that did not subscribe (and may not itself); list shows it; unsubscribe stops it', async () => {
      const cid = id()
      const c = await client(cid)
      const own = await ownSubscription(c, cid)
      const topic = `${t.root}/${cid}/a`
      await t.sessions.subscribe(cid, [{ filter: `${t.root}/${cid}/#`, qos: 1 }])
      assert.deepEqual(byFilter(await t.sessions.list(cid)), byFilter([...own, { filter: `${t.root}/${cid}/#`, qos: 1 }]))
      const got = collect(c, 1)
      await t.publish(topic, 'server-side')
      const [m] = await got
      assert.deepEqual([m.topic, m.payload.toString(), m.qos], [topic, 'server-side', 1])
      await t.sessions.unsubscribe(cid, [`${t.root}/${cid}/#`])
      assert.deepEqual(await t.sessions.list(cid), own)
      const quiet = silence(c)
      await t.publish(topic, 'after unsubscribe')
      assert.equal(await quiet, true)
    })

    test('an offline persistent session is subscribed too: the client gets what was published meanwhile on reconnect', async () => {
      const cid = id()
      const c = await client(cid, false)
      const own = await ownSubscription(c, cid)
      await c.endAsync()
      await sleep(100)
      await t.sessions.subscribe(cid, [{ filter: `${t.root}/${cid}/+`, qos: 1 }])
      await t.publish(`${t.root}/${cid}/offline`, 'kept')
      assert.deepEqual(byFilter(await t.sessions.list(cid)), byFilter([...own, { filter: `${t.root}/${cid}/+`, qos: 1 }]))
      const { client: back, messages } = await connectCollecting(t.mqttUrl, { ...t.login, clientId: cid, clean: false }, 1)
      clients.push(back)
      const [m] = await messages
      assert.deepEqual([m.topic, m.payload.toString()], [`${t.root}/${cid}/offline`, 'kept'])
      // a clean session starts without it
      await back.endAsync()
      const fresh = await client(cid, true)
      assert.deepEqual(await t.sessions.list(cid), [])
      const quiet = silence(fresh)
      await t.publish(`${t.root}/${cid}/later`, 'not for a clean session')
      assert.equal(await quiet, true)
    })

    test('disconnect closes the client\'s connection; false for a client that is not connected', async () => {
      const cid = id()
      const c = await client(cid)
      const closed = new Promise<void>((r) => c.once('close', () => r()))
      assert.equal(await t.sessions.disconnect(cid), true)
      await closed
      assert.equal(await t.sessions.disconnect(`${cid}-nobody`), false)
    })

    test('an unknown client cannot be subscribed', async () => {
      await assert.rejects(t.sessions.subscribe(`${id()}-unknown`, [{ filter: `${t.root}/x`, qos: 0 }]), /no session/)
    })
  })
}
