// PRESENCE (§6.5): `Presence{status=online|offline|Bin}` from a device, and the broker's connect / disconnect of a
// phone's first / last device, become `Contact{presence=…}` on `contacts/<rosterId>`, which reaches the friends'
// devices. Member presence for rooms is the rooms module's. Also the Contact record every social flow sends.
import type { DeviceHooks, Handler, Synrc } from '../context.ts'
import type { RosterRow } from '../store/rosters.ts'
import { contactsTopic } from '../topics.ts'
import { error, ok, type Rec } from '../wire.ts'

export const bin = (s: string): Buffer => Buffer.from(s, 'utf8')
export const text = (v: unknown): string | undefined => (v instanceof Uint8Array ? Buffer.from(v).toString('utf8') : undefined)
const opt = (s: string | null): Buffer | null => (s ? bin(s) : null)

export type PresenceStatus = 'online' | 'offline' | Buffer

/** a status a device set itself (e.g. a text, or offline to look away), per phone, while it has a device connected */
const chosen = new WeakMap<Synrc, Map<string, PresenceStatus>>()
const chosenOf = (s: Synrc): Map<string, PresenceStatus> => {
  let m = chosen.get(s)
  if (!m) chosen.set(s, m = new Map())
  return m
}

/** offline without a connected device (on this node); otherwise what the user chose, online by default */
export function presenceOf(s: Synrc, phone: string): PresenceStatus {
  if (s.connectedDevices(phone).length === 0) return 'offline'
  return chosenOf(s).get(phone) ?? 'online'
}

/**
 * A roster as the Contact record (Appendix A; wire.ts renames nread for layout B). Presence is told to friends
 * only: a stranger's search result or a pending request does not say who is online.
 */
export function contactOf(s: Synrc, r: RosterRow, status: string | null, o: { presence?: boolean } = {}): Rec {
  return {
    $: 'Contact', phone_id: bin(r.id), avatar: opt(r.avatar), names: opt(r.names), surnames: opt(r.surnames), nick: opt(r.nick),
    reader: null, nread: 0, last_msg: null, presence: o.presence ? presenceOf(s, r.phone) : null, update: r.update_at,
    created: r.created, settings: [], services: [], status,
  }
}

/** a roster that is gone (removed, §6.2 remove): the Contact names it by id alone */
export const bareContact = (id: string, status: string): Rec => ({ $: 'Contact', phone_id: bin(id), status })

/** §6.5: a Contact change of a roster to its friends (presence, names, avatar, nick) */
export async function toFriends(s: Synrc, rosterId: string): Promise<void> {
  const row = await s.stores.rosters.get(rosterId)
  if (row) await s.publish(contactsTopic(rosterId), contactOf(s, row, 'friend', { presence: true }))
}

const MAX_STATUS_BYTES = 256

export const presence: Handler = async (r, s) => {
  const st: unknown = r.rec.status
  const status: PresenceStatus | undefined = st === 'online' || st === 'offline' ? st
    : st instanceof Uint8Array && st.length > 0 && st.length <= MAX_STATUS_BYTES ? Buffer.from(st) : undefined
  // §6.5: anything else is invalid_data; the uid is not read, the sender is phone_id(ClientId)
  if (status === undefined) return s.reply(r.from.clientId, s.wire.io(error('invalid_data'), bin('')))
  const phone = r.from.phone!
  if (status === 'online') chosenOf(s).delete(phone)
  else chosenOf(s).set(phone, status)
  await toFriends(s, r.from.rosterId!)
  // §6.5 "replies with the result": {ok, Status} (a binary status as ok's binary code, which both layouts declare)
  await s.reply(r.from.clientId, s.wire.io(ok(status as string), bin('')))
}

/** broker connect / disconnect: a phone is online with its first device and offline after its last */
export const presenceHooks = (s: Synrc): DeviceHooks => ({
  async connected(device) {
    if (s.connectedDevices(device.phone!).length === 1) await toFriends(s, device.rosterId!)
  },
  async disconnected(device) {
    if (s.connectedDevices(device.phone!).length > 0) return
    chosenOf(s).delete(device.phone!)
    await toFriends(s, device.rosterId!)
  },
})
