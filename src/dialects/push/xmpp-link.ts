// The connection to the XMPP server, kept up: one session at a time, opened again after it ends or fails with a
// doubling back-off (§12.2; the original waited a fixed 10 s), and whether it is up now, for /readyz and for
// set_push_accounts, which waits (bounded) for it (issue 14 "Readiness").
import type { Logger } from 'pino'

/** One connection; `closed` settles when it is gone, for whatever reason. */
export interface XmppSession {
  closed: Promise<unknown>
  close(): Promise<void>
}

export interface LinkOptions {
  /** connect, log in, be ready for stanzas; rejects on any failure. Aborted by stop(). */
  open(signal: AbortSignal): Promise<XmppSession>
  reconnectMs: number
  reconnectMaxMs: number
  log: Logger
  /** for the logs: `XMPP client push@example.org`, `XMPP component push.example.org` */
  what: string
}

/** The n-th consecutive failure's wait: base·2^(n-1) up to max, then between half and all of it. */
export function backoffMs(failures: number, baseMs: number, maxMs: number, random = Math.random): number {
  const full = Math.min(maxMs, baseMs * 2 ** Math.min(Math.max(failures - 1, 0), 30))
  return Math.round(full / 2 + (full / 2) * random())
}

export class Link {
  private upNow = false
  private waiters = new Set<(up: boolean) => void>()
  private stopped = false
  private session?: XmppSession
  private abort = new AbortController()
  private pause?: { timer: NodeJS.Timeout; done: () => void }
  private loop?: Promise<void>
  /** why the last attempt to connect failed (cleared once up) */
  lastError?: Error
  /** attempts that failed since the link was last up */
  failures = 0

  constructor(private readonly o: LinkOptions) {}

  get up(): boolean { return this.upNow }

  /** true as soon as the session is up, false if it is not within `ms` (or the link stops) */
  whenUp(ms: number): Promise<boolean> {
    if (this.upNow) return Promise.resolve(true)
    if (this.stopped) return Promise.resolve(false)
    return new Promise((resolve) => {
      const done = (up: boolean) => { clearTimeout(t); this.waiters.delete(done); resolve(up) }
      const t = setTimeout(() => done(false), ms)
      this.waiters.add(done)
    })
  }

  start(): void {
    this.loop ??= this.run()
  }

  async stop(): Promise<void> {
    this.stopped = true
    this.abort.abort()
    if (this.pause) { clearTimeout(this.pause.timer); this.pause.done() }
    await this.session?.close().catch(() => {})
    await this.loop
    for (const w of [...this.waiters]) w(false)
  }

  private setUp(up: boolean): void {
    this.upNow = up
    if (up) for (const w of [...this.waiters]) w(true)
  }

  private async run(): Promise<void> {
    const { log, what } = this.o
    while (!this.stopped) {
      try {
        const s = await this.o.open(this.abort.signal)
        if (this.stopped) { await s.close().catch(() => {}); break }
        this.session = s
        this.failures = 0
        this.lastError = undefined
        this.setUp(true)
        log.info(`push: ${what} is up`)
        await s.closed
        if (!this.stopped) log.warn(`push: ${what}: the connection was lost`)
      } catch (err) {
        this.lastError = err instanceof Error ? err : new Error(String(err))
        this.failures++
        if (!this.stopped) log.warn({ err, failures: this.failures }, `push: ${what}: connecting failed`)
      } finally {
        this.session = undefined
        this.setUp(false)
      }
      if (this.stopped) break
      const ms = backoffMs(Math.max(this.failures, 1), this.o.reconnectMs, this.o.reconnectMaxMs)
      await new Promise<void>((resolve) => { this.pause = { timer: setTimeout(resolve, ms), done: resolve } })
      this.pause = undefined
    }
  }
}

/** Reject after `ms` unless `p` settled; `onTimeout` releases what `p` holds. */
export function within<T>(p: Promise<T>, ms: number, what: string, onTimeout?: () => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => { onTimeout?.(); reject(new Error(`${what}: no answer within ${ms} ms`)) }, ms)
    p.then((v) => { clearTimeout(t); resolve(v) }, (err: unknown) => { clearTimeout(t); reject(err as Error) })
  })
}

/**
 * What client mode and component mode share: a Link that keeps their session up (`open` is each mode's own login),
 * and the state and start/stop the push dialect reads through it.
 */
export abstract class LinkedMode {
  protected readonly link: Link

  constructor(o: Pick<LinkOptions, 'reconnectMs' | 'reconnectMaxMs' | 'log' | 'what'>) {
    this.link = new Link({ ...o, open: (signal) => this.open(signal) })
  }

  /** connect, log in, be ready for stanzas (LinkOptions.open) */
  protected abstract open(signal: AbortSignal): Promise<XmppSession>

  get up(): boolean { return this.link.up }
  /** why connecting failed last, and how many times in a row (until it is up again) */
  get lastError(): Error | undefined { return this.link.lastError }
  get failures(): number { return this.link.failures }
  start(): void { this.link.start() }
  stop(): Promise<void> { return this.link.stop() }
}
