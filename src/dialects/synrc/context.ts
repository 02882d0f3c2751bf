// What every SYNRC handler sees (one file per sub-protocol in handlers/, STYLE.md): the sender, the wire, the
// stores, and the ways out (a reply to the sender's actions topic, a fan-out publish, server-side subscriptions).
import type { Logger } from 'pino'
import type { Principal } from '../../core/access/types.ts'
import type { Clock } from '../../core/clock.ts'
import type { Sessions } from '../../core/sessions/types.ts'
import type { SettingsOf } from '../../config.ts'
import type { PushNotifier } from './push.ts'
import type { synrcSettings } from './settings.ts'
import type { SmsSender } from './sms.ts'
import type { AuthStore } from './store/auth.ts'
import type { DeliveryStore } from './store/deliveries.ts'
import type { FriendStore } from './store/friends.ts'
import type { MessageStore } from './store/messages.ts'
import type { RoomStore } from './store/rooms.ts'
import type { RosterStore } from './store/rosters.ts'
import type { ClientKind } from './topics.ts'
import type { Rec, Wire } from './wire.ts'

export type SynrcSettings = SettingsOf<typeof synrcSettings, 'synrc'>

/** who sent a request: from its connection, never from the topic (issue 12 "Topics") */
export interface Sender {
  clientId: string
  kind: ClientKind
  principal: Principal
  /** a logged-in device's phone and roster id */
  phone?: string
  rosterId?: string
}

export interface Stores {
  auth: AuthStore
  rosters: RosterStore
  friends: FriendStore
  rooms: RoomStore
  messages: MessageStore
  deliveries: DeliveryStore
}

export interface Synrc {
  wire: Wire
  stores: Stores
  settings: SynrcSettings
  log: Logger
  clock: Clock
  sessions: Sessions
  sms: SmsSender
  development: boolean
  /** Herald's data directory (config dataDir): where files are stored by default (§6.12) */
  dataDir: string
  /** §6.13: queue #push{} for a phone none of whose devices is connected (set at setup) */
  push?: PushNotifier
  /** to the client's actions topic (QoS 2); resolves when the broker has it */
  reply(clientId: string, rec: Rec): Promise<void>
  /** to a fan-out topic (QoS 2) */
  publish(topic: string, rec: Rec): Promise<void>
  /** the topics a logged-in device is subscribed to server-side, asked of every provider at each connect */
  addSubscriptionProvider(fn: SubscriptionProvider): void
  /** subscribe every device of a phone (the connected ones now, the others at their next connect via providers) */
  subscribePhone(phone: string, filters: string[]): Promise<void>
  unsubscribePhone(phone: string, filters: string[]): Promise<void>
  /** run at every connect / disconnect of a logged-in device (after its server-side subscriptions are made) */
  addDeviceHooks(h: DeviceHooks): void
  /** the device client ids of a phone connected to this node */
  connectedDevices(phone: string): string[]
  /**
   * §6.6 system messages of rooms (`Message{type=[sys]}`, files=[Desc{payload=Text}]) to `room/<roomId>`; the
   * messaging module replaces it with one that also stores the message in the room's feed.
   */
  systemMessage(roomId: string, text: string): Promise<void>
  /** §8.3 HERALD_SYNRC_VERIFY_SIGNATURES: true when every signed Desc of a Message is its sender's, else why not */
  verifySignatures?(r: Request): Promise<true | string>
}

export interface DeviceHooks {
  connected?(device: Sender): Promise<void>
  disconnected?(device: Sender): Promise<void>
}

/** one sub-protocol group: the records it handles, and what it sets up once the dialect starts */
export interface Module {
  routes: Record<string, Route>
  start?(s: Synrc): void | Promise<void>
}

export type SubscriptionProvider = (device: Required<Pick<Sender, 'clientId' | 'phone' | 'rosterId'>>) => Promise<string[]>

export interface Request { rec: Rec; from: Sender }
export type Handler = (req: Request, s: Synrc) => Promise<void>

/** §5: which client kinds may send a record, and who handles it */
export interface Route { accept: readonly ClientKind[]; handle: Handler }

/** the client kinds of §5's table, as routes accept them */
export const ANY = ['reg', 'device', 'sys'] as const
export const DEVICE = ['device'] as const
export const DEVICE_OR_SYS = ['device', 'sys'] as const
