import { assert, describe, it, layer } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import { Redis } from "ioredis"
import { ArchiveIdentityMismatch } from "../../src/history/archiveIdentity.ts"
import { HistoryStore } from "../../src/history/HistoryStore.ts"
import * as MemoryHistoryStore from "../../src/history/MemoryHistoryStore.ts"
import * as TieredStore from "../../src/history/TieredStore.ts"
import { MemoryStore } from "../../src/store/memory/MemoryStore.ts"
import { RedisStore } from "../../src/store/redis/RedisStore.ts"
import { Store } from "../../src/store/Store.ts"
import { TestRedis } from "../support/redisServer.ts"
import { unique } from "../store/planFixtures.ts"

/**
 * One archive per Redis (src/history/archiveIdentity.ts): the tiered store claims the Redis for
 * its history store's archive when none has, serves on the archive that claimed it, and refuses
 * to be built on a Redis another archive claimed.
 */

/** Builds the tiered store on `store` and a history store with `archiveId`; the claim's outcome. */
const tieredOn = (store: Store["Service"], archiveId: string) =>
  Layer.build(
    TieredStore.layer.pipe(
      Layer.provide(Layer.succeed(Store, store)),
      Layer.provide(Layer.succeed(HistoryStore, HistoryStore.of({ ...MemoryHistoryStore.makeMemoryHistoryStore(), archiveId: () => Effect.succeed(archiveId) })))
    )
  ).pipe(Effect.scoped, Effect.result)

const claimsOf = (store: Store["Service"]) =>
  Effect.gen(function*() {
    const first = yield* tieredOn(store, "archive-a")
    assert.strictEqual(first._tag, "Success")
    // The same archive again (a restart, another instance on the shared DATABASE_URL).
    assert.strictEqual((yield* tieredOn(store, "archive-a"))._tag, "Success")
    const other = yield* tieredOn(store, "archive-b")
    assert.isTrue(other._tag === "Failure" && other.failure instanceof ArchiveIdentityMismatch)
    const mismatch = (other as { failure: ArchiveIdentityMismatch }).failure
    assert.deepInclude(mismatch, { redisArchiveId: "archive-a", localArchiveId: "archive-b" })
    assert.include(mismatch.message, "this Redis belongs to archive archive-a, but this instance's history store is archive archive-b")
    // The refused one claimed nothing.
    assert.strictEqual(yield* store.claimArchiveId("archive-c"), "archive-a")
  })

describe("archive identity on the memory store", () => {
  it.effect("the first archive claims the store; the same one is served, another refused", () => claimsOf(MemoryStore.make()))

  it.effect("each memory history store is an archive of its own", () =>
    Effect.gen(function*() {
      const a = yield* MemoryHistoryStore.makeMemoryHistoryStore().archiveId()
      const b = yield* MemoryHistoryStore.makeMemoryHistoryStore().archiveId()
      assert.notStrictEqual(a, b)
    }))
})

layer(TestRedis.layer, { timeout: 60_000 })("archive identity on Redis", (it) => {
  const redisStore = (keyPrefix: string) =>
    Effect.gen(function*() {
      const redis = yield* TestRedis
      return yield* Effect.map(
        Layer.build(RedisStore.layer({ url: redis.url, keyPrefix, commandTimeoutMs: 2_000, retryAttempts: 2 })),
        Context.get(Store)
      )
    })

  it.effect("the first archive claims the Redis (P archive:id); the same one is served, another refused", () =>
    Effect.scoped(Effect.gen(function*() {
      const prefix = `${unique("identity")}:`
      yield* claimsOf(yield* redisStore(prefix))
      // What another instance on the same Redis reads: the claim, kept in Redis.
      assert.strictEqual(yield* (yield* redisStore(prefix)).claimArchiveId("archive-d"), "archive-a")
      const redis = yield* TestRedis
      assert.strictEqual(yield* Effect.promise(() => readKey(redis.url, `${prefix}archive:id`)), "archive-a")
    })))

  it.effect("instances racing to claim one Redis: exactly one archive wins, and every one of them is told which", () =>
    Effect.scoped(Effect.gen(function*() {
      const prefix = `${unique("identity-race")}:`
      const stores = yield* Effect.forEach([0, 1, 2, 3, 4, 5], () => redisStore(prefix))
      const held = yield* Effect.forEach(stores, (s, i) => s.claimArchiveId(`archive-${i}`), { concurrency: "unbounded" })
      assert.lengthOf(new Set(held), 1)
      assert.include(stores.map((_, i) => `archive-${i}`), held[0]!)
    })))
})

const readKey = async (url: string, key: string) => {
  const client = new Redis(url)
  try {
    return await client.get(key)
  } finally {
    client.disconnect()
  }
}
