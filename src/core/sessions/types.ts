// Sessions: what Herald (a dialect) may do to a *client*: hear it connect and disconnect, subscribe it or unsubscribe
// it server-side (SYNRC subscribes devices to `actions/…`, `private/…`, `room/…`), disconnect it, list its
// subscriptions. Server-side subscriptions are kept with the client's MQTT session: a persistent session keeps them
// across reconnects, as if the client had subscribed itself. Embedded: the broker's client API; external: where the
// broker allows it (RabbitMQ: the MQTT plugin's per-client queue bindings).
import type { Principal } from '../access/types.ts'
import type { QoS } from '../bus/types.ts'

export interface SessionInfo {
  clientId: string
  principal: Principal
  /** the listener the client came in on: `mqtt`, `mqtts`, `ws`, `wss`, or an extra listener's name */
  listener: string
  /** MQTT clean session (3.1.1) / clean start (5): the session ends with the connection; undefined where the broker
   *  does not say (capability cleanFlag) */
  clean?: boolean
  /** MQTT protocol level (3, 4 or 5) and the client's address, where the broker tells them (the embedded broker does) */
  protocolVersion?: number
  address?: string
}

export interface SessionSubscription { filter: string; qos: QoS }

export interface SessionCapabilities {
  /** connect / disconnect events */
  events: boolean
  /** subscribe / unsubscribe / list a client's subscriptions server-side */
  subscriptions: boolean
  /** close a client's connection */
  disconnect: boolean
  /** a client that has subscribed to nothing itself still has a session to subscribe (RabbitMQ: no, a session is the
   *  client's subscription queue, made by its first SUBSCRIBE) */
  sessionWithoutSubscription: boolean
  /** SessionInfo.clean is reported */
  cleanFlag: boolean
}

export type SessionEvent = 'connect' | 'disconnect'
export type SessionListener = (s: SessionInfo) => void | Promise<void>

export interface Sessions {
  /** which broker this is, for error messages (`embedded`, `rabbitmq`, `mosquitto`, …) */
  readonly broker: string
  readonly capabilities: SessionCapabilities
  /** listeners run in registration order; an error in one is logged, not thrown at the broker */
  on(event: SessionEvent, fn: SessionListener): () => void
  /** Subscribe a client (connected, or offline with a persistent session); unknown clients are an error. */
  subscribe(clientId: string, subs: SessionSubscription[]): Promise<void>
  unsubscribe(clientId: string, filters: string[]): Promise<void>
  /** close the client's connection; false when it is not connected */
  disconnect(clientId: string): Promise<boolean>
  /** the client's subscriptions (its own and server-side ones) */
  list(clientId: string): Promise<SessionSubscription[]>
  /** what the broker has waiting for a connected client, where it can tell (the embedded broker can) */
  stats?(clientId: string): SessionStats | undefined
  close(): Promise<void>
}

export interface SessionStats {
  /** bytes written to the client's socket that it has not read yet, and PUBLISHes held for its Receive Maximum */
  queuedBytes: number
  /** Herald's QoS 1/2 PUBLISHes the client has not acknowledged (PUBACK, PUBCOMP) */
  inflight?: number
}

/** A dialect asked for a capability the configured broker does not offer: refuse to start, naming both. */
export class SessionCapabilityError extends Error {
  override name = 'SessionCapabilityError'
  constructor(dialect: string, capability: keyof SessionCapabilities, broker: string) {
    super(`dialect ${dialect} needs ${NEED_NAMES[capability]}, which the ${broker} broker does not offer here`)
  }
}

const NEED_NAMES: Record<keyof SessionCapabilities, string> = {
  events: 'connect/disconnect events',
  subscriptions: 'server-side subscriptions',
  disconnect: 'disconnecting clients',
  sessionWithoutSubscription: 'sessions for clients that subscribed to nothing',
  cleanFlag: 'each session\'s clean flag',
}
