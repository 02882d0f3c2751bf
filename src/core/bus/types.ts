// The bus: the only way a dialect publishes or subscribes. Embedded (in-process Aedes) or external (mqtt.js).

export type QoS = 0 | 1 | 2

export interface PublishOptions {
  qos?: QoS
  retain?: boolean
}

export interface BusMessage {
  /** the concrete topic (without any `$share/<group>/` prefix) */
  topic: string
  payload: Buffer
  qos: QoS
  retain: boolean
}

/** A handler's promise is awaited before the message counts as handled (and, externally, acknowledged). */
export type BusHandler = (msg: BusMessage) => void | Promise<void>

export interface SubscribeOptions {
  qos?: QoS
  /**
   * Work-sharing: among Herald nodes, only one handles each message (`$share/<group>/filter` on an external
   * broker that supports it). On the embedded broker there is one node, so this is a plain subscription.
   */
  shared?: boolean
  /**
   * Acknowledge only what is handled (ARCHITECTURE: "acknowledge only after the write committed"). On the embedded
   * broker, a client's PUBLISH that this subscription matches gets its PUBACK (QoS 1) or PUBREC (QoS 2) only once
   * the handler's promise has settled (QoS 0 acknowledges nothing and is not held); such handlers run as messages
   * arrive, each call started in arrival order without waiting for the previous one (a handler keeps any order it
   * needs from its call order). On an external broker every subscription already works so: Herald acknowledges the
   * broker once the handler has settled.
   */
  beforeAck?: boolean
}

export interface Bus {
  readonly kind: 'embedded' | 'external'
  /** Resolves when the broker has taken the message (for QoS 1/2 on an external broker: PUBACK/PUBCOMP). */
  publish(topic: string, payload: Buffer | string, opts?: PublishOptions): Promise<void>
  /** Resolves once the subscription is active; returns a function that removes it. */
  subscribe(filter: string, handler: BusHandler, opts?: SubscribeOptions): Promise<() => Promise<void>>
  close(): Promise<void>
}
