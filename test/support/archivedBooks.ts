import { Effect, Layer } from "effect"
import { Archiver } from "../../src/archive/Archiver.ts"
import { HistoryStore } from "../../src/history/HistoryStore.ts"
import * as TieredStore from "../../src/history/TieredStore.ts"
import type { LedgerSettings } from "../../src/ledger/LedgerSettings.ts"
import { RedisStore } from "../../src/store/redis/RedisStore.ts"
import { ledgerOn } from "./ledgerLayers.ts"
import { TestRedis } from "./redisServer.ts"

/**
 * The service's books as HISTORY_ARCHIVE=on builds them, on the test Redis (namespace `prefix`)
 * and the database at `databaseUrl`: the ledger and verifier reading through the tiered store, an
 * archiver (trimming unless told otherwise), and the history store itself. Built in the caller's scope.
 */
export const openArchivedBooks = (
  prefix: string,
  databaseUrl: string,
  options: {
    readonly trim?: boolean
    readonly batchEvents?: number
    /** Closed objects past this leave Redis at each drain (Archiver.retire); undefined: never. */
    readonly retentionMs?: number
    readonly owner?: string
    readonly settings?: Partial<LedgerSettings["Service"]>
  } = {}
) =>
  Effect.gen(function*() {
    const redis = yield* TestRedis
    const history = HistoryStore.layer(databaseUrl)
    return yield* Layer.build(
      Archiver.layerWith({
        batchEvents: options.batchEvents ?? 5,
        trim: options.trim ?? true,
        retentionMs: options.retentionMs,
        ...(options.owner === undefined ? {} : { owner: options.owner })
      }).pipe(
        Layer.provideMerge(ledgerOn(
          TieredStore.layer.pipe(
            Layer.provide(RedisStore.layer({ url: redis.url, keyPrefix: prefix, retryAttempts: 3, commandTimeoutMs: 5_000 })),
            Layer.provide(history)
          ),
          options.settings
        )),
        Layer.provideMerge(history)
      )
    )
  })
