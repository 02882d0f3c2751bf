// Sessions on an external broker that offers none of them (Mosquitto, a plain MQTT URL): its capabilities say so, and
// a dialect that needs one is refused at start-up (checkSessionNeeds) instead of failing later.
import { SessionCapabilityError, type SessionCapabilities, type Sessions } from './types.ts'

export class UnsupportedSessions implements Sessions {
  readonly capabilities: SessionCapabilities = { events: false, subscriptions: false, disconnect: false, sessionWithoutSubscription: false, cleanFlag: false }
  constructor(readonly broker: string) {}

  on(): () => void { return () => {} }
  subscribe(): Promise<void> { return Promise.reject(new Error(`server-side subscriptions are not available on the ${this.broker} broker`)) }
  unsubscribe(): Promise<void> { return Promise.reject(new Error(`server-side subscriptions are not available on the ${this.broker} broker`)) }
  disconnect(): Promise<boolean> { return Promise.reject(new Error(`disconnecting clients is not available on the ${this.broker} broker`)) }
  list(): Promise<never> { return Promise.reject(new Error(`listing subscriptions is not available on the ${this.broker} broker`)) }
  async close(): Promise<void> {}
}

/** Throws SessionCapabilityError for the first dialect that needs what the broker's sessions cannot do. */
export function checkSessionNeeds(dialects: { name: string; needs?: (keyof SessionCapabilities)[] }[], sessions: Sessions): void {
  for (const d of dialects) {
    for (const need of d.needs ?? []) {
      if (!sessions.capabilities[need]) throw new SessionCapabilityError(d.name, need, sessions.broker)
    }
  }
}

/** how an external broker is named in errors: its URL without credentials */
export function externalBrokerName(url: string): string {
  try {
    const u = new URL(url)
    return `external ${u.protocol}//${u.host}`
  } catch {
    return 'external'
  }
}
