// Archive (§5.6): the stored conversation is flagged, removed from the active list and added to the archived one.
import { rk } from '../topics.ts'
import type { Flow } from './context.ts'

export async function archiveConversation(flow: Flow, me: string, cw: string): Promise<boolean> {
  const patch = { archived: true }
  const hooks = flow.webhooks.jobs('conversation-archived', {
    app_id: flow.app, user_id: me, recipient_id: cw, convers_with: cw, data: { ...patch, timelineOf: me, conversWith: cw },
    extras: { topic: rk(`apps/${flow.app}/users/${me}/conversations/${cw}/archive`) },
  })
  const doc = await flow.store.patchConversation(me, cw, patch, hooks)
  if (!doc) return false
  await flow.publish(flow.topics.conversationDeleted(me, cw), doc)
  await flow.publish(flow.topics.archivedAdded(me, cw), doc)
  flow.webhooks.kick()
  return true
}
