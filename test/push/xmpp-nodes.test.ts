// The PushNodes seam (src/dialects/push/nodes.ts), one contract run on each implementation: off (noXmpp), client
// mode and component mode against a real Prosody. What the registration side relies on: push_bare_jid, one answer
// per new node in order, nothing for nothing, removal that never throws (also for nodes it never made).
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { noXmpp, type PushNodes } from '../../src/dialects/push/nodes.ts'
import type { XmppClientMode } from '../../src/dialects/push/xmpp-client.ts'
import { eventually, requireService } from '../helpers.ts'
import { PROSODY_NEEDED, prosodyAvailable, startProsody, type Prosody } from './prosody.ts'
import { PASSWORDS, startRig, USERS, type Rig } from './xmpp-rig.ts'

interface Subject { nodes: PushNodes; bareJid: string; ready: boolean; close(): Promise<void> }

function pushNodesContract(name: string, make: () => Promise<Subject>, skip: { skip: string | false } = { skip: false }): void {
  describe(`PushNodes contract: ${name}`, skip, () => {
    let s: Subject
    before(async () => { s = await make() })
    after(async () => { await s?.close() })

    test('bareJid is the push_bare_jid the registration answers with', () => {
      assert.equal(s.nodes.bareJid, s.bareJid)
    })

    test('create: one boolean per node, in order; true exactly when publishes can be taken', async () => {
      assert.deepEqual(await s.nodes.create([]), [])
      const r = await s.nodes.create(['ContractNode001', 'ContractNode002', 'ContractNode003'])
      assert.deepEqual(r, [s.ready, s.ready, s.ready])
    })

    test('remove: nodes it made, and nodes it never made, without throwing', async () => {
      await s.nodes.remove(['ContractNode001', 'ContractNode002'])
      await s.nodes.remove(['NeverMadeNode01'])
      await s.nodes.remove([])
      assert.deepEqual(await s.nodes.create(['ContractNode001']), [s.ready], 'a removed node can be made again')
    })
  })
}

pushNodesContract('off (noXmpp)', async () => ({ nodes: noXmpp('push@example.org'), bareJid: 'push@example.org', ready: false, close: async () => {} }))

const skip = requireService(prosodyAvailable(), PROSODY_NEEDED)
let prosody: Prosody | undefined
const sharedProsody = async () => (prosody ??= await startProsody({ users: USERS, localPepFix: true, components: [{ jid: 'push.localhost', secret: 'contract-secret' }] }))
after(async () => { await prosody?.close() })

async function fromRig(settings: (p: Prosody) => Record<string, unknown>, bareJid: string): Promise<Subject> {
  const p = await sharedProsody()
  const rig: Rig = await startRig(settings(p))
  const x = rig.h.push.xmpp as XmppClientMode
  await eventually(() => x.up, 'the XMPP side up', 15_000)
  return { nodes: x, bareJid, ready: true, close: () => rig.close() }
}

pushNodesContract('client mode', () => fromRig((p) => ({
  'push.xmpp.mode': 'client', 'push.xmpp.jid': 'push@localhost', 'push.xmpp.password': PASSWORDS.push,
  'push.xmpp.service': p.service, 'push.xmpp.caFile': p.certFile,
}), 'push@localhost'), skip)

pushNodesContract('component mode', () => fromRig((p) => ({
  'push.xmpp.mode': 'component', 'push.xmpp.component': 'push.localhost', 'push.xmpp.componentSecret': 'contract-secret',
  'push.xmpp.service': p.componentService,
}), 'push.localhost'), skip)
