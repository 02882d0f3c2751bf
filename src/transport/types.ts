// What Herald needs of an embedded MQTT broker, in its own words: a later broker (MQTT 5) replaces the module that
// implements this (transport/broker.ts, Aedes today) and nothing above the transport changes.
import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import type { QoS } from '../core/bus/types.ts'
import type { Sessions } from '../core/sessions/types.ts'

export interface BrokerMessage {
  topic: string
  payload: Buffer
  qos: QoS
  retain: boolean
  /**
   * Set on what a subscription receives: the broker already handed this message to the BeforeAck function (a
   * client's QoS 1/2 PUBLISH or will). Derived from the packet's own fields, so it survives a serializing emitter.
   */
  beforeAckDone?: boolean
}

export interface ConnectionOptions {
  /** `mqtt`, `mqtts`, `ws`, `wss`, or an extra WebSocket listener's name: sessions and authentication see it */
  listener: string
  /** the HTTP upgrade request of a WebSocket connection */
  req?: IncomingMessage
}

/**
 * Work to finish before a client's PUBLISH is acknowledged: called for every authorized QoS 1/2 PUBLISH of a client
 * (and will), in the order the client sent them; undefined when there is nothing to wait for, else a promise that
 * settles (never rejects) when it is done. The transport holds the PUBACK (QoS 1) or PUBREC (QoS 2) until then (one
 * client's acknowledgements stay in publish order). What it is not called for (QoS 0, Herald's own publishes)
 * reaches subscriptions without `beforeAckDone`.
 */
export type BeforeAck = (msg: BrokerMessage) => Promise<void> | undefined

export interface EmbeddedBroker {
  /** Hand a new connection (TCP, TLS or WebSocket stream) to the broker. */
  handle(conn: Duplex, o: ConnectionOptions): void
  /** Publish as Herald itself; resolves once the broker has taken it (stored for offline QoS>0 sessions). */
  publish(msg: BrokerMessage): Promise<void>
  /**
   * An in-process subscription. `deliver` is called for every matching message (from clients and from Herald) and
   * must not block: the broker goes on as soon as it returns. Resolves once active, with a function that removes it.
   */
  subscribe(filter: string, deliver: (msg: BrokerMessage) => void): Promise<() => Promise<void>>
  setBeforeAck(fn: BeforeAck): void
  /** the clients' sessions: connect/disconnect events, server-side subscriptions, disconnect, list */
  readonly sessions: Sessions
  close(): Promise<void>
}
