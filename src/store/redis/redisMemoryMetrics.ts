import { Effect, Layer } from "effect"
import * as Prom from "prom-client"
import { AppConfig } from "../../config.ts"
import { everyInterval } from "../../scheduling/everyInterval.ts"
import { Store } from "../Store.ts"
import { Metrics } from "../../observability/Metrics.ts"

/**
 * Redis' memory (INFO memory's used_memory and maxmemory), sampled every
 * REDIS_MEMORY_SAMPLE_MS rather than read on scrape: a scrape never waits on
 * Redis, and every instance reports the same server's figures (aggregate with
 * max). With the archive on, used memory levels off once the idempotency
 * records' TTL has passed; a steady climb means the archiver is not trimming
 * (PostgreSQL down, continuity stops) or the history tier is off, and under
 * `noeviction` a full Redis refuses every debit (BalanceRedisMemoryHigh). A
 * sample that fails keeps the last figures (balance_store_up says whether
 * Redis answers). Nothing on a store without a server (the memory store).
 */
export const RedisMemoryMetricsLayer = Layer.effectDiscard(Effect.gen(function*() {
  const store = yield* Store
  const sample = store.serverMemory
  if (sample === undefined) return
  const { registry } = yield* Metrics
  const used = new Prom.Gauge({
    name: "balance_redis_used_memory_bytes",
    help: "Redis used_memory (INFO memory) in bytes, sampled every REDIS_MEMORY_SAMPLE_MS",
    registers: [registry]
  })
  const max = new Prom.Gauge({
    name: "balance_redis_maxmemory_bytes",
    help: "Redis maxmemory (INFO memory) in bytes; 0: no limit (then only the host's RAM stops it)",
    registers: [registry]
  })
  const intervalMs = yield* AppConfig.redisMemorySampleMs
  yield* everyInterval(
    "Redis memory sampling",
    intervalMs,
    sample().pipe(
      Effect.tap(({ usedBytes, maxBytes }) =>
        Effect.sync(() => {
          used.set(usedBytes)
          max.set(maxBytes)
        })
      ),
      // Redis down: the outage is reported elsewhere (store up, UNAVAILABLE answers); not one line per sample.
      Effect.catchTag("StoreUnavailable", () => Effect.void)
    )
  )
}))
