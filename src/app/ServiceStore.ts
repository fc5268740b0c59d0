import { Effect, Layer } from "effect"
import { AppConfig } from "../config.ts"
import { MemoryStore } from "../store/memory/MemoryStore.ts"
import { LocalRedisServer } from "../store/redis/LocalRedisServer.ts"
import {
  describeRedisConnection,
  InvalidRedisSettings,
  redisConnectionFromConfig
} from "../store/redis/redisConnectionOptions.ts"
import { RedisStore } from "../store/redis/RedisStore.ts"
import { HistoryStore } from "../history/HistoryStore.ts"
import * as TieredStore from "../history/TieredStore.ts"
import { refuseArchivedRedis } from "../history/archiveIdentity.ts"
import { Store } from "../store/Store.ts"
import * as ServiceHistoryStore from "./ServiceHistoryStore.ts"

/**
 * Chooses the store: BALANCE_STORE=memory (volatile, said loudly),
 * REDIS_SENTINELS when set (the primary is asked of the sentinels, again after
 * a failover), else REDIS_URL, otherwise a private redis-server under
 * DATA_DIR that lives and dies with the service.
 */
export const ledgerStore = Layer.unwrap(
  Effect.gen(function*() {
    const kind = yield* AppConfig.store
    if (kind === "memory") {
      return Layer.mergeAll(
        MemoryStore.layer,
        Layer.effectDiscard(Effect.logWarning(
          "BALANCE_STORE=memory: balances live in this process only and are LOST on exit; never use this in production"
        ))
      )
    }
    const connection = yield* redisConnectionFromConfig
    if (connection !== undefined) {
      if (connection._tag === "Sentinel" && (yield* AppConfig.redisUrl) !== undefined) {
        yield* Effect.logWarning("REDIS_SENTINELS is set: REDIS_URL is ignored")
      }
      yield* Effect.logInfo("Redis store").pipe(
        Effect.annotateLogs({
          redis: describeRedisConnection(connection),
          minReplicasAck: yield* AppConfig.redisMinReplicasAck
        })
      )
      return RedisStore.layer({ connection })
    }
    // The private redis-server has no replicas: waiting for any would refuse every write.
    const minReplicasAck = yield* AppConfig.redisMinReplicasAck
    if (minReplicasAck > 0) {
      return yield* new InvalidRedisSettings({
        variable: "REDIS_MIN_REPLICAS_ACK",
        reason: `${minReplicasAck} replicas requested, but without REDIS_URL or REDIS_SENTINELS the service runs ` +
          "its own redis-server, which has none; set REDIS_URL/REDIS_SENTINELS or REDIS_MIN_REPLICAS_ACK=0"
      })
    }
    return Layer.unwrap(Effect.gen(function*() {
      const local = yield* LocalRedisServer
      return RedisStore.layer({ url: local.url })
    })).pipe(
      Layer.provide(LocalRedisServer.layer)
    )
  })
)

/**
 * The default HISTORY_ARCHIVE turned off (config.ts historyArchiveDefault): one line at start saying
 * why, and what to set to have the history archived.
 */
const warnArchiveOffByDefault = Effect.logWarning(
  "HISTORY_ARCHIVE is off: Redis is shared (REDIS_URL/REDIS_SENTINELS) and DATABASE_URL is not set, so the " +
    "whole history stays in Redis and it grows with every movement. Set DATABASE_URL to a PostgreSQL that every " +
    "instance on this Redis shares to archive it (HISTORY_ARCHIVE=on without DATABASE_URL is for a single " +
    "instance only, with its private PostgreSQL under DATA_DIR)"
)

const withoutHistory = Layer.merge(ledgerStore, HistoryStore.disabled)
/** Without the history tier on Redis: refused on a Redis whose history an archive holds in part (archiveIdentity.ts). */
const withoutHistoryOnRedis = Layer.effectDiscard(Store.use(refuseArchivedRedis)).pipe(Layer.provideMerge(withoutHistory))
const tiered = TieredStore.layer.pipe(Layer.provide(ledgerStore), Layer.provideMerge(ServiceHistoryStore.layer))

type ServiceStoreLayer = Layer.Layer<
  Store | HistoryStore,
  Layer.Error<typeof withoutHistory> | Layer.Error<typeof withoutHistoryOnRedis> | Layer.Error<typeof tiered>
>

/**
 * The store the service runs on: the ledger's store, and with HISTORY_ARCHIVE=on (and a Redis store) the
 * history store too, the Store answering history reads from both tiers (TieredStore, which first
 * claims this Redis for the history store's archive: one archive per Redis).
 */
export const layer = Layer.unwrap(
  Effect.gen(function*() {
    if ((yield* AppConfig.historyArchive) === "off") {
      if ((yield* AppConfig.store) !== "redis") return withoutHistory as ServiceStoreLayer
      if (!(yield* AppConfig.historyArchiveSet)) yield* warnArchiveOffByDefault
      return withoutHistoryOnRedis as ServiceStoreLayer
    }
    if ((yield* AppConfig.store) === "memory") {
      // The default `on` says nothing here; an explicit one is worth a warning.
      if (yield* AppConfig.historyArchiveSet) {
        yield* Effect.logWarning("HISTORY_ARCHIVE=on is ignored with BALANCE_STORE=memory: a volatile store has no history to keep")
      }
      return withoutHistory as ServiceStoreLayer
    }
    return tiered as ServiceStoreLayer
  })
)
