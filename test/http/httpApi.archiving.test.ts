import { Effect, Layer } from "effect"
import { afterAll, beforeAll } from "vitest"
import { archivingStoreLayer } from "../support/archivingStore.ts"
import { freshDatabase } from "../support/historyFixtures.ts"
import { startTestPostgresServer, TestPostgres, type TestPostgresServer } from "../support/postgresServer.ts"
import { startTestRedisServer, type TestRedisServer } from "../support/redisServer.ts"
import { describeHttpApi } from "./support/httpApiSuite.ts"

// The HTTP suite (transactions and ledger pages, admin transfers, supply, errors) with history
// archived to PostgreSQL and trimmed from Redis every 20 ms while it runs.
let redis: TestRedisServer
let postgres: TestPostgresServer
let databaseUrl: string
beforeAll(async () => {
  ;[redis, postgres] = await Promise.all([startTestRedisServer(), startTestPostgresServer()])
  databaseUrl = await Effect.runPromise(freshDatabase.pipe(Effect.provide(Layer.succeed(TestPostgres, postgres))))
})
afterAll(async () => {
  await Promise.all([redis.dispose(), postgres.dispose()])
})

describeHttpApi("Redis store, history archived and trimmed continuously", () =>
  archivingStoreLayer(redis.url, "http-archiving:", databaseUrl))
