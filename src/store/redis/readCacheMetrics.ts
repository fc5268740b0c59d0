import * as Prom from "prom-client"
import { tallyingCounter, tallyOf } from "../../observability/Metrics.ts"
import type { TrackedCacheCounters } from "./trackedCache.ts"

/**
 * The read cache's instruments (READ_CACHE, docs/read-cache.md), on the service's registry when
 * there is one: hits and misses of single-object loads, keys invalidated, whole-cache flushes,
 * and the size and liveness read at scrape time.
 */
export const readCacheMetrics = (
  registry: Prom.Registry,
  cache: () => { readonly size: number; readonly isLive: boolean }
): TrackedCacheCounters => {
  const registers = [registry]
  const lookups = tallyingCounter({
    name: "balance_read_cache_lookups_total",
    help: "Single-object loads by whether the read cache answered (hit) or Redis did (miss)",
    labelNames: ["result"],
    registers
  })
  const invalidations = new Prom.Counter({
    name: "balance_read_cache_invalidations_total",
    help: "Cached objects dropped because Redis (CLIENT TRACKING) or this instance's own write changed them",
    registers
  })
  const flushes = new Prom.Counter({
    name: "balance_read_cache_flushes_total",
    help: "Whole read cache dropped: tracking lost or re-established (reconnect, failover), or FLUSHALL/FLUSHDB",
    registers
  })
  new Prom.Gauge({
    name: "balance_read_cache_objects",
    help: "Objects held by the read cache",
    registers,
    collect() {
      this.set(cache().size)
    }
  })
  new Prom.Gauge({
    name: "balance_read_cache_live",
    help: "1 while Redis tracks this instance's cached reads (the cache answers), 0 while every read goes to Redis",
    registers,
    collect() {
      this.set(cache().isLive ? 1 : 0)
    }
  })
  lookups.inc({ result: "hit" }, 0)
  lookups.inc({ result: "miss" }, 0)
  return {
    // One per read: tallies, added to the counter when it is scraped.
    hit: tallyOf(lookups, { result: "hit" }),
    miss: tallyOf(lookups, { result: "miss" }),
    invalidated: (n) => invalidations.inc(n),
    flushed: () => flushes.inc()
  }
}
