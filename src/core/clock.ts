// Time as a dependency: code that waits for time to pass (leases, back-off, windows, hold times) takes a Clock, so
// a test advances a manual clock instead of sleeping on the wall clock.

export interface Clock {
  now(): number
  /** resolves after `ms` of this clock's time */
  sleep(ms: number): Promise<void>
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((r) => setTimeout(r, ms).unref?.()),
}

/** A clock that moves only when told (tests). Sleepers wake, in order, when `advance` passes their time. */
export class ManualClock implements Clock {
  private sleepers: { at: number; wake: () => void }[] = []
  constructor(private t = 1_700_000_000_000) {}

  now(): number { return this.t }

  sleep(ms: number): Promise<void> {
    return new Promise((wake) => {
      this.sleepers.push({ at: this.t + ms, wake })
      this.sleepers.sort((a, b) => a.at - b.at)
    })
  }

  /** Move time forward, waking every sleeper whose time has come (and letting its continuation run). */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms
    for (;;) {
      const next = this.sleepers[0]
      if (!next || next.at > end) break
      this.sleepers.shift()
      this.t = next.at
      next.wake()
      await new Promise((r) => setImmediate(r))
    }
    this.t = end
  }
}
