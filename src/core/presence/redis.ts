// Presence shared by several nodes through Redis (ioredis): entries per client, a per-user index, a liveness deadline
// per node refreshed by a heartbeat on the Clock (readers ignore a dead node's entries, the next heartbeat of any
// node removes them), changes published on a channel for every node's onChange. Layout in redis-scripts.ts.
import { EventEmitter } from 'node:events'
import type { Redis } from 'ioredis'
import { systemClock, type Clock } from '../clock.ts'
import { newNodeId } from './node.ts'
import * as lua from './redis-scripts.ts'
import type { Presence, PresenceChange, PresenceEntry } from './types.ts'

export interface RedisPresenceOptions {
  url: string
  /** every key and the channel start with it (one Redis server or a primary with replicas; not Redis Cluster) */
  prefix: string
  clock?: Clock
  node?: string
  /** a node not heard from for this long is dead; it refreshes its deadline every third of it */
  nodeTtlMs?: number
  /** a Redis connection or listener error (the commands themselves reject) */
  onError?: (err: unknown) => void
}

type Scripted = Redis & {
  presenceConnect(...a: string[]): Promise<number>
  presenceDisconnect(...a: string[]): Promise<number>
  presenceTouch(...a: string[]): Promise<number>
  presenceRead(...a: string[]): Promise<string[]>
  presenceCount(...a: string[]): Promise<number>
  presenceHeartbeat(...a: string[]): Promise<number>
  presenceLeave(...a: string[]): Promise<number>
}

const scripts = {
  presenceConnect: lua.connectScript, presenceDisconnect: lua.disconnectScript, presenceTouch: lua.touchScript,
  presenceRead: lua.readScript, presenceCount: lua.countScript, presenceHeartbeat: lua.heartbeatScript,
  presenceLeave: lua.leaveScript,
}

export class RedisPresence implements Presence {
  readonly node: string
  private readonly events = new EventEmitter<{ change: [PresenceChange] }>()
  /** this node's node-bound entries, announced again if the others took this node for dead (a long stall) */
  private readonly mine = new Map<string, PresenceEntry>()
  private closed = false
  private lastSince = 0

  private constructor(
    private readonly redis: Scripted,
    private readonly sub: Redis,
    private readonly o: Required<Omit<RedisPresenceOptions, 'url' | 'node'>>,
    node: string,
  ) {
    this.node = node
  }

  /** Connects (a start-up error names Redis), subscribes to the changes and announces this node alive. */
  static async create(o: RedisPresenceOptions): Promise<RedisPresence> {
    const opts = { lazyConnect: true, maxRetriesPerRequest: 3 }
    // loaded on first use: a Herald without Redis presence never pays for ioredis (issue 11 item 7)
    const { Redis } = await import('ioredis')
    const redis = new Redis(o.url, opts) as Scripted
    const sub = new Redis(o.url, opts)
    const onError = o.onError ?? (() => {})
    for (const c of [redis, sub]) c.on('error', onError)
    for (const [name, lua] of Object.entries(scripts)) redis.defineCommand(name, { numberOfKeys: 0, lua })
    try {
      await Promise.all([redis.connect(), sub.connect()])
    } catch (err) {
      redis.disconnect(); sub.disconnect()
      throw new Error(`presence: cannot connect to Redis at ${redactUrl(o.url)}: ${(err as Error).message}`)
    }
    const p = new RedisPresence(redis, sub, {
      prefix: o.prefix, clock: o.clock ?? systemClock, nodeTtlMs: o.nodeTtlMs ?? 15_000, onError,
    }, o.node ?? newNodeId())
    sub.on('message', (_channel: string, msg: string) => p.received(msg))
    await sub.subscribe(o.prefix + 'changes')
    await p.heartbeat()
    void p.heartbeatLoop()
    return p
  }

