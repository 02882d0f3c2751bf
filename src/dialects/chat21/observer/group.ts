// Group messages (§5.2) and group change notifications (§4.7). Fixes (§17.2, §17.3): a sender must be a member
// of a stored group it writes to, whatever inline group it sends; `hiddenFor` skips one member instead of ending
// the fan-out.
import type { Copy, Doc } from '../store.ts'
import { validId } from '../topics.ts'
import type { Flow } from './context.ts'
import type { SendOptions } from './direct.ts'

/** Members in fan-out order, the group itself (its timeline) included; null when the sender may not write. */
async function members(flow: Flow, msg: Doc, o: SendOptions): Promise<string[] | null> {
  const gid: string = msg.recipient
  const sender: string = msg.sender
  const inline = msg.group
  const stored = await flow.store.group(gid)
  if (stored) {
    // a stored group always wins (§17.3): its membership decides, and no copy carries a member list of the sender's
    delete msg.group
    const list = Object.keys(stored.members ?? {})
    if (!o.trusted && !list.includes(sender)) return null
    return list.includes(gid) ? list : [...list, gid]
  }
  if (inline !== null && typeof inline === 'object') {
    // inline ("volatile") group, only where no group is stored (§5.2): the payload names the members, as the original
    const m = inline.members
    if (m === null || typeof m !== 'object' || Array.isArray(m)) return null
    // a member id becomes a topic level: ids that would widen or break it are left out (§2.2)
    const named = Object.fromEntries(Object.keys(m).filter(validId).map((k) => [k, m[k]]))
    msg.group = { ...inline, uid: gid, members: { ...named, [gid]: 1, [sender]: 1 } }
    return Object.keys(msg.group.members)
  }
  return [sender, gid] // transient group: the sender and the group timeline
}

/** The copies of a group message, one per member and one for the group timeline; null when the sender may not write. */
export async function groupCopies(flow: Flow, msg: Doc, o: SendOptions): Promise<Copy[] | null> {
  const list = await members(flow, msg, o)
  if (!list) {
    flow.log.info({ sender: msg.sender, group: msg.recipient }, 'chat21 group message refused: sender is not a member')
    return null
  }
  const gid: string = msg.recipient
  const hidden = msg.attributes?.hiddenFor
  return list
    .filter((m) => m !== hidden)
    .map((m) => ({ inbox: m, cw: gid, msg: { ...msg, status: m === gid ? 100 : 150 } }))
}

/** §4.7: the group JSON (with its optional notification) to each user in `notifyTo`. */
export async function publishGroupUpdate(flow: Flow, group: Doc, notifyTo: string[]): Promise<void> {
  for (const member of notifyTo) {
    if (member === group.uid) continue
    await flow.publish(flow.topics.groupUpdated(member, group.uid), group)
  }
}
