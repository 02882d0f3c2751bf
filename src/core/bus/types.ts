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
}

export interface Bus {
  readonly kind: 'embedded' | 'external'
  /** Resolves when the broker has taken the message (for QoS 1/2 on an external broker: PUBACK/PUBCOMP). */
  publish(topic: string, payload: Buffer | string, opts?: PublishOptions): Promise<void>
  /** Resolves once the subscription is active; returns a function that removes it. */
  subscribe(filter: string, handler: BusHandler, opts?: SubscribeOptions): Promise<() => Promise<void>>
  close(): Promise<void>
}
