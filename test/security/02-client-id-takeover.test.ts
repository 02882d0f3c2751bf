// Security hole 2: a logged-in user could connect with another user's client id, knocking the victim off and
// taking over its persistent session with the messages queued for it. HeartSMS web clients use web-0…web-9999,
// so one account could knock every web client off. A client id held by one principal is refused to another
// (CONNACK 0x02), embedded and on the hook endpoints alike; the same user reconnecting still takes it over.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { ErrorWithReasonCode, MqttClient } from 'mqtt'
import { collect, connect, silence, type TestHerald } from '../helpers.ts'
import { api, newAccount, startHeart, type Account } from '../heartsms/helpers.ts'

let h: TestHerald
let victim: Account
let attacker: Account
const open: MqttClient[] = []

before(async () => {
  h = await startHeart()
  victim = await newAccount(h)
  attacker = await newAccount(h)
})
after(async () => {
  for (const c of open) c.end(true)
  await h.close()
})

const stream = (a: Account, clientId: string, clean = true) =>
  connect(`${h.wsUrl}/api/v1/stream`, { username: a.username, password: a.account_id, clientId, clean })
    .then((c) => { open.push(c); return c })
const write = (a: Account, id: number) => api(h, 'accounts/dismissed_notification', { body: { account_id: a.account_id, id } })
const closed = (c: MqttClient, ms = 1000) => new Promise<boolean>((resolve) => {
  if (!c.connected) return resolve(true)
  const t = setTimeout(() => resolve(false), ms)
  c.once('close', () => { clearTimeout(t); resolve(true) })
})

describe('security 2: client-id takeover across users', () => {
  test('another account connecting with a live client id is refused with CONNACK 2; the victim stays connected', async () => {
    const v = await stream(victim, 'web-42')
    await v.subscribeAsync(`heartsms/${victim.account_id}`, { qos: 1 })
    await assert.rejects(stream(attacker, 'web-42'), (e: ErrorWithReasonCode) => e.code === 2)
    assert.equal(await closed(v, 300), false, 'the victim was not disconnected')
    const got = collect(v, 1)
    await write(victim, 1)
    assert.equal(JSON.parse((await got)[0].payload.toString()).operation, 'dismissed_notification')
  })

  test('a persistent session is not taken over: its queued messages wait for their owner', async () => {
    const v = await stream(victim, 'web-77', false)
    await v.subscribeAsync(`heartsms/${victim.account_id}`, { qos: 1 })
    await v.endAsync()
    await write(victim, 2)
    await assert.rejects(stream(attacker, 'web-77', false), (e: ErrorWithReasonCode) => e.code === 2)
    await assert.rejects(stream(attacker, 'web-77', true), (e: ErrorWithReasonCode) => e.code === 2, 'a clean session would wipe it')
    // legitimate counterpart: the owner reconnects and gets what was queued for it
    const back = await connect(`${h.wsUrl}/api/v1/stream`, { username: victim.username, password: victim.account_id, clientId: 'web-77', clean: false, manualConnect: false })
    open.push(back)
    const got = await collect(back, 1)
    assert.deepEqual(JSON.parse(got[0].payload.toString()).content, { id: '2' })
  })

  test('the same user reconnecting with its own client id still takes its session over', async () => {
    const first = await stream(victim, 'web-100')
    const second = await stream(victim, 'web-100')
    assert.equal(await closed(first), true, 'the older connection of the same account is replaced')
    assert.equal(second.connected, true)
  })

  test('a client id is free again once its clean session ended', async () => {
    const v = await stream(victim, 'web-200')
    await v.endAsync()
    const a = await stream(attacker, 'web-200')
    assert.equal(a.connected, true)
    assert.equal(await silence(a, 100), true)
  })

  test('hook login (mosquitto-go-auth): another account cannot log in with a client id held by the victim', async () => {
    const login = (a: Account, clientid: string) => fetch(`${h.httpUrl}/api/v1/mqtt/login`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: a.username, password: a.account_id, clientid }),
    }).then((r) => r.status)
    assert.equal(await login(victim, 'hook-web-1'), 200)
    assert.equal(await login(attacker, 'hook-web-1'), 401)
    assert.equal(await login(victim, 'hook-web-1'), 200, 'the holder logs in again')
    // the embedded broker and the hooks share one registry: an id held through the hooks is held for MQTT too
    await assert.rejects(stream(attacker, 'hook-web-1'), (e: ErrorWithReasonCode) => e.code === 2)
  })
})
