// MESSAGE (§6.6): new messages (and async uploads: upload → link, complete → sent), edit, delete. Every Message with a
// msg_id (status other than update) is answered {'Ack','Message',MsgId} first, once stored; then the feed is told.
import type { Handler, Request, Synrc } from '../context.ts'
import type { MessageRow } from '../store/messages.ts'
import type { Rec } from '../wire.ts'
import {
  bodyOf, deliveryRows, devicesOf, feedOf, feedRecord, invalid, kindsOf, mayPost, messageRecord, messagingOf, partiesOf, requeue,
  storeMessage, text, topicOf, type Feed,
} from './messaging.ts'

const ackTo = async (r: Request, s: Synrc): Promise<void> => {
  const msgId = r.rec.msg_id
  if (msgId instanceof Uint8Array && msgId.length > 0) await s.reply(r.from.clientId, { $: 'Ack', table: 'Message', id: msgId })
}

const isDescs = (v: unknown): v is Rec[] => Array.isArray(v) && v.length > 0 && v.every((d) => (d as Rec)?.$ === 'Desc')
const typesOf = (v: unknown): string[] => (Array.isArray(v) ? v.filter((a): a is string => typeof a === 'string') : [])
const linkOf = (v: unknown): number | null => (typeof v === 'number' ? v : typeof (v as Rec | null)?.id === 'number' ? (v as Rec).id : null)

/** §6.6 step 3: a new message (status [] or the doc's client), or an upload announced (status upload, told as link) */
async function send(r: Request, s: Synrc, status: 'sent' | 'link'): Promise<void> {
  const f = feedOf(r.rec.feed_id)
  if (!f || !isDescs(r.rec.files) || r.rec.id !== null) return invalid(r, s)
  if (!(await mayPost(s, r.from, f))) return invalid(r, s, 'not_authorized')
  // a device writes as itself; a sys_ service names its sender (or none: a system message)
  const author = r.from.kind === 'sys' ? (text(r.rec.from) ?? '') : r.from.rosterId!
  const msgId = text(r.rec.msg_id)
  if (msgId !== undefined && msgId.length > 255) return invalid(r, s)
  const now = s.clock.now()
  const row = await storeMessage(s, f, {
    feed: f.key, msg_id: msgId || null, author, recipient: f.kind === 'p2p' ? f.to : f.room, created: now, status,
    types: typesOf(r.rec.type).join(','), link_id: linkOf(r.rec.link), kinds: kindsOf(r.rec.files), body: bodyOf(s, r.rec),
    update_at: now,
  }, r.from.clientId)
  await ackTo(r, s)
  await s.publish(topicOf(f), messageRecord(s, row))
}

/** the stored message an edit, delete or complete names, if this sender may change it */
async function own(r: Request, s: Synrc): Promise<{ row: MessageRow; f: Feed } | 'invalid' | 'not_found' | 'not_authorized'> {
  const id = r.rec.id
  if (typeof id !== 'number' || !Number.isSafeInteger(id) || id <= 0) return 'invalid'
  const row = await messagingOf(s).messages.get(id)
  if (!row || row.status === 'delete') return 'not_found'
  const f = feedOf(feedRecord(row))!
  const mine = r.from.kind === 'sys' || row.author === r.from.rosterId
  if (!mine) return 'not_authorized'
  // its author is From of the feed record: a former friend or member cannot change what is left in the feed
  if (!(await mayPost(s, r.from, f))) return 'not_authorized'
  return { row, f }
}

const failed = (r: Request, s: Synrc, e: 'invalid' | 'not_found' | 'not_authorized') => invalid(r, s, e === 'invalid' ? 'invalid_data' : e)

/** §6.6 step 4: new files (and mentions) for one's own message, told to the feed as edit */
async function edit(r: Request, s: Synrc): Promise<void> {
  if (!isDescs(r.rec.files)) return invalid(r, s)
  const o = await own(r, s)
  if (typeof o === 'string') return failed(r, s, o)
  const { messages } = messagingOf(s)
  const old = s.wire.decode(Buffer.from(o.row.body, 'base64'))
  const type = [...new Set([...typesOf(old.type), 'edited'])]
  const body = bodyOf(s, { ...old, files: r.rec.files, mentioned: r.rec.mentioned ?? old.mentioned, type })
  await messages.update(o.row.id, { status: 'edit', types: type.join(','), kinds: kindsOf(r.rec.files), body, update_at: s.clock.now() })
  await requeue(s, o.f, o.row.id, r.from.clientId)
  await ackTo(r, s)
  await s.publish(topicOf(o.f), messageRecord(s, (await messages.get(o.row.id))!))
}

/** §6.6 step 5: out of the feed's chain, told to the feed as delete; the delete is owed to every device like a
 *  message (a tombstone row, resent to a device that missed it, gone once all have acknowledged it) */
async function remove(r: Request, s: Synrc): Promise<void> {
  const o = await own(r, s)
  if (typeof o === 'string') return failed(r, s, o)
  const { messages, deliveries } = messagingOf(s)
  const targets = await devicesOf(s, await partiesOf(s, o.f), r.from.clientId)
  const empty = bodyOf(s, { $: 'Message' })
  const tombstone = targets.length > 0 ? { body: empty, update_at: s.clock.now() } : undefined
  const row = await messages.remove(o.row.id, async (trx) => {
    await deliveries.removeMessage(o.row.id, trx)
    await deliveries.enqueue(deliveryRows(s, targets, o.row.id), trx)
  }, tombstone)
  if (!row) return invalid(r, s, 'not_found')
  await ackTo(r, s)
  // its neighbours as they were, for the clients to link them
  await s.publish(topicOf(o.f), messageRecord(s, { ...row, body: empty }, 'delete'))
}

/** §6.6 async upload, step 3: the upload is complete (its files may now name the stored file); told as sent */
async function complete(r: Request, s: Synrc): Promise<void> {
  const o = await own(r, s)
  if (typeof o === 'string') return failed(r, s, o)
  if (o.row.status !== 'link') return invalid(r, s)
  const { messages } = messagingOf(s)
  const set: Parameters<typeof messages.update>[1] = { status: 'sent', update_at: s.clock.now() }
  if (isDescs(r.rec.files)) {
    const old = s.wire.decode(Buffer.from(o.row.body, 'base64'))
    Object.assign(set, { body: bodyOf(s, { ...old, files: r.rec.files }), kinds: kindsOf(r.rec.files) })
  }
  await messages.update(o.row.id, set)
  await requeue(s, o.f, o.row.id, r.from.clientId)
  await ackTo(r, s)
  await s.publish(topicOf(o.f), messageRecord(s, (await messages.get(o.row.id))!))
}

export const message: Handler = async (r, s) => {
  // §8.3 (issue 13 §5): a signed Desc not signed by its sender is refused before anything is stored or told
  if (s.verifySignatures && (await s.verifySignatures(r)) !== true) return invalid(r, s, 'invalid_signature')
  switch (r.rec.status ?? null) {
    case null: case 'client': return send(r, s, 'sent')
    case 'upload': return send(r, s, 'link')
    case 'edit': return edit(r, s)
    case 'delete': return remove(r, s)
    case 'complete': return complete(r, s)
    // §6.6 step 6: update and the server's own statuses (sent, link, …) are not requests
    default: return invalid(r, s)
  }
}
