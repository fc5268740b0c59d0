import { Effect, Layer } from "effect"
import { archivingStoreLayer } from "../support/archivingStore.ts"
import { freshDatabase } from "../support/historyFixtures.ts"
import { TestPostgres } from "../support/postgresServer.ts"
import { TestRedis } from "../support/redisServer.ts"
import { httpApiSuite } from "./support/httpApiSuite.ts"

// The HTTP suite (transactions and ledger pages, admin transfers, supply, errors) with history
// archived to PostgreSQL and trimmed from Redis every 20 ms while it runs.
const store = Layer.unwrap(
  Effect.gen(function*() {
    const server = yield* TestRedis
    return archivingStoreLayer(server.url, "http-archiving:", yield* freshDatabase)
  })
).pipe(Layer.provide(Layer.mergeAll(TestRedis.layer, TestPostgres.layer)))

httpApiSuite("Redis store, history archived and trimmed continuously", store)
