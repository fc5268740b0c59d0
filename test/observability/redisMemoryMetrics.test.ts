import { assert, layer } from "@effect/vitest"
import { Redis } from "ioredis"
import { ConfigProvider, Effect, Layer } from "effect"
import { Metrics } from "../../src/observability/Metrics.ts"
import { RedisMemoryMetricsLayer } from "../../src/store/redis/redisMemoryMetrics.ts"
import { MemoryStore } from "../../src/store/memory/MemoryStore.ts"
import { RedisStore } from "../../src/store/redis/RedisStore.ts"
import { eventuallyEffect } from "../support/eventually.ts"
import { TestRedis } from "../support/redisServer.ts"

const sampleEvery50ms = ConfigProvider.layer(ConfigProvider.fromUnknown({ REDIS_MEMORY_SAMPLE_MS: "50" }))

/** A gauge's value as the registry renders it (undefined when the series is not registered or not set yet). */
const gauge = (name: string) =>
  Effect.gen(function*() {
    const { registry } = yield* Metrics
    const text = yield* Effect.promise(() => registry.metrics())
    const line = text.split("\n").find((l) => l.startsWith(`${name} `))
    return line === undefined ? undefined : Number(line.split(" ")[1])
  })
const usedMemoryGauge = gauge("balance_redis_used_memory_bytes")

const redisClient = Effect.acquireRelease(
  Effect.gen(function*() {
    return new Redis((yield* TestRedis).url)
  }),
  (client) => Effect.promise(() => client.quit())
)

const onTestRedis = RedisMemoryMetricsLayer.pipe(
  Layer.provideMerge(Layer.unwrap(Effect.gen(function*() {
    return RedisStore.layer({ url: (yield* TestRedis).url, keyPrefix: "rmm:" })
  }))),
  Layer.provideMerge(Metrics.layer),
  Layer.provide(sampleEvery50ms)
)

// Live clock: the sampler sleeps between samples.
layer(TestRedis.layer, { timeout: 30_000, excludeTestServices: true })("balance_redis_used_memory_bytes / balance_redis_maxmemory_bytes", (it) => {
  it.effect("follow Redis' INFO memory: used_memory grows by what a large value takes; maxmemory as configured", () =>
    Effect.gen(function*() {
      const redis = yield* redisClient
      const before = yield* eventuallyEffect("a first sample", Effect.map(usedMemoryGauge, (v) => v !== undefined && v > 0 ? v : undefined))
      const direct = Number(/^used_memory:(\d+)/m.exec(yield* Effect.promise(() => redis.info("memory")))![1])
      // The same server measured a moment apart: within a megabyte.
      assert.isBelow(Math.abs(direct - before), 1_000_000)
      yield* Effect.promise(() => redis.set("rmm-test:big", "x".repeat(8_000_000)))
      const after = yield* eventuallyEffect(
        "the gauge to show the 8 MB value",
        Effect.map(usedMemoryGauge, (v) => v !== undefined && v > before + 7_000_000 ? v : undefined)
      )
      assert.isAbove(after, before + 7_000_000)
      const maxmemory = Number((yield* Effect.promise(() => redis.config("GET", "maxmemory") as Promise<Array<string>>))[1])
      assert.strictEqual(yield* gauge("balance_redis_maxmemory_bytes"), maxmemory)
    }).pipe(Effect.provide(onTestRedis), Effect.scoped))
})

layer(Layer.empty)("balance_redis_used_memory_bytes on the memory store", (it) => {
  it.effect("are not registered: the memory store has no server to measure", () =>
    Effect.gen(function*() {
      assert.strictEqual(yield* usedMemoryGauge, undefined)
      assert.strictEqual(yield* gauge("balance_redis_maxmemory_bytes"), undefined)
    }).pipe(Effect.provide(RedisMemoryMetricsLayer.pipe(
      Layer.provideMerge(MemoryStore.layer),
      Layer.provideMerge(Metrics.layer),
      Layer.provide(sampleEvery50ms)
    ))))
})
