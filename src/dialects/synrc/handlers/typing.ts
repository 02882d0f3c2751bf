// TYPING (§6.6 step 1): `{'Typing', PhoneId, Feed}` is broadcast to the feed, never answered. The feed travels in
// `comments` ({p2p,From,To} or {muc,Room}, the v1 doc's `{author, room}`); the author is the sender's own roster.
import type { Handler } from '../context.ts'
import { bin, feedOf, mayRead, topicOf } from './messaging.ts'

export const typing: Handler = async (r, s) => {
  const f = feedOf(r.rec.comments)
  const me = r.from.rosterId!
  // §6.6: no reply either way; a feed the sender is not in (or no longer friends in) hears nothing
  if (!f || !(await mayRead(s, me, f))) return
  if (f.kind === 'p2p' && !(await s.stores.friends.areFriends(f.from, f.to))) return
  await s.publish(topicOf(f), { $: 'Typing', phone_id: bin(me), comments: r.rec.comments })
}
