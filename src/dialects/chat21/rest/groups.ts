// Group management (§5.8): create, get, join, leave, set members, rename, attributes. Changes are stored,
// then announced (§4.7 groups.update), then the info message is sent; joiners then get the history (§5.9).
import { randomUUID } from 'node:crypto'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { Flow } from '../observer/context.ts'
import { sendMessage } from '../observer/direct.ts'
import { publishGroupUpdate } from '../observer/group.ts'
import { replayHistory } from '../observer/history.ts'
import type { Doc } from '../store.ts'
import { validId } from '../topics.ts'
import { denied, userOf, type RestUser } from './auth.ts'

type P = Record<string, string>

const fail = (reply: FastifyReply, err: string, status = 405) => reply.code(status).send({ success: false, err, http_status: status })

/** A system/info message into the group (§3.5); its message id. */
async function info(flow: Flow, g: Doc, text: string, key: string, parameters: Doc): Promise<string | undefined> {
  const routed = await sendMessage(flow, 'system', g.uid, {
    text, type: 'text', sender_fullname: 'System', recipient_fullname: g.name, channel_type: 'group',
    attributes: { subtype: 'info', updateconversation: true, messagelabel: { key, parameters } },
  }, { trusted: true })
  return routed?.msg.message_id
}

const joined = (id: string) => ({ member_id: id, fullname: id, firstname: '', lastname: '' })

function memberMap(v: unknown): Record<string, 1> | null {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return null
  const out: Record<string, 1> = {}
  for (const k of Object.keys(v)) { if (!validId(k)) return null; out[k] = 1 }
  return out
}

