// Conversation patch (§5.5), e.g. `{"is_new":false}`: stored, then echoed on `…/conversations/<cw>/clientupdated`.
import type { Doc } from '../store.ts'
import type { Flow } from './context.ts'

export async function updateConversation(flow: Flow, me: string, cw: string, patch: Doc): Promise<void> {
  const update: Doc = { ...patch, timelineOf: me, conversWith: cw }
  delete update._id
  await flow.store.patchConversation(me, cw, update)
  await flow.publish(flow.topics.conversationUpdated(me, cw), update)
}
