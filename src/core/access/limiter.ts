// Failed-attempt limits (logins, password guesses): a fixed window per key (an address, a username).
// Memory only for now; several nodes each count their own (issue 9 moves shared state to the store or Redis).

export interface LimiterOptions {
  /** failures within the window after which the key is refused */
  limit: number
  windowMs: number
  /** keys kept at most; beyond, the oldest window is forgotten first */
  maxKeys?: number
  now?: () => number
}

export class FailureLimiter {
  private windows = new Map<string, { count: number; since: number }>()
  private now: () => number

  constructor(private o: LimiterOptions) {
    this.now = o.now ?? Date.now
  }

  private current(key: string): { count: number; since: number } | undefined {
    const w = this.windows.get(key)
    if (w && this.now() - w.since > this.o.windowMs) {
      this.windows.delete(key)
      return undefined
    }
    return w
  }

  /** true when the key has used up its failures in this window */
  blocked(key: string | undefined): boolean {
    if (key === undefined || key === '') return false
    return (this.current(key)?.count ?? 0) >= this.o.limit
  }

  /** milliseconds until a blocked key may try again (0 when it is not blocked) */
  retryAfterMs(key: string): number {
    const w = this.current(key)
    if (!w || w.count < this.o.limit) return 0
    return Math.max(0, w.since + this.o.windowMs - this.now())
  }

  fail(key: string | undefined): void {
    if (key === undefined || key === '') return
    const w = this.current(key)
    if (w) { w.count++; return }
    if (this.windows.size >= (this.o.maxKeys ?? 100_000)) {
      const oldest = this.windows.keys().next().value
      if (oldest !== undefined) this.windows.delete(oldest)
    }
    this.windows.set(key, { count: 1, since: this.now() })
  }

  /** a success clears the key's failures */
  clear(key: string | undefined): void {
    if (key !== undefined) this.windows.delete(key)
  }
}

/** At most `max` tasks at once (e.g. key derivations); the rest wait in order, or are refused past `maxQueue`. */
export class Gate {
  private running = 0
  private waiting: (() => void)[] = []
  constructor(private max: number, private maxQueue = Infinity) {}

  /** `Gate.BUSY` when the queue is full: the caller answers "busy" instead of waiting */
  async run<T>(task: () => Promise<T>): Promise<T | typeof Gate.BUSY> {
    if (this.running >= this.max) {
      if (this.waiting.length >= this.maxQueue) return Gate.BUSY
      await new Promise<void>((r) => this.waiting.push(r))
    } else {
      this.running++
    }
    try {
      return await task()
    } finally {
      const next = this.waiting.shift()
      if (next) next()
      else this.running--
    }
  }

  static readonly BUSY: unique symbol = Symbol('busy')
}
