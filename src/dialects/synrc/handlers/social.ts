// The social sub-protocols (§6.3 ROSTER, §6.4 FRIEND, §6.5 PRESENCE, §6.10 SEARCH) as one module: their routes
// (emqttd_ devices, §5), the friends' topics at every device connect, and presence from the broker's connects.
import { DEVICE, type Module } from '../context.ts'
import { friend, friendTopics } from './friend.ts'
import { presence, presenceHooks } from './presence.ts'
import { roster } from './roster.ts'
import { search } from './search.ts'

export const social: Module = {
  routes: {
    Roster: { accept: DEVICE, handle: roster },
    Friend: { accept: DEVICE, handle: friend },
    Presence: { accept: DEVICE, handle: presence },
    Search: { accept: DEVICE, handle: search },
  },
  start(s) {
    s.addSubscriptionProvider(friendTopics(s))
    s.addDeviceHooks(presenceHooks(s))
  },
}
