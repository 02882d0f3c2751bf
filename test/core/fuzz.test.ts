// Issue 11 item 4: mutated MQTT 3.1, 3.1.1 and 5 packets over real sockets against Herald's broker in its own process
// (scripts/mqtt-fuzz.ts, bounded here to 20 000 packets; the full run is `npm run fuzz:mqtt`, a million packets):
// the process survives, and a control client's QoS 1 round trips keep coming back throughout.
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { startHeraldBroker, type BrokerUnderTest } from '../../bench/lib/brokers.ts'
import { fuzz } from '../../scripts/mqtt-fuzz.ts'

let b: BrokerUnderTest
before(async () => { b = await startHeraldBroker() })
after(async () => { await b?.stop() })

test('20 000 mutated packets: the broker keeps serving a control client and does not crash', async () => {
  const r = await fuzz(b, { username: b.username, password: b.password }, { packets: 20_000, seconds: 120, seed: 7, sockets: 16 })
  assert.ok(r.packets >= 20_000, `only ${r.packets} packets sent`)
  assert.ok(r.mutated > 1000)
  assert.equal(r.crashed, false)
  assert.equal(r.controlFailures, 0)
  assert.ok(r.controlRoundTrips > 0)
})
