// FRIEND (§6.4): request, confirm, revoke, ban, unban, mute, unmute (and the header's ignore, update), one row per
// direction in synrc_friends. Confirm subscribes both parties' devices to private/<a>/<b> and each to the other's
// contacts/<rosterId>; revoke and ban take those away. Contacts go to devices/<phone> of the parties.
import type { Handler, Request, SubscriptionProvider, Synrc } from '../context.ts'
import type { FriendRow } from '../store/friends.ts'
import type { RosterRow } from '../store/rosters.ts'
import { contactsTopic, devicesTopic, privateTopic, validLevel } from '../topics.ts'
import { error, ok, type IoCode, type Rec } from '../wire.ts'
import { bareContact, bin, contactOf, text } from './presence.ts'

const reply = (r: Request, s: Synrc, rec: Rec) => s.reply(r.from.clientId, rec)
const fail = (r: Request, s: Synrc, code: string) => reply(r, s, s.wire.io(error(code), bin('')))
/** an ok/error code as a record, for io's data half (§6.4 `{io,{ok,added},{ok,added}}`) */
const codeRec = (c: IoCode): Rec => ({ $: c.ok ? 'ok' : 'error', code: c.code, src: null })

/** the topics two friends' devices share: each other's contacts/ and their private/ */
const topicsFor = (me: string, other: string): string[] => [privateTopic(me, other), contactsTopic(other)]

/** the device connect provider: every mutual friend's private/ and contacts/ topics */
export const friendTopics = (s: Synrc): SubscriptionProvider => async (device) =>
  (await s.stores.friends.mutual(device.rosterId)).flatMap((f) => topicsFor(device.rosterId, f))

async function link(s: Synrc, a: RosterRow, b: RosterRow): Promise<void> {
  await s.subscribePhone(a.phone, topicsFor(a.id, b.id))
  await s.subscribePhone(b.phone, topicsFor(b.id, a.id))
}

async function unlink(s: Synrc, a: { id: string; phone: string }, b: { id: string; phone: string }): Promise<void> {
  await s.unsubscribePhone(a.phone, topicsFor(a.id, b.id))
  await s.unsubscribePhone(b.phone, topicsFor(b.id, a.id))
}

/** a roster leaves (Roster/remove, Profile/remove, Profile/delete): its friendships end, its rows go; the rosters that
 *  listed it, for their notifications */
export async function dropRoster(s: Synrc, row: RosterRow): Promise<string[]> {
  const friends = await s.stores.friends.mutual(row.id)
  const others = new Set([...(await s.stores.friends.of(row.id)), ...(await s.stores.friends.listedBy(row.id))]
    .map((f) => (f.roster_id === row.id ? f.friend_id : f.roster_id)))
  for (const f of friends) {
    const other = await s.stores.rosters.get(f)
    if (other) await unlink(s, row, other)
  }
  await s.stores.friends.removeAll(row.id)
  await s.stores.rosters.remove(row.id)
  return [...others]
}

interface Pair { me: RosterRow; them: RosterRow; mine?: FriendRow; theirs?: FriendRow }

const toMe = (s: Synrc, p: Pair, status: string, presence = false) =>
  s.publish(devicesTopic(p.me.phone), contactOf(s, p.them, status, { presence }))
const toThem = (s: Synrc, p: Pair, status: string, presence = false) =>
  s.publish(devicesTopic(p.them.phone), contactOf(s, p.me, status, { presence }))

async function request(r: Request, s: Synrc, p: Pair): Promise<void> {
  if (p.mine?.status === 'ban') return fail(r, s, 'ban')
  if (p.theirs?.status === 'ban') return fail(r, s, 'banned')
  if (p.mine?.status === 'friend' && p.theirs?.status === 'friend') return fail(r, s, 'already_present')
  // they asked first: asking back is confirming
  if (p.theirs?.status === 'request') return confirm(r, s, p)
  await s.stores.friends.setPair(p.me.id, 'request', p.them.id, 'authorization', s.clock.now())
  await toMe(s, p, 'request')
  await toThem(s, p, 'authorization')
}

async function confirm(r: Request, s: Synrc, p: Pair): Promise<void> {
  // §6.4 "{error,contact_not_found} / {error,contacts_not_found} in either half": the first half is the request in
  // my roster, the second my place in theirs; confirming again is harmless
  const mine = ['authorization', 'ignore', 'friend'].includes(p.mine?.status ?? '') ? ok('added') : error('contact_not_found')
  const theirs = ['request', 'friend'].includes(p.theirs?.status ?? '') ? ok('added') : error('contacts_not_found')
  if (!mine.ok || !theirs.ok) return reply(r, s, s.wire.io(mine, codeRec(theirs)))
  await s.stores.friends.setPair(p.me.id, 'friend', p.them.id, 'friend', s.clock.now())
  await link(s, p.me, p.them)
  await reply(r, s, s.wire.io(mine, codeRec(theirs)))
  await toMe(s, p, 'friend', true)
  await toThem(s, p, 'friend', true)
}

