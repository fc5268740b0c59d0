import { Effect, Layer } from "effect"
import { RedisStore } from "../../src/store/redis/RedisStore.ts"
import { TestRedis } from "../support/redisServer.ts"
import { balanceContract } from "./balanceContract.ts"

// A private redis-server on a free port (never 6379), started for this file and removed after it.
const store = Layer.unwrap(
  Effect.map(TestRedis, (server) =>
    RedisStore.layer({ url: server.url, keyPrefix: "grpc-contract:", commandTimeoutMs: 1000, retryAttempts: 2, eventsMaxLen: 10_000 }))
).pipe(Layer.provide(TestRedis.layer))

balanceContract("redis store", store)
