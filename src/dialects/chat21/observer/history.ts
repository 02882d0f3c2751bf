// History replay on join (§5.9): the newest group messages (not the oldest, §17.4), oldest first, into the
// new member's inbox as DELIVERED copies marked `__history`.
import type { Doc } from '../store.ts'
import type { Flow } from './context.ts'

export async function replayHistory(flow: Flow, gid: string, member: string): Promise<number> {
  const newest = await flow.store.messages(gid, flow.app, gid, flow.opts.historyLimit)
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
