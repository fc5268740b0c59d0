/**
 * Group commit: applies that arrive in one turn of the event loop go to Redis as one apply.lua
 * call. The property: random concurrent applies through the Redis store give the same outcomes,
 * one by one, and the same books as the memory store applying them one after the other, in the
 * order they were submitted (the batcher keeps it; each plan sees the writes of those before it).
 * And the batcher's own contract: caps, order, one failure for the whole batch.
 */
import { assert, describe, it, layer } from "@effect/vitest"
import { Effect, Layer } from "effect"
import * as fc from "fast-check"
import type { Plan } from "../../src/domain/plan.ts"
import { Metrics } from "../../src/observability/Metrics.ts"
import { MemoryStore } from "../../src/store/memory/MemoryStore.ts"
import { APPLY_BATCH_SIZE_METRIC } from "../../src/store/redis/applyBatchMetrics.ts"
import { makeApplyBatcher } from "../../src/store/redis/applyBatcher.ts"
import { RedisStore } from "../../src/store/redis/RedisStore.ts"
import type { ScriptCall } from "../../src/store/redis/scriptLayout.ts"
import { type ApplyRequest, type IdempotencyRecord, Store } from "../../src/store/Store.ts"
import { TestRedis } from "../support/redisServer.ts"
import { fingerprintOf } from "../support/fingerprints.ts"
import { FINGERPRINT_COMPARED } from "../../src/domain/fingerprint.ts"

const KEYS = ["w:0", "w:1", "w:2", "w:3"]
const SAFE = Number.MAX_SAFE_INTEGER

/** A request over a few keys: expected versions near the truth (so some apply, some conflict), keys reused. */
const requestArbitrary: fc.Arbitrary<ApplyRequest> = fc
  .record({
    touched: fc.subarray(KEYS, { minLength: 1, maxLength: 2 }),
    version: fc.nat({ max: 2 }),
    n: fc.integer({ min: -1000, max: 1000 }),
    mint: fc.oneof(fc.integer({ min: -5, max: 5 }), fc.constant(SAFE)),
    idempotency: fc.option(fc.record({ key: fc.constantFrom("k0", "k1", "k2"), fingerprint: fc.constantFrom(fingerprintOf("fa"), fingerprintOf("fb")) }), {
      nil: null
    })
  })
  .map(({ touched, version, n, mint, idempotency }): ApplyRequest => {
    const plan: Plan = {
      system: mint === 0 ? [] : [{ account: "mint", delta: mint }],
      expected: touched.map((key) => ({ key, version })),
      stats: [{ name: "minted", delta: 1 }],
      closedAccounts: [],
      expiryRemove: [],
      newAccounts: [],
      writes: touched.map((key) => ({ key, version: version + 1, value: { key, n } as never })),
      expiryAdd: [],
      entries: [],
      transfers: [],
      response: { n }
    }
    return {
      plan,
      responseJson: JSON.stringify({ n }),
      idempotency: idempotency === null ? null : { ...idempotency, ttlMs: 60_000 }
    }
  })

let namespace = 0

