// The rooms module (§6.8 ROOM/MEMBER, §6.9 LINK, §6.11 FAV): its routes, and at start the subscription provider that
// re-subscribes a device to the room/<id> of its roster's rooms at every connect, and the Member presence hooks.
import { DEVICE, DEVICE_OR_SYS, type Module } from '../context.ts'
import type { Rec } from '../wire.ts'
import { roomTopic } from '../topics.ts'
import { star, tag } from './fav.ts'
import { link } from './link.ts'
import { member, presenceHooks } from './member.ts'
import { room, roomRecord } from './room.ts'
import { addSearch } from './search.ts'
import { text } from './presence.ts'

export const rooms: Module = {
  // §5 (inference there): Room, Member, Star and Tag from devices as Link; Room also from sys_ (delete)
  routes: {
    Room: { accept: DEVICE_OR_SYS, handle: room },
    Member: { accept: DEVICE, handle: member },
    Link: { accept: DEVICE, handle: link },
    Star: { accept: DEVICE, handle: star },
    Tag: { accept: DEVICE, handle: tag },
  },
  start(s) {
    s.addSubscriptionProvider(async (d) => (await s.stores.rooms.roomsOf(d.rosterId)).map(roomTopic))
    // §6.10 `field=<<"link">>, status=room`: the rooms behind the invite links, in the Roster envelope's roomlist; a
    // link is an invitation, so anyone may find its room, but not who is in it (members and admins left out)
    addSearch('link', 'room', async (_r, s2, values) => {
      const found = new Map<string, Rec>()
      for (const v of values) {
        const l = text(v)
        const row = l ? await s2.stores.rooms.link(l) : undefined
        const roomRow = row && !found.has(row.room_id) ? await s2.stores.rooms.get(row.room_id) : undefined
        if (roomRow) found.set(roomRow.id, { ...(await roomRecord(s2, roomRow, null)), members: [], admins: [] })
      }
      return { roomlist: [...found.values()] }
    })
    s.addDeviceHooks(presenceHooks(s))
  },
}
