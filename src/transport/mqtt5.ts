// MQTT 5 on the embedded broker: the reason codes Herald answers with (MQTT 5.0 §2.4) and what Aedes 2 leaves to it
// (packet sizes towards a client, protocol errors that end a v5 connection with a DISCONNECT that says why).
import type { Client } from 'aedes'
import mqttPacket from 'mqtt-packet'

export const ReasonCode = {
  NOT_AUTHORIZED: 0x87,
  TOPIC_FILTER_INVALID: 0x8f,
  TOPIC_NAME_INVALID: 0x90,
  RECEIVE_MAXIMUM_EXCEEDED: 0x93,
  PACKET_TOO_LARGE: 0x95,
  QUOTA_EXCEEDED: 0x97,
  SERVER_BUSY: 0x89,
  CONNECTION_RATE_EXCEEDED: 0x9f,
} as const

/** bytes of a packet whose remaining length is `remaining`: type byte, length varint, body (MQTT 5.0 §2.1.4) */
export function wireSize(remaining: number): number {
  return 1 + (remaining < 128 ? 1 : remaining < 16_384 ? 2 : remaining < 2_097_152 ? 3 : 4) + remaining
}

interface OutgoingPublish {
  topic: string
  payload: Buffer | string
  retain: boolean
  properties?: Record<string, unknown>
}

/** Whether PUBLISH `p` at `qos` is at most `max` bytes on the wire (MQTT 5.0 §3.1.2.11.4, the client's limit). */
export function fitsPacketSize(p: OutgoingPublish, qos: number, max: number): boolean {
  const payload = typeof p.payload === 'string' ? Buffer.byteLength(p.payload) : p.payload.length
  // type, 4-byte length, topic length, packet id, empty properties: 10 bytes at most besides topic and payload
  if (!p.properties && payload + Buffer.byteLength(p.topic) + 10 <= max) return true
  const bytes = mqttPacket.generate({
    cmd: 'publish', topic: p.topic, payload: p.payload, qos: qos as 0 | 1 | 2, retain: p.retain, dup: false,
    messageId: qos > 0 ? 1 : undefined, properties: p.properties,
  } as mqttPacket.IPublishPacket, { protocolVersion: 5 })
  return bytes.length <= max
}

/**
 * A PUBLISH that breaks the protocol (a malformed topic) or, with HERALD_MQTT_DENIED_PUBLISH=disconnect, that the
 * client may not make: under 3.1.1 the error closes the connection; under 5 the client is told why in a DISCONNECT
 * with `reasonCode` and a Reason String (MQTT-3.14.2), and Aedes neither acknowledges nor publishes the message.
 */
export function protocolError(client: Client, p: object, reasonCode: number, message: string, done: (err: Error | null) => void): void {
  const c = client as unknown as { version: number | null; closed: boolean; disconnect(o: object, cb: () => void): void }
  if (c.version !== 5 || c.closed) return done(new Error(message))
  // Aedes' own mark for a v5 PUBLISH it answered itself (lib/handlers/publish.js enqueuePublish)
  ;(p as { _notAuthorized?: boolean })._notAuthorized = true
  c.disconnect({ reasonCode, properties: { reasonString: message } }, () => {})
  done(null)
}