export function groupRoutes(app: FastifyInstance, flow: Flow): void {
  const canManage = (u: RestUser, g: Doc) => u.admin || g.owner === u.uid
  const load = async (req: FastifyRequest, reply: FastifyReply): Promise<Doc | null> => {
    const g = await flow.store.group((req.params as P).gid)
    if (!g) fail(reply, "Group doesn't exist", 404)
    return g
  }
  const save = async (g: Doc) => { g.updatedOn = Date.now(); await flow.store.saveGroup(g) }

  app.post('/:appid/groups', async (req, reply) => {
    const u = userOf(req)
    const b = (req.body ?? {}) as Doc
    if (typeof b.group_name !== 'string' || b.group_name === '') return reply.code(405).type('text/plain').send('group_name is mandatory')
    if (b.group_members === undefined || b.group_members === null) return reply.code(405).type('text/plain').send('group_members is mandatory')
    const members = memberMap(b.group_members)
    if (!members) return reply.code(405).type('text/plain').send('group_members must map member ids to 1')
    const uid = b.group_id ?? `group-${randomUUID()}`
    if (!validId(uid)) return reply.code(405).type('text/plain').send('invalid group_id')
    // the original upserts by uid (§6.1); Herald lets only the owner or an admin save an existing group again
    const existing = await flow.store.group(uid)
    if (existing && !canManage(u, existing)) return fail(reply, 'Group already exists')
    const owner = u.admin && typeof b.group_owner === 'string' ? b.group_owner : u.uid
    if (!u.admin) members[u.uid] = 1
    const now = Date.now()
    const g: Doc = { uid, name: b.group_name, appId: flow.app, owner, members, createdOn: now, updatedOn: now }
    if (b.attributes !== undefined) g.attributes = b.attributes
    await flow.store.saveGroup(g)
    await info(flow, g, 'Group created', 'GROUP_CREATED', { creator: owner })
    for (const m of Object.keys(members)) await info(flow, g, `${m} joined group on creation`, 'MEMBER_JOINED_GROUP', joined(m))
    return reply.code(201).send({ success: true, group: g })
  })

  app.get('/:appid/groups/:gid', async (req, reply) => {
    const u = userOf(req)
    if (u.appId !== (req.params as P).appid) return denied(reply)
    const g = await flow.store.group((req.params as P).gid)
    if (!g) return reply.code(404).send({ success: false, err: "Group doesn't exist" })
    if (!u.admin && !g.members?.[u.uid]) return reply.code(401).send({ success: false, err: 'Permission denied' })
    return { success: true, result: g }
  })

  app.post('/:appid/groups/:gid/members', async (req, reply) => {
    const u = userOf(req)
    if (u.appId !== (req.params as P).appid) return denied(reply)
    const id = ((req.body ?? {}) as Doc).member_id
    if (!validId(id)) return fail(reply, 'member_id is mandatory')
    const g = await load(req, reply)
    if (!g) return reply
    if (!canManage(u, g)) return fail(reply, 'Permission denied', 401)
    if (g.members[id]) return fail(reply, 'Already a member')
    g.members = { ...g.members, [id]: 1 }
    await save(g)
    await publishGroupUpdate(flow, { ...g, notification: { messagelabel: { key: 'MEMBER_JOINED_GROUP', parameters: joined(id) } } }, Object.keys(g.members))
    const added = await info(flow, g, `${id} added to group`, 'MEMBER_JOINED_GROUP', joined(id))
    await replayHistory(flow, g.uid, id, added)
    return { success: true }
  })

  app.delete('/:appid/groups/:gid/members/:member', async (req, reply) => {
    const u = userOf(req)
    const id = (req.params as P).member
    const g = await load(req, reply)
    if (!g) return reply
    // a member may remove itself (leave); removing others takes the owner or an admin
    if (!canManage(u, g) && u.uid !== id) return fail(reply, 'Permission denied', 401)
    if (!g.members[id]) return fail(reply, 'Not a member')
    const before = Object.keys(g.members)
    const { [id]: _gone, ...rest } = g.members
    g.members = rest
    await save(g)
    await publishGroupUpdate(flow, { ...g, notification: { messagelabel: { key: 'MEMBER_LEFT_GROUP', parameters: { member_id: id } } } }, before)
    await info(flow, g, `${id} removed from group`, 'MEMBER_LEFT_GROUP', { member_id: id })
    return { success: true }
  })

  app.put('/:appid/groups/:gid/members', async (req, reply) => {
    const u = userOf(req)
    const members = memberMap(((req.body ?? {}) as Doc).members)
    if (!members) return fail(reply, 'members is mandatory')
    const g = await load(req, reply)
    if (!g) return reply
    if (!canManage(u, g)) return fail(reply, 'Permission denied', 401)
    const before = Object.keys(g.members)
    const added = Object.keys(members).filter((m) => !g.members[m])
    if (added.length === 0 && before.length === Object.keys(members).length) return fail(reply, 'Members unchanged')
    g.members = members
    await save(g)
    await publishGroupUpdate(flow, g, before)
    for (const m of added) {
      const infoId = await info(flow, g, `${m} added to group`, 'MEMBER_JOINED_GROUP', joined(m))
      await replayHistory(flow, g.uid, m, infoId)
    }
    return { success: true }
  })

  const change = (field: string, key: string) => async (req: FastifyRequest, reply: FastifyReply) => {
    const u = userOf(req)
    const value = ((req.body ?? {}) as Doc)[field]
    if (value === undefined || value === null || value === '') return fail(reply, `${field} is mandatory`)
    const g = await load(req, reply)
    if (!g) return reply
    if (!canManage(u, g)) return fail(reply, 'Permission denied', 401)
    if (field === 'group_name') g.name = value
    else g.attributes = value
    await save(g)
    await publishGroupUpdate(flow, { ...g, notification: { messagelabel: { key, parameters: { [field]: value } } } }, Object.keys(g.members))
    return { success: true }
  }
  app.put('/:appid/groups/:gid', change('group_name', 'DATA_UPDATED_GROUP'))
  app.put('/:appid/groups/:gid/attributes', change('attributes', 'ATTRIBUTES_UPDATED_GROUP'))
}
