import type { Versioned } from "../../domain/accounts.ts"

/** What the cache counts, for Prometheus (readCacheMetrics.ts); every hook is optional. */
export interface TrackedCacheCounters {
  readonly hit?: () => void
  readonly miss?: () => void
  /** Keys dropped because Redis (or this instance's own write) said they changed. */
  readonly invalidated?: (keys: number) => void
  /** The whole cache dropped: tracking lost or (re)established, or FLUSHALL / FLUSHDB. */
  readonly flushed?: () => void
}

/** A read on its way to Redis whose answer may fill the cache: see TrackedCache.beginFill. */
export interface FillTicket {
  readonly redisKey: string
  readonly epoch: number
  readonly clock: number
}

/**
 * Objects (Redis key -> version and value) read from Redis under CLIENT TRACKING, valid until
 * Redis says the key changed (invalidationTracking.ts). Bounded LRU (a Map keeps insertion order).
 *
 * Entries are served only while tracking is `live`; every loss of tracking flushes everything
 * and moves `epoch`. A read that races an invalidation must not fill the cache with what it read
 * before the write (the reply and the invalidation come on different sockets, in either order):
 * a fill records the epoch and a logical clock when it is sent, and is dropped when the key was
 * invalidated (or the cache flushed) after that.
 */
export class TrackedCache {
  private readonly entries = new Map<string, Versioned>()
  /** Keys with reads in flight: how many, and the clock of their last invalidation (0: none). */
  private readonly fills = new Map<string, { pending: number; invalidatedAt: number }>()
  private clock = 0
  private epoch = 0
  private live = false

  private readonly maxEntries: number
  private readonly counters: TrackedCacheCounters

  constructor(maxEntries: number, counters: TrackedCacheCounters = {}) {
    this.maxEntries = maxEntries
    this.counters = counters
  }

  get isLive(): boolean {
    return this.live
  }

  get size(): number {
    return this.entries.size
  }

  /** Whether a hit is possible now (cheap; says nothing about the entry after the next turn). */
  has(redisKey: string): boolean {
    return this.live && this.entries.has(redisKey)
  }

  /** The cached object, counting a hit or a miss. */
  get(redisKey: string): Versioned | undefined {
    const v = this.live ? this.entries.get(redisKey) : undefined
    if (v === undefined) {
      this.counters.miss?.()
      return undefined
    }
    this.entries.delete(redisKey)
    this.entries.set(redisKey, v)
    this.counters.hit?.()
    return v
  }

  /** Call just before the tracked read is sent; undefined when tracking is not live (nothing to fill). */
  beginFill(redisKey: string): FillTicket | undefined {
    if (!this.live) return undefined
    const fill = this.fills.get(redisKey)
    if (fill) fill.pending += 1
    else this.fills.set(redisKey, { pending: 1, invalidatedAt: 0 })
    return { redisKey, epoch: this.epoch, clock: this.clock }
  }

  /** The read's answer (undefined: it failed); cached only if nothing invalidated the key since it was sent. */
  endFill(ticket: FillTicket, value: Versioned | undefined): void {
    const fill = this.fills.get(ticket.redisKey)
    if (!fill) return
    const invalidatedSince = fill.invalidatedAt > ticket.clock
    fill.pending -= 1
    if (fill.pending <= 0) this.fills.delete(ticket.redisKey)
    if (value === undefined || invalidatedSince || !this.live || ticket.epoch !== this.epoch) return
    this.entries.set(ticket.redisKey, value)
    if (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next()
      if (!oldest.done) this.entries.delete(oldest.value)
    }
  }

  invalidate(redisKeys: Iterable<string>): void {
    this.clock += 1
    let n = 0
    for (const key of redisKeys) {
      n += 1
      this.entries.delete(key)
      const fill = this.fills.get(key)
      if (fill) fill.invalidatedAt = this.clock
    }
    if (n > 0) this.counters.invalidated?.(n)
  }

  /** Drops everything, and every read in flight loses its right to fill. */
  flush(): void {
    this.epoch += 1
    this.clock += 1
    this.entries.clear()
    this.counters.flushed?.()
  }

  /** Tracking established (true) or lost (false); either way what was cached before cannot be trusted. */
  setLive(live: boolean): void {
    if (!live && !this.live && this.entries.size === 0) return
    this.flush()
    this.live = live
  }
}
