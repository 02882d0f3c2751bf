// synrc §6.1 AUTH with real MQTT clients: register (the SMS code caught by a local gateway), verify, reconnect with the
// token, wrong codes up to attempts_expired, resend, list, logout; malformed terms get invalid_data (issue 12 §1).
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { bin, register, startSynrc, str, SynrcClient, type SynrcHerald } from './client.ts'
import { connect } from '../helpers.ts'

for (const layout of ['a', 'legacy'] as const) {
  describe(`SYNRC AUTH (layout ${layout})`, () => {
    let h: SynrcHerald
    const open: SynrcClient[] = []
    const phone = (n: number) => `38067${layout === 'a' ? 1 : 2}${String(n).padStart(6, '0')}`
    before(async () => { h = await startSynrc({ layout }) })
    after(async () => {
      for (const c of open) c.mqtt.end(true)
      await h.close()
    })

    test('reg → sms_sent, verify → {ok,login,{ClientId,Token}} and the Profile; the token logs the device in', async () => {
      const { device, clientId, token, profile } = await register(h, phone(1), 'dev1')
      open.push(device)
      assert.equal(clientId, `emqttd_${phone(1)}_dev1`)
      assert.match(token, /^[\w-]{32}$/)
      assert.equal(str(profile.phone), phone(1))
      assert.deepEqual(profile.rosters.map((r: { id: Uint8Array }) => str(r.id)), [`${phone(1)}_1`])
      // the device is subscribed to its actions topic by Herald: Auth/list answers there
      await device.send({ $: 'Auth', type: 'list' })
      const me = await device.next((r) => r.$ === 'Auth')
      assert.deepEqual([str(me.client_id), str(me.token), str(me.phone)], [clientId, token, phone(1)])
    })

    test('a wrong token, a token for another client id, and a device id with an empty password are refused', async () => {
      const { device, clientId, token } = await register(h, phone(2), 'dev2')
      open.push(device)
      await assert.rejects(connect(h.mqttUrl, { clientId, username: 'api', password: 'nope' }))
      await assert.rejects(connect(h.mqttUrl, { clientId: `emqttd_${phone(2)}_other`, username: 'api', password: token }))
      await assert.rejects(connect(h.mqttUrl, { clientId, username: 'api', password: '' }))
    })

    test('wrong codes answer invalid_sms_code, then attempts_expired; a resend starts over', async () => {
      const p = phone(3)
      const reg = await SynrcClient.connect(h.mqttUrl, `reg_${p}_d3`, layout)
      open.push(reg)
      await reg.send({ $: 'Auth', client_id: bin(reg.clientId), phone: bin(p), type: 'reg' })
      assert.equal((await reg.next()).code.code, 'sms_sent')
      await h.sms.code(p)
      for (let i = 0; i < 3; i++) {
        await reg.send({ $: 'Auth', sms_code: bin('000000x'), type: 'verify' })
        assert.equal((await reg.next()).code.code, 'invalid_sms_code')
      }
      await reg.send({ $: 'Auth', sms_code: bin((h.sms.codes.get(p) ?? []).at(-1)!), type: 'verify' })
      assert.equal((await reg.next()).code.code, 'attempts_expired')
      await reg.send({ $: 'Auth', type: 'resend' })
      assert.equal((await reg.next()).code.code, 'sms_sent')
      const code = await h.sms.code(p, 1)
      await reg.send({ $: 'Auth', sms_code: bin(code), type: 'verify' })
      assert.equal((await reg.next()).code.code, 'login')
    })

    test('resend and verify without a registration: session_not_found; a reg_ client cannot list', async () => {
      const reg = await SynrcClient.connect(h.mqttUrl, `reg_${phone(4)}_d4`, layout)
      open.push(reg)
      await reg.send({ $: 'Auth', type: 'resend' })
      assert.equal((await reg.next()).code.code, 'session_not_found')
      await reg.send({ $: 'Auth', sms_code: bin('1'), type: 'verify' })
      assert.equal((await reg.next()).code.code, 'session_not_found')
      await reg.send({ $: 'Auth', type: 'list' })
      assert.equal((await reg.next()).code.code, 'invalid_data')
    })

    test('bytes that are not a term, and a term that is no record, get {io,{error,invalid_data},…}; the connection stays', async () => {
      const reg = await SynrcClient.connect(h.mqttUrl, `reg_${phone(5)}_d5`, layout)
      open.push(reg)
      await reg.sendRaw(Buffer.from([131, 104, 2, 100, 0]))
      const io = await reg.next()
      assert.deepEqual([io.$, io.code.$, io.code.code], ['io', 'error', 'invalid_data'])
      await reg.sendRaw(Buffer.from([131, 97, 7]))
      assert.equal((await reg.next()).code.code, 'invalid_data')
      assert.equal(reg.mqtt.connected, true)
    })

    test('a client naming another client id in its events topic is answered as itself', async () => {
      const victim = await SynrcClient.connect(h.mqttUrl, `reg_${phone(6)}_victim`, layout)
      const spoofer = await SynrcClient.connect(h.mqttUrl, `reg_${phone(7)}_spoof`, layout)
      open.push(victim, spoofer)
      await spoofer.send({ $: 'Auth', type: 'resend' }, { topic: `events/1/1/api/anon/${victim.clientId}/` })
      assert.equal((await spoofer.next()).code.code, 'session_not_found')
      assert.equal(await victim.quiet(), true)
    })

    test('logout removes the device token and closes the connection; the token no longer logs in', async () => {
      const { device, clientId, token } = await register(h, phone(8), 'dev8')
      const closed = new Promise<void>((r) => device.mqtt.once('close', () => r()))
      await device.send({ $: 'Auth', type: 'logout' })
      const out = await device.next()
      assert.deepEqual([out.code.code, str(out.data.token)], ['logout', token])
      await closed
      await assert.rejects(connect(h.mqttUrl, { clientId, username: 'api', password: token }))
    })
  })
}
