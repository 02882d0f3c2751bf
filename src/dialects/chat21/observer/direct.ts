// Outgoing messages (§5.1): sender and recipient come from the topic, a new message_id, a timestamp when absent;
// the sender's copy (100) then the recipient's (150). Group recipients go to group.ts (§5.2).
import { randomUUID } from 'node:crypto'
import type { Copy, Doc } from '../store.ts'
import { isGroup } from '../topics.ts'
import type { Flow } from './context.ts'
import { groupCopies } from './group.ts'

export interface SendOptions {
  /** Herald's own messages (system/info, admin sends): no membership check */
  trusted?: boolean
}

/** §4.2: the fields Herald sets on every copy; payload fields pass through unchanged. */
export function newMessage(flow: Flow, sender: string, recipient: string, payload: Doc): Doc {
  return {
    ...payload,
    message_id: randomUUID(),
    sender,
    recipient,
    app_id: flow.app,
    timestamp: payload.timestamp ? payload.timestamp : Date.now(),
  }
}

/** An outgoing message as routed: the message and every inbox copy delivered (as stored and published). */
export interface Routed { msg: Doc; copies: Copy[] }

/** Route one outgoing message; null when refused. Counted in the §11.1 metrics once routed. */
export async function sendMessage(flow: Flow, sender: string, recipient: string, payload: Doc, o: SendOptions = {}): Promise<Routed | null> {
  const msg = newMessage(flow, sender, recipient, payload)
  const turn = flow.senders.take(sender)
  let copies: Copy[] | null
  let delivered: Promise<void> | undefined
  try {
    copies = isGroup(recipient, msg)
      ? await groupCopies(flow, msg, o)
      : [
          { inbox: sender, cw: recipient, msg: { ...msg, status: 100 } },
          { inbox: recipient, cw: sender, msg: { ...msg, status: 150 } },
        ]
    // one sender's messages are committed (and so published) in the order they arrived (§5.1)
    await turn.ready
    if (copies) delivered = flow.deliver(copies)
  } finally {
    turn.done()
  }
  if (!copies) return null
  await delivered
  flow.metrics.outgoing(flow.topics.outgoing(sender, recipient), msg)
  return { msg, copies }
}