  async connected(e: Omit<PresenceEntry, 'node' | 'since'> & { since?: number }): Promise<PresenceEntry> {
    const entry: PresenceEntry = { ...e, node: this.node, since: e.since ?? this.stamp() }
    if (entry.expiresAt === undefined) delete entry.expiresAt
    await this.store(entry, false)
    if (entry.expiresAt === undefined) this.mine.set(entry.clientId, entry)
    else this.mine.delete(entry.clientId)
    return { ...entry }
  }

  async disconnected(clientId: string, since?: number): Promise<void> {
    if (since === undefined || this.mine.get(clientId)?.since === since) this.mine.delete(clientId)
    await this.redis.presenceDisconnect(this.o.prefix, clientId, this.node, since === undefined ? '' : String(since))
  }

  async touch(clientId: string, expiresAt: number): Promise<boolean> {
    return (await this.redis.presenceTouch(this.o.prefix, clientId, String(expiresAt), String(this.o.clock.now()))) === 1
  }

  async isOnline(clientId: string): Promise<boolean> {
    return (await this.read([clientId])).length > 0
  }

  async byUser(kind: string, username: string): Promise<PresenceEntry[]> {
    const ids = await this.redis.smembers(`${this.o.prefix}u:${kind}:${username}`)
    return ids.length === 0 ? [] : this.read(ids)
  }

  async count(): Promise<number> {
    return Number(await this.redis.presenceCount(this.o.prefix, String(this.o.clock.now()), this.node))
  }

  onChange(fn: (c: PresenceChange) => void): () => void {
    this.events.on('change', fn)
    return () => { this.events.off('change', fn) }
  }

  /** connection times strictly increase on this node: a connection is named by (node, since) */
  private stamp(): number {
    this.lastSince = Math.max(this.o.clock.now(), this.lastSince + 1)
    return this.lastSince
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    try {
      await this.redis.presenceLeave(this.o.prefix, this.node)
    } finally {
      this.events.removeAllListeners()
      await Promise.allSettled([this.redis.quit(), this.sub.quit()])
    }
  }

  private async store(entry: PresenceEntry, onlyIfAbsent: boolean): Promise<number> {
    return this.redis.presenceConnect(this.o.prefix, entry.clientId, JSON.stringify(entry), this.node, entry.kind,
      entry.username, entry.expiresAt === undefined ? '' : String(entry.expiresAt), onlyIfAbsent ? '1' : '0')
  }

  private async read(ids: string[]): Promise<PresenceEntry[]> {
    const flat = await this.redis.presenceRead(this.o.prefix, String(this.o.clock.now()), this.node, ...ids)
    const out: PresenceEntry[] = []
    for (let i = 0; i < flat.length; i += 2) {
      const e = JSON.parse(flat[i]) as PresenceEntry
      if (flat[i + 1] !== '') e.expiresAt = Number(flat[i + 1])
      out.push(e)
    }
    return out
  }

  private received(msg: string): void {
    let c: PresenceChange
    try {
      c = { online: msg[0] === '1', entry: JSON.parse(msg.slice(1)) as PresenceEntry }
    } catch (err) {
      return this.o.onError(err)
    }
    for (const fn of this.events.listeners('change')) {
      try { fn(c) } catch (err) { this.o.onError(err) }
    }
  }

  private async heartbeat(): Promise<void> {
    const now = this.o.clock.now()
    const missing = await this.redis.presenceHeartbeat(this.o.prefix, String(now), this.node, String(now + this.o.nodeTtlMs))
    // the others took this node for dead and removed its entries: its clients are still connected here
    if (missing === 1) for (const e of this.mine.values()) await this.store(e, true)
  }

  private async heartbeatLoop(): Promise<void> {
    while (!this.closed) {
      await this.o.clock.sleep(Math.max(1, Math.floor(this.o.nodeTtlMs / 3)))
      if (this.closed) return
      await this.heartbeat().catch((err: unknown) => this.o.onError(err))
    }
  }
}

/** a Redis URL without its password, for error messages */
function redactUrl(url: string): string {
  try {
    const u = new URL(url)
    if (u.password) u.password = '***'
    return u.toString()
  } catch {
    return 'the configured URL'
  }
}
