// History replay on join (§5.9): the newest group messages (not the oldest, §17.4), oldest first, into the
// new member's inbox as DELIVERED copies marked `__history`.
import type { Doc } from '../store.ts'
import type { Flow } from './context.ts'

/** `except`: the join's own info message, which the member has just received live (§5.8: info, then history). */
export async function replayHistory(flow: Flow, gid: string, member: string, except?: string): Promise<number> {
  const limit = flow.opts.historyLimit
  const newest = (await flow.store.messages(gid, flow.app, gid, limit + 1)).filter((m) => m.message_id !== except).slice(0, limit)
  const copies = newest.reverse().map((m: Doc) => {
    const attributes = { ...(m.attributes ?? {}) }
    if (attributes.forcenotification !== true) attributes.sendnotification = false
    const msg: Doc = { ...m, __history: 'true', status: 150, attributes }
    delete msg._id
    return { inbox: member, cw: gid, msg }
  })
  await flow.deliver(copies)
  return copies.length
}
