// Group messages (§5.2) and group change notifications (§4.7). Fixes (§17.2, §17.3): a sender must be a member
// of a stored group it writes to; `hiddenFor` skips that one member instead of ending the fan-out.
import type { Copy, Doc } from '../store.ts'
import type { Flow } from './context.ts'
import type { SendOptions } from './direct.ts'

/** Members in fan-out order, the group itself (its timeline) included; null when the sender may not write. */
async function members(flow: Flow, msg: Doc, o: SendOptions): Promise<string[] | null> {
  const gid: string = msg.recipient
  const sender: string = msg.sender
  if (msg.group !== null && typeof msg.group === 'object') {
    // inline ("volatile") group: the payload names the members, as in the original
    const m = msg.group.members
    if (m === null || typeof m !== 'object' || Array.isArray(m)) return null
    msg.group = { ...msg.group, uid: gid, members: { ...m, [gid]: 1, [sender]: 1 } }
    return Object.keys(msg.group.members)
  }
  const stored = await flow.store.group(gid)
  if (!stored) return [sender, gid] // transient group: the sender and the group timeline
  const list = Object.keys(stored.members ?? {})
  if (!o.trusted && !list.includes(sender)) return null
  return list.includes(gid) ? list : [...list, gid]
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
