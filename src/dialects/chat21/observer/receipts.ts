// Receipts (§5.4): `{"status":200}` from the receiver becomes status 250 pushed back to the original sender.
import type { Doc } from '../store.ts'
import { rk } from '../topics.ts'
import type { Flow } from './context.ts'

export async function receipt(flow: Flow, me: string, cw: string, mid: string, patch: Doc): Promise<void> {
  if (Number(patch.status) !== 200) return
  const update = { timelineOf: cw, message_id: mid, status: 250 }
  const topic = flow.topics.messageUpdated(cw, me, mid)
  const hooks = flow.webhooks.jobs('message-return-receipt', {
    recipient_id: me, app_id: flow.app, message_id: mid, data: update, extras: { topic: rk(topic) },
  })
  await flow.store.patchMessages([
    { timelineOf: me, messageId: mid, patch: { status: 200 } },
    { timelineOf: cw, messageId: mid, patch: { status: 250 } },
  ], hooks)
  await flow.publish(topic, update)
  flow.webhooks.kick()
}
