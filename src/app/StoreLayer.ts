import { Effect, Layer } from "effect"
import { AppConfig } from "../config.ts"
import { MemoryStoreLayer } from "../store/memory/MemoryStore.ts"
import { LocalRedisServer } from "../store/redis/LocalRedisServer.ts"
import { redisStoreLayer } from "../store/redis/RedisStore.ts"

/**
 * Chooses the store: BALANCE_STORE=memory (volatile, said loudly), REDIS_URL
 * when set, otherwise a private redis-server under DATA_DIR that lives and
 * dies with the service.
 */
export const StoreLayer = Layer.unwrap(
  Effect.gen(function*() {
    const kind = yield* AppConfig.store
    if (kind === "memory") {
      return Layer.mergeAll(
        MemoryStoreLayer,
        Layer.effectDiscard(Effect.logWarning(
          "BALANCE_STORE=memory: balances live in this process only and are LOST on exit; never use this in production"
        ))
      )
    }
    const url = yield* AppConfig.redisUrl
    if (url !== undefined) return redisStoreLayer({ url })
    return Layer.unwrap(Effect.gen(function*() {
      const local = yield* LocalRedisServer
      return redisStoreLayer({ url: local.url })
    })).pipe(
      Layer.provide(LocalRedisServer.layer)
    )
  })
)
