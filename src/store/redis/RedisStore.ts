import { Effect, Layer } from "effect"
import { AppConfig } from "../../config.ts"
import { Store } from "../Store.ts"
import { StoreUnavailable } from "../StoreErrors.ts"
import { makeRedisArchiveIdentity } from "./redisArchiveIdentity.ts"
import { type RedisConnection, redisConnectionFromConfig } from "./redisConnectionOptions.ts"
import { redisKeys } from "./redisKeys.ts"
import { makeRedisReads } from "./redisReads.ts"
import { makeRedisSession } from "./redisSession.ts"
import type { RedisStoreOptions } from "./redisStoreOptions.ts"
import { makeRedisWrites } from "./redisWrites.ts"

export type { RedisStoreOptions } from "./redisStoreOptions.ts"

/** The Store port on Redis; the client lives as long as the surrounding scope. */
const make = Effect.fnUntraced(function*(options: RedisStoreOptions) {
  const session = yield* makeRedisSession(options)
  const keys = redisKeys(options.keyPrefix)
  return Store.of({
    ...makeRedisReads(session, keys),
    ...makeRedisWrites(session, keys, options),
    ...makeRedisArchiveIdentity(session, keys)
  })
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
        eventsMaxLen: options.eventsMaxLen ?? (yield* AppConfig.redisEventsMaxLen),
        minReplicasAck: options.minReplicasAck ?? (yield* AppConfig.redisMinReplicasAck),
        replicasAckTimeoutMs: options.replicasAckTimeoutMs ?? (yield* AppConfig.redisReplicasAckTimeoutMs),
        deadlineSlackMs: options.deadlineSlackMs ?? (yield* AppConfig.redisDeadlineSlackMs),
        compactIdempotency: options.compactIdempotency ?? ((yield* AppConfig.idempotencyRecords) === "compact")
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
