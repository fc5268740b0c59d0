import { afterAll, beforeAll } from "vitest"
import { RedisStore } from "../../src/store/redis/RedisStore.ts"
import { startTestRedisServer, type TestRedisServer } from "../support/redisServer.ts"
import { describeHttpApi } from "./support/httpApiSuite.ts"

// A private redis-server on a free port (never 6379), started before the suite's server.
let redis: TestRedisServer
beforeAll(async () => {
  redis = await startTestRedisServer()
})
afterAll(async () => {
  await redis.dispose()
})

describeHttpApi("Redis store", () => RedisStore.layer({ url: redis.url, keyPrefix: "http-test:" }))
