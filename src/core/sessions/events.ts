// Connect/disconnect listeners of a Sessions implementation: run in registration order, errors logged, never thrown.
import type { SessionEvent, SessionInfo, SessionListener } from './types.ts'

export class SessionEvents {
  private listeners: Record<SessionEvent, SessionListener[]> = { connect: [], disconnect: [] }
  constructor(private onError: (err: unknown, event: SessionEvent, clientId: string) => void) {}

  on(event: SessionEvent, fn: SessionListener): () => void {
    this.listeners[event].push(fn)
    return () => { this.listeners[event] = this.listeners[event].filter((f) => f !== fn) }
  }

  /** resolves once every listener has run (their promises settled) */
  async emit(event: SessionEvent, s: SessionInfo): Promise<void> {
    for (const fn of this.listeners[event]) {
      try {
        await fn(s)
      } catch (err) {
        this.onError(err, event, s.clientId)
      }
    }
  }
}
