import { Effect, Layer, Option } from "effect"
import { AppConfig } from "../../config.ts"
import { Metrics } from "../../observability/Metrics.ts"
import { Store } from "../Store.ts"
import { StoreUnavailable } from "../StoreErrors.ts"
import { applyBatchSizeMetric } from "./applyBatchMetrics.ts"
import { makeRedisArchiveIdentity } from "./redisArchiveIdentity.ts"
import { type RedisConnection, redisConnectionFromConfig } from "./redisConnectionOptions.ts"
import { redisKeys } from "./redisKeys.ts"
import { invalidationTracking } from "./invalidationTracking.ts"
import { readCacheMetrics } from "./readCacheMetrics.ts"
import { makeRedisReads } from "./redisReads.ts"
import { makeRedisSession } from "./redisSession.ts"
import { type RedisStoreOptions, UNCAPPED_STREAM } from "./redisStoreOptions.ts"
import { makeRedisWrites } from "./redisWrites.ts"
import { TrackedCache } from "./trackedCache.ts"

export type { RedisStoreOptions } from "./redisStoreOptions.ts"

/**
 * The Store port on Redis; the client lives as long as the surrounding scope. With READ_CACHE,
 * single-object loads come from a TrackedCache kept fresh by CLIENT TRACKING (docs/read-cache.md);
 * its counters go to the service's Prometheus registry when Metrics is provided.
 */
const make = Effect.fnUntraced(function*(options: RedisStoreOptions) {
  const session = yield* makeRedisSession(options)
  const keys = redisKeys(options.keyPrefix)
  const metrics = yield* Effect.serviceOption(Metrics)
  const onApplyBatch = Option.isSome(metrics) ? applyBatchSizeMetric(metrics.value.registry) : undefined
  const writes = makeRedisWrites(session, keys, options, onApplyBatch)
  const archiveIdentity = makeRedisArchiveIdentity(session, keys)
  if (!options.readCache) return Store.of({ ...makeRedisReads(session, keys), ...writes, ...archiveIdentity })
  const cache: TrackedCache = new TrackedCache(
    options.readCacheMaxObjects,
    Option.isSome(metrics) ? readCacheMetrics(metrics.value.registry, () => cache) : {}
  )
  const { barrier } = yield* invalidationTracking(session, options, cache)
  /**
   * Our own writes (apply, and the archiver's compaction of settled pots and retirement of closed objects) drop their objects here too, when sent and when answered: a read that was in
   * flight meanwhile (answered before the write, arriving after) cannot fill the old value back
   * in, and the next read on this instance goes to Redis without waiting for the invalidation.
   */
  const apply: typeof writes.apply = (request) => {
    const written = request.plan.writes.map((w) => keys.object(w.key))
    cache.invalidate(written)
    return Effect.ensuring(writes.apply(request), Effect.sync(() => cache.invalidate(written)))
  }
  const compactArchived: typeof writes.compactArchived = (objects) => {
    const written = objects.map((o) => keys.object(o.key))
    cache.invalidate(written)
    return Effect.ensuring(writes.compactArchived(objects), Effect.sync(() => cache.invalidate(written)))
  }
  const retireArchived: typeof writes.retireArchived = (request) => {
    const removed = request.objects.map((o) => keys.object(o.key))
    cache.invalidate(removed)
    return Effect.ensuring(writes.retireArchived(request), Effect.sync(() => cache.invalidate(removed)))
  }
  return Store.of({ ...makeRedisReads(session, keys, { cache, barrier }), ...writes, apply, compactArchived, retireArchived, ...archiveIdentity })
})

/** Where to connect, and any option that is not to come from config. */
export type RedisStoreLayerOptions =
  & Partial<Omit<RedisStoreOptions, "connection">>
  & ({ readonly url: string } | { readonly connection: RedisConnection })

/** The store on an explicit Redis (tests, LocalRedisServer, StoreLayer); unset options come from config. */
const layer = (options: RedisStoreLayerOptions) =>
  Layer.effect(
    Store,
    Effect.gen(function*() {
      return yield* make({
        connection: "connection" in options ? options.connection : { _tag: "Url", url: options.url },
        keyPrefix: options.keyPrefix ?? (yield* AppConfig.redisKeyPrefix),
        commandTimeoutMs: options.commandTimeoutMs ?? (yield* AppConfig.redisCommandTimeoutMs),
        retryAttempts: options.retryAttempts ?? (yield* AppConfig.storeRetryAttempts),
        // With the history tier on, the archiver trims the stream once PostgreSQL has it: a cap would
        // drop events not yet archived while PostgreSQL is down (the stream then grows: alert), and
        // the transfer lists reference the stream's events. Off: REDIS_EVENTS_MAXLEN, lists in full.
        eventsMaxLen: options.eventsMaxLen ??
          ((yield* AppConfig.historyArchive) === "on" ? UNCAPPED_STREAM : yield* AppConfig.redisEventsMaxLen),
        transferLists: options.transferLists ?? (yield* AppConfig.transferLists),
        minReplicasAck: options.minReplicasAck ?? (yield* AppConfig.redisMinReplicasAck),
        replicasAckTimeoutMs: options.replicasAckTimeoutMs ?? (yield* AppConfig.redisReplicasAckTimeoutMs),
        deadlineSlackMs: options.deadlineSlackMs ?? (yield* AppConfig.redisDeadlineSlackMs),
        compactIdempotency: options.compactIdempotency ?? ((yield* AppConfig.idempotencyRecords) === "compact"),
        applyBatchMaxPlans: options.applyBatchMaxPlans,
        applyBatchSchedule: options.applyBatchSchedule,
        readCache: options.readCache ?? ((yield* AppConfig.readCache) === "on"),
        readCacheMaxObjects: options.readCacheMaxObjects ?? (yield* AppConfig.readCacheMaxObjects)
      })
    })
  )

/**
 * The Store on Redis: connection and deadlines in redisSession.ts, reads in redisReads.ts, writes in
 * redisWrites.ts, the archive's claim in redisArchiveIdentity.ts.
 */
export const RedisStore = {
  layer,
  /**
   * The store on REDIS_SENTINELS or REDIS_URL (with REDIS_PASSWORD, REDIS_TLS...); one of them is
   * required here: main starts LocalRedisServer and passes its URL when neither is set.
   */
  layerConfig: Layer.unwrap(
    Effect.gen(function*() {
      const connection = yield* redisConnectionFromConfig
      if (connection === undefined) {
        return Layer.effect(
          Store,
          Effect.fail(new StoreUnavailable({ operation: "connect", reason: "REDIS_URL is not set (nor REDIS_SENTINELS)" }))
        )
      }
      return layer({ connection })
    })
  )
} as const
