// Outgoing messages (§5.1): sender and recipient come from the topic, a new message_id, a timestamp when absent;
// the sender's copy (100) then the recipient's (150). Group recipients go to group.ts (§5.2).
import { randomUUID } from 'node:crypto'
import type { Doc } from '../store.ts'
import { isGroup } from '../topics.ts'
import type { Flow } from './context.ts'
import { sendToGroup } from './group.ts'

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

/** Route one outgoing message; returns the message as routed, or null when refused. */
export async function sendMessage(flow: Flow, sender: string, recipient: string, payload: Doc, o: SendOptions = {}): Promise<Doc | null> {
  const msg = newMessage(flow, sender, recipient, payload)
  if (isGroup(recipient, msg)) return (await sendToGroup(flow, msg, o)) ? msg : null
  await flow.deliver([
    { inbox: sender, cw: recipient, msg: { ...msg, status: 100 } },
    { inbox: recipient, cw: sender, msg: { ...msg, status: 150 } },
  ])
  return msg
}
