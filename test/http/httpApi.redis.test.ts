import { Effect, Layer } from "effect"
import { RedisStore } from "../../src/store/redis/RedisStore.ts"
import { TestRedis } from "../support/redisServer.ts"
import { httpApiSuite } from "./support/httpApiSuite.ts"

// A private redis-server on a free port (never 6379), started for this file and removed after it.
const store = Layer.unwrap(
  Effect.map(TestRedis, (server) => RedisStore.layer({ url: server.url, keyPrefix: "http-test:" }))
).pipe(Layer.provide(TestRedis.layer))

httpApiSuite("Redis store", store)
