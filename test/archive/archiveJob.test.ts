import { assert, layer } from "@effect/vitest"
import { ConfigProvider, Context, Effect, Layer } from "effect"
import { HistoryStore } from "../../src/history/HistoryStore.ts"
import * as TieredStore from "../../src/history/TieredStore.ts"
import { ArchiveJob } from "../../src/jobs/ArchiveJob.ts"
import { Metrics } from "../../src/observability/Metrics.ts"
import { RedisStore } from "../../src/store/redis/RedisStore.ts"
import { Store } from "../../src/store/Store.ts"
import { freshDatabase } from "../support/historyFixtures.ts"
import { ledgerOn } from "../support/ledgerLayers.ts"
import { TestPostgres } from "../support/postgresServer.ts"
import { TestRedis } from "../support/redisServer.ts"
import { playRound } from "../support/smallGame.ts"
import { eventually, unique } from "../store/planFixtures.ts"

const withConfig = (values: Record<string, string>) => ConfigProvider.layer(ConfigProvider.fromUnknown(values))

/** The archive job over a fresh database and a Redis namespace, with these settings; the books and a second view of the history store. */
const jobWith = (namespace: string, settings: Record<string, string>) =>
  Effect.gen(function*() {
    const redis = yield* TestRedis
    const url = yield* freshDatabase
    const historyLayer = HistoryStore.layer(url)
    const books = yield* Layer.build(
      ArchiveJob.pipe(
        Layer.provideMerge(ledgerOn(TieredStore.layer.pipe(
          Layer.provide(RedisStore.layer({ url: redis.url, keyPrefix: unique(namespace) + ":" })),
          Layer.provide(historyLayer)
        ))),
        Layer.provideMerge(historyLayer),
        Layer.provide(withConfig({ HISTORY_ARCHIVE: "on", DATABASE_URL: url, ...settings }))
      )
    )
    const history = yield* Effect.map(Layer.build(HistoryStore.layer(url)), Context.get(HistoryStore))
    return { books, history }
  })

layer(Layer.mergeAll(TestRedis.layer, TestPostgres.layer), { timeout: 120_000, excludeTestServices: true })("ArchiveJob", (it) => {
  it.effect("HISTORY_ARCHIVE=on with DATABASE_URL: the job archives what the game writes, pass after pass", () =>
    Effect.gen(function*() {
      const { books, history } = yield* jobWith("job", { ARCHIVE_INTERVAL_MS: "50", ARCHIVE_BATCH_EVENTS: "5" })
      yield* Effect.gen(function*() {
        const store = yield* Store
        yield* playRound(1)
        const inRedis = yield* store.entries("w:alice", 0, 1000)
        yield* eventually(history.entries("w:alice", 0, 1000), (es) => es.length === inRedis.length, 30_000)
        yield* playRound(2)
        const more = yield* store.entries("w:bob", 0, 1000)
        const archived = yield* eventually(history.entries("w:bob", 0, 1000), (es) => es.length === more.length, 30_000)
        assert.deepStrictEqual(archived, more)
      }).pipe(Effect.provide(books))
    }))

  it.effect("CLOSED_RETENTION_MS reaches the job: with 0, closed pots and reservations leave Redis once archived", () =>
    Effect.gen(function*() {
      const { books, history } = yield* jobWith("jobretire", { ARCHIVE_INTERVAL_MS: "50", CLOSED_RETENTION_MS: "0" })
      yield* Effect.gen(function*() {
        const store = yield* Store
        yield* playRound(1)
        const pot = "p:t1:r1-h1"
        yield* eventually(history.closedObject(pot), (c) => c?.retiredAt != null, 30_000)
        assert.deepStrictEqual((yield* store.closedAccounts(0, null, 10)).items.includes(pot), false)
        assert.strictEqual((yield* store.load([pot])).objects.get(pot)?.value?.kind, "pot", "read from the archive")
      }).pipe(Effect.provide(books))
    }))

  it.effect("HISTORY_ARCHIVE=off: no history store is started, nothing is archived", () =>
    Effect.gen(function*() {
      const redis = yield* TestRedis
      const books = yield* Layer.build(
        ArchiveJob.pipe(
          Layer.provideMerge(ledgerOn(RedisStore.layer({ url: redis.url, keyPrefix: unique("off") + ":" }))),
          Layer.provideMerge(HistoryStore.disabled),
          Layer.provide(withConfig({ HISTORY_ARCHIVE: "off" }))
        )
      )
      // No archiver was made (it registers its metrics).
      const { registry } = Context.get(books, Metrics)
      assert.isUndefined(registry.getSingleMetric("balance_archive_passes_total"))
    }))
})