async function revoke(r: Request, s: Synrc, p: Pair): Promise<void> {
  // a ban is lifted with unban, not revoke
  if (!p.mine || p.mine.status === 'ban' || p.mine.status === 'banned') return fail(r, s, 'contact_not_found')
  const wereFriends = p.mine.status === 'friend' && p.theirs?.status === 'friend'
  await s.stores.friends.removePair(p.me.id, p.them.id)
  await toMe(s, p, 'revoke')
  if (p.theirs) await toThem(s, p, 'revoke')
  if (wereFriends) await unlink(s, p.me, p.them)
}

async function ban(r: Request, s: Synrc, p: Pair): Promise<void> {
  const wereFriends = p.mine?.status === 'friend' && p.theirs?.status === 'friend'
  // a ban both ways stays a ban both ways
  await s.stores.friends.setPair(p.me.id, 'ban', p.them.id, p.theirs?.status === 'ban' ? 'ban' : 'banned', s.clock.now())
  if (wereFriends) await unlink(s, p.me, p.them)
  // §6.4 "io like confirm": {io,{ok,banned},{ok,banned}}
  await reply(r, s, s.wire.io(ok('banned'), codeRec(ok('banned'))))
  await toMe(s, p, 'banned')
  await toThem(s, p, 'banned')
}

async function unban(r: Request, s: Synrc, p: Pair): Promise<void> {
  if (p.mine?.status !== 'ban') return fail(r, s, 'contact_not_found')
  // unbanned, the two are strangers again (a friendship is asked anew); their own ban of me stays
  if (p.theirs?.status === 'ban') await s.stores.friends.setPair(p.me.id, 'banned', p.them.id, 'ban', s.clock.now())
  else await s.stores.friends.removePair(p.me.id, p.them.id)
  await toMe(s, p, 'unbanned')
  await toThem(s, p, 'unbanned')
}

async function mute(r: Request, s: Synrc, p: Pair, muted: boolean): Promise<void> {
  if (!p.mine) return fail(r, s, 'contact_not_found')
  await s.stores.friends.setMuted(p.me.id, p.them.id, muted, s.clock.now())
  await toMe(s, p, muted ? 'muted' : 'unmuted', p.mine.status === 'friend')
}

/** header status ignore: a request declined; the asker is not told (its row stays request) */
async function ignore(r: Request, s: Synrc, p: Pair): Promise<void> {
  if (p.mine?.status !== 'authorization') return fail(r, s, 'contact_not_found')
  await s.stores.friends.set(p.me.id, p.them.id, 'ignore', s.clock.now())
  await toMe(s, p, 'ignore')
}

/** header status update: the contact as it stands now, to my devices */
async function update(r: Request, s: Synrc, p: Pair): Promise<void> {
  if (!p.mine) return fail(r, s, 'contact_not_found')
  await toMe(s, p, p.mine.status, p.mine.status === 'friend')
}

const BY_STATUS: Record<string, (r: Request, s: Synrc, p: Pair) => Promise<void>> = {
  request, confirm, revoke, ban, unban, ignore, update,
  mute: (r, s, p) => mute(r, s, p, true), unmute: (r, s, p) => mute(r, s, p, false),
}

export const friend: Handler = async (r, s) => {
  const meId = r.from.rosterId!
  const asked = r.rec.phone_id === null ? meId : text(r.rec.phone_id)
  // a device acts for its own roster only
  if (asked !== meId) return fail(r, s, 'not_authorized')
  const otherId = text(r.rec.friend_id)
  const op = BY_STATUS[String(r.rec.status)]
  if (!op || !otherId || otherId === meId || !validLevel(otherId)) return fail(r, s, 'invalid_data')
  const me = await s.stores.rosters.get(meId)
  if (!me) return fail(r, s, 'roster_not_found')
  const them = await s.stores.rosters.get(otherId)
  const mine = await s.stores.friends.get(meId, otherId)
  if (!them) {
    // the other roster is gone: a stale row of mine can still be revoked
    if (mine && r.rec.status === 'revoke') {
      await s.stores.friends.removePair(meId, otherId)
      return s.publish(devicesTopic(me.phone), bareContact(otherId, 'revoke'))
    }
    return fail(r, s, 'contact_not_found')
  }
  await op(r, s, { me, them, mine, theirs: await s.stores.friends.get(otherId, meId) })
}
