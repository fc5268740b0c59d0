import { Effect, Layer, Schedule } from "effect"
import { Archiver } from "../../src/archive/Archiver.ts"
import { HistoryStore } from "../../src/history/HistoryStore.ts"
import * as TieredStore from "../../src/history/TieredStore.ts"
import { LedgerSettings } from "../../src/ledger/LedgerSettings.ts"
import { Metrics } from "../../src/observability/Metrics.ts"
import { RedisStore } from "../../src/store/redis/RedisStore.ts"

/**
 * The Store as HISTORY_ARCHIVE=on gives it to the service (history reads across Redis and the
 * PostgreSQL at `databaseUrl`), with an archiver moving history out of Redis and trimming it every
 * 20 ms for as long as the layer lives: API suites run on it to show that every answer is the one
 * Redis alone gives while history keeps moving under them.
 */
export const archivingStoreLayer = (redisUrl: string, keyPrefix: string, databaseUrl: string) => {
  const history = HistoryStore.layer(databaseUrl)
  const tiered = TieredStore.layer.pipe(
    Layer.provide(RedisStore.layer({ url: redisUrl, keyPrefix, commandTimeoutMs: 1000, retryAttempts: 2 })),
    Layer.provide(history)
  )
  const archiving = Layer.effectDiscard(Effect.gen(function*() {
    const archiver = yield* Archiver
    yield* Effect.forkScoped(archiver.drain().pipe(Effect.ignore, Effect.repeat(Schedule.spaced("20 millis"))))
  })).pipe(
    Layer.provide(Archiver.layerWith({ batchEvents: 50, trim: true })),
    Layer.provide(Layer.mergeAll(tiered, history, LedgerSettings.layerWith(), Metrics.layer))
  )
  return Layer.merge(tiered, archiving)
}
