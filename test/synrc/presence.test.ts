// synrc §6.5 PRESENCE with real mqtt.js clients: a friend's last device going away and its first coming back reach
// the other's devices as Contact{presence=offline|online}; Presence{status} from a device (online, offline, a text)
// is answered {io,{ok,Status},<<>>} and told to the friends only; anything else is invalid_data. Both layouts.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { Rec } from '../../src/dialects/synrc/wire.ts'
import { bin, register, startSynrc, str, SynrcClient, type SynrcHerald } from './client.ts'
import { eventually } from '../helpers.ts'

const presenceOf = (id: string) => (r: Rec) => r.$ === 'Contact' && str(r.phone_id) === id && r.presence !== null
const isIo = (r: Rec) => r.$ === 'io'

for (const layout of ['a', 'legacy'] as const) {
  describe(`SYNRC PRESENCE (layout ${layout})`, () => {
    let h: SynrcHerald
    /** register() returns at CONNACK; a request sent before Herald has seen the connect would be dropped */
    const ready = (c: SynrcClient) => eventually(() => h.synrc.service!.isConnected(c.clientId), `${c.clientId} connected`)
    const open: SynrcClient[] = []
    const phone = (n: number) => `38050${layout === 'a' ? 1 : 2}4${String(n).padStart(5, '0')}`

    async function user(n: number, devices = 2) {
      const d: SynrcClient[] = []
      const tokens: string[] = []
      for (let i = 1; i <= devices; i++) {
        const { device, token } = await register(h, phone(n), `d${i}`)
        await ready(device)
        open.push(device)
        d.push(device)
        tokens.push(token)
      }
      return { id: `${phone(n)}_1`, phone: phone(n), d, tokens }
    }
    async function befriend(a: { id: string; d: SynrcClient[] }, b: { id: string; d: SynrcClient[] }): Promise<void> {
      await a.d[0].send({ $: 'Friend', phone_id: bin(a.id), friend_id: bin(b.id), status: 'request' })
      await b.d[0].next((r) => r.$ === 'Contact' && r.status === 'authorization')
      await b.d[0].send({ $: 'Friend', phone_id: bin(b.id), friend_id: bin(a.id), status: 'confirm' })
      await b.d[0].next(isIo)
      for (const d of a.d) await d.next((r) => r.$ === 'Contact' && r.status === 'friend')
      for (const d of b.d) await d.next((r) => r.$ === 'Contact' && r.status === 'friend')
    }

    before(async () => { h = await startSynrc({ layout }) })
    after(async () => {
      for (const c of open) c.mqtt.end(true)
      await h.close()
    })

    test('broker disconnect of the last device → Contact{presence=offline} on each friend device; connect → online; a stranger hears nothing', async () => {
      const a = await user(1)
      const b = await user(2)
      const c = await user(3, 1)
      await befriend(a, b)
      await a.d[1].end()
      // one device left: still online, nothing said
      for (const d of b.d) assert.equal(await d.quiet(presenceOf(a.id), 300), true)
      await a.d[0].end()
      for (const d of b.d) {
        const ct = await d.next(presenceOf(a.id))
        assert.deepEqual([ct.presence, ct.status], ['offline', 'friend'])
      }
      const back = await SynrcClient.connect(h.mqttUrl, `emqttd_${a.phone}_d1`, layout, { password: a.tokens[0], clean: false })
      await ready(back)
      open.push(back)
      for (const d of b.d) assert.equal((await d.next(presenceOf(a.id))).presence, 'online')
      assert.equal(await c.d[0].quiet(presenceOf(a.id), 200), true)
      // the friend's roster says it too
      await b.d[0].send({ $: 'Roster', status: 'get' })
      const r = await b.d[0].next((x) => x.$ === 'Roster')
      assert.deepEqual(r.userlist.map((x: Rec) => x.presence), ['online'])
    })

    test('Presence{status} from a device: {io,{ok,Status},<<>>}, the friends get the Contact; a text status; invalid_data', async () => {
      const a = await user(4, 1)
      const b = await user(5, 1)
      const c = await user(6, 1)
      await befriend(a, b)
      const d = a.d[0]
      await d.send({ $: 'Presence', uid: bin(a.id), status: bin('in a meeting') })
      const io = await d.next(isIo)
      assert.deepEqual([io.code.$, str(io.code.code)], ['ok', 'in a meeting'])
      assert.equal(str((await b.d[0].next(presenceOf(a.id))).presence), 'in a meeting')
      await d.send({ $: 'Presence', status: 'offline' })
      assert.equal((await d.next(isIo)).code.code, 'offline')
      assert.equal((await b.d[0].next(presenceOf(a.id))).presence, 'offline')
      await b.d[0].send({ $: 'Roster', status: 'get' })
      assert.deepEqual((await b.d[0].next((x) => x.$ === 'Roster')).userlist.map((x: Rec) => x.presence), ['offline'])
      await d.send({ $: 'Presence', status: 'online' })
      assert.equal((await d.next(isIo)).code.code, 'online')
      assert.equal((await b.d[0].next(presenceOf(a.id))).presence, 'online')
      assert.equal(await c.d[0].quiet(presenceOf(a.id), 200), true)
      for (const bad of [null, bin(''), bin('x'.repeat(300))]) {
        await d.send({ $: 'Presence', status: bad })
        const e = await d.next(isIo)
        assert.deepEqual([e.code.$, e.code.code], ['error', 'invalid_data'])
      }
      // §5: Presence from a reg_ client is not handled
      const reg = await SynrcClient.connect(h.mqttUrl, `reg_${phone(7)}_x`, layout)
      await ready(reg)
      open.push(reg)
      await reg.send({ $: 'Presence', status: 'online' })
      assert.equal(await reg.quiet(), true)
    })
  })
}