layer(TestRedis.layer, { excludeTestServices: true })("group commit through the Redis store", (it) => {
  it.effect("concurrent applies: the outcomes and the books of applying them one by one (memory store as oracle)", () =>
    Effect.gen(function*() {
      const server = yield* TestRedis
      let batchedCalls = 0
      let batchedPlans = 0
      const outcomesSeen = new Set<string>()
      yield* Effect.promise(() =>
        fc.assert(
          fc.asyncProperty(fc.array(requestArbitrary, { minLength: 1, maxLength: 40 }), async (requests) => {
            const metrics = Metrics.make()
            const redisStore = RedisStore.layer({
              url: server.url,
              keyPrefix: `batch${++namespace}:`,
              commandTimeoutMs: 5000,
              retryAttempts: 0,
              eventsMaxLen: 1000
            }).pipe(Layer.provide(Layer.succeed(Metrics, metrics)))
            const oracle = MemoryStore.make()
            const program = Effect.gen(function*() {
              const store = yield* Store
              // All at once: they reach the batcher in this order, in the same turn.
              const concurrent = yield* Effect.all(requests.map((r) => store.apply(r)), { concurrency: "unbounded" })
              const oneByOne = []
              for (const r of requests) oneByOne.push(yield* oracle.apply(r))
              assert.deepStrictEqual(concurrent, oneByOne)
              for (const o of concurrent) outcomesSeen.add(o._tag)
              assert.deepStrictEqual(
                Object.fromEntries((yield* store.load(KEYS)).objects),
                Object.fromEntries((yield* oracle.load(KEYS)).objects)
              )
              assert.deepStrictEqual(yield* store.systemBalances(), yield* oracle.systemBalances())
              assert.deepStrictEqual(yield* store.stats(), yield* oracle.stats())
              // The records: the same response, and fingerprints equal in their compared part (compact records keep only that).
              const compared = (record: IdempotencyRecord | null) =>
                record === null ? null : { fingerprint: record.fingerprint.slice(0, FINGERPRINT_COMPARED), response: record.response }
              for (const key of ["k0", "k1", "k2"]) {
                assert.deepStrictEqual(compared((yield* store.load([], key)).idempotency), compared((yield* oracle.load([], key)).idempotency), key)
              }
            })
            await Effect.runPromise(Effect.scoped(Effect.provide(program, redisStore)))
            const histogram = ((await metrics.registry.getSingleMetric(APPLY_BATCH_SIZE_METRIC)?.get())?.values ?? []) as ReadonlyArray<
              { readonly metricName?: string; readonly value: number }
            >
            const sum = histogram.find((v) => v.metricName === `${APPLY_BATCH_SIZE_METRIC}_sum`)?.value ?? 0
            const count = histogram.find((v) => v.metricName === `${APPLY_BATCH_SIZE_METRIC}_count`)?.value ?? 0
            // Every plan went in exactly one call.
            assert.strictEqual(sum, requests.length)
            batchedCalls += count
            batchedPlans += sum
          }),
          { numRuns: 30 }
        )
      )
      // They were batched: fewer calls than plans (runs of one request are one call each).
      assert.isBelow(batchedCalls, batchedPlans)
      // And the runs held every outcome side by side in a batch.
      assert.deepStrictEqual([...outcomesSeen].sort(), ["Applied", "Conflict", "KeyReused", "Overflow", "Replayed"])
    }), 120_000)
})

describe("the batcher", () => {
  const plan = (id: string): ScriptCall => ({ keys: [id], args: [id] })
  const recording = (options: { maxPlans?: number; maxChars?: number; fail?: boolean } = {}) => {
    const sent: Array<ReadonlyArray<string>> = []
    const batcher = makeApplyBatcher<ReadonlyArray<string>>({
      send: (plans) => {
        const ids = plans.map((p) => p.keys[0]!)
        sent.push(ids)
        return options.fail ? Promise.reject(new Error("connection lost")) : Promise.resolve(ids)
      },
      maxPlans: options.maxPlans ?? 64,
      maxChars: options.maxChars ?? 1_000_000
    })
    return { sent, batcher }
  }

  it("sends the plans of one turn as one call, in order, each told where its reply is", async () => {
    const { sent, batcher } = recording()
    const replies = await Promise.all(["a", "b", "c"].map((id) => batcher.submit(plan(id))))
    assert.deepStrictEqual(sent, [["a", "b", "c"]])
    assert.deepStrictEqual(replies.map((r) => [r.reply[r.index], r.size]), [["a", 3], ["b", 3], ["c", 3]])
    // A later turn: a call of its own.
    await batcher.submit(plan("d"))
    assert.deepStrictEqual(sent, [["a", "b", "c"], ["d"]])
  })

  it("caps a call by plans and by characters", async () => {
    const byCount = recording({ maxPlans: 2 })
    await Promise.all(["a", "b", "c", "d", "e"].map((id) => byCount.batcher.submit(plan(id))))
    assert.deepStrictEqual(byCount.sent, [["a", "b"], ["c", "d"], ["e"]])
    // Each plan is 2 characters: 5 fit in 10, a sixth starts the next call; one too big goes alone.
    const byChars = recording({ maxChars: 10 })
    await Promise.all(["a", "b", "c", "d", "e", "f", "g"].map((id) => byChars.batcher.submit(plan(id))))
    assert.deepStrictEqual(byChars.sent, [["a", "b", "c", "d", "e"], ["f", "g"]])
    const alone = recording({ maxChars: 3 })
    await Promise.all([alone.batcher.submit(plan("x")), alone.batcher.submit(plan("much-too-long")), alone.batcher.submit(plan("y"))])
    assert.deepStrictEqual(alone.sent, [["x"], ["much-too-long"], ["y"]])
  })

  it("a failed call fails every plan of its batch, and only those", async () => {
    const { sent, batcher } = recording({ fail: true })
    const results = await Promise.allSettled(["a", "b"].map((id) => batcher.submit(plan(id))))
    assert.deepStrictEqual(results.map((r) => r.status), ["rejected", "rejected"])
    assert.deepStrictEqual(results.map((r) => (r.status === "rejected" ? String(r.reason) : "")), [
      "Error: connection lost",
      "Error: connection lost"
    ])
    assert.deepStrictEqual(sent, [["a", "b"]])
  })
})
