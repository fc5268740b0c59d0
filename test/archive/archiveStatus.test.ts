import { assert, describe, it, layer } from "@effect/vitest"
import { Clock, Effect, Layer } from "effect"
import { TestClock } from "effect/testing"
import { Archiver } from "../../src/archive/Archiver.ts"
import { ArchiveStatus, type ArchiveStatusReport } from "../../src/archive/ArchiveStatus.ts"
import { HistoryStore } from "../../src/history/HistoryStore.ts"
import * as MemoryHistoryStore from "../../src/history/MemoryHistoryStore.ts"
import * as TieredStore from "../../src/history/TieredStore.ts"
import { MemoryStore } from "../../src/store/memory/MemoryStore.ts"
import { RedisStore } from "../../src/store/redis/RedisStore.ts"
import { type Store as StoreService, Store } from "../../src/store/Store.ts"
import { freshDatabase } from "../support/historyFixtures.ts"
import { ledgerOn } from "../support/ledgerLayers.ts"
import { TestPostgres } from "../support/postgresServer.ts"
import { TestRedis } from "../support/redisServer.ts"
import { playRound } from "../support/smallGame.ts"
import { unique } from "../store/planFixtures.ts"

const options = { database: "external" as const, laggingAfterMs: 3_000 }

/** Ledger, archiver (trimming) and archive status over `store` and `history`, as the service wires them. */
const booksOn = <E1, R1, E2, R2>(store: Layer.Layer<StoreService, E1, R1>, history: Layer.Layer<HistoryStore, E2, R2>) =>
  Layer.mergeAll(ArchiveStatus.layer(options), Archiver.layerWith({ batchEvents: 5, owner: "archiver-a", trim: true })).pipe(
    // One history layer (built once, shared: layers are memoized by reference) for the tiered reads and the rest.
    Layer.provideMerge(ledgerOn(TieredStore.layer.pipe(Layer.provide(store), Layer.provide(history)))),
    Layer.provideMerge(history)
  )

/** What Redis' stream holds now, counted independently of the status: entries and transfers. */
const streamTotals = Effect.gen(function*() {
  const events = yield* (yield* Store).eventsAfter("0", 100_000)
  return {
    entries: events.reduce((n, e) => n + e.entries.length, 0),
    transfers: events.reduce((n, e) => n + e.transfers.length, 0),
    oldestMs: Number(events[0]!.id.split("-")[0])
  }
})

const running = (report: ArchiveStatusReport) => {
  assert.notStrictEqual(report.state, "NOT_CONFIGURED")
  return report as Exclude<ArchiveStatusReport, { state: "NOT_CONFIGURED" }>
}

/** The same story on both history stores: lag before, rows and leader after, a stop when one is recorded. */
const statusStory = (timed: boolean) =>
  Effect.gen(function*() {
    const status = yield* ArchiveStatus
    yield* playRound(1)
    const totals = yield* streamTotals
    if (timed) yield* TestClock.adjust(5_000)
    const before = running(yield* status.status())
    assert.strictEqual(before.lagEntries, totals.entries, "every entry of the stream is waiting")
    assert.strictEqual(before.archivedEntries, 0)
    assert.strictEqual(before.archivedTransfers, 0)
    assert.isNull(before.lastBatchAt)
    assert.isNull(before.leader, "no archiver has taken the lease yet")
    assert.deepStrictEqual(before.continuityStops, [])
    if (timed) {
      const now = yield* Clock.currentTimeMillis
      assert.isAbove(now - totals.oldestMs, options.laggingAfterMs, "the clock moved 5 s on since the game")
      assert.strictEqual(before.lagSeconds, (now - totals.oldestMs) / 1000, "the age of the oldest unarchived event")
      assert.strictEqual(before.state, "LAGGING")
      assert.include(before.message, "no instance holds the archiver lease")
    } else {
      assert.isAbove(before.lagSeconds, 0)
    }

    yield* (yield* Archiver).drain()
    const after = running(yield* status.status())
    assert.deepStrictEqual(
      { ...after, lastBatchAt: null, message: "" },
      {
        state: "ACTIVE",
        database: "external",
        lagEntries: 0,
        lagSeconds: 0,
        archivedEntries: totals.entries,
        archivedTransfers: totals.transfers,
        lastBatchAt: null,
        leader: { owner: "archiver-a", fencingToken: 1 },
        continuityStops: [],
        message: ""
      }
    )
    assert.isNotNull(after.lastBatchAt, "a batch committed")
    assert.isAtLeast(after.lastBatchAt!, totals.oldestMs)

    // A recorded continuity stop (as the archiver records one) turns the archive STOPPED.
    const history = yield* HistoryStore
    const { cursor } = yield* history.state()
    yield* history.commit({
      fencingToken: 1, fromCursor: cursor, toCursor: cursor, entries: [], transfers: [], closed: [],
      stops: [{ account: "w:alice", seq: 7, reason: "checksum differs from the archived entry" }]
    })
    const stopped = running(yield* status.status())
    assert.strictEqual(stopped.state, "STOPPED")
    assert.deepStrictEqual(stopped.continuityStops, [{ account: "w:alice", detail: "seq 7: checksum differs from the archived entry" }])
    assert.include(stopped.message, "1 account(s)")
  })

describe("ArchiveStatus on the memory stores", () => {
  it.effect("lag, rows archived, last batch, leader and continuity stops, as the archiver leaves them", () =>
    statusStory(true).pipe(Effect.provide(Layer.mergeAll(booksOn(MemoryStore.layer, MemoryHistoryStore.layer), TestClock.layer()))))

  it.effect("NOT_CONFIGURED without a history store", () =>
    Effect.gen(function*() {
      const report = yield* (yield* ArchiveStatus).status()
      assert.strictEqual(report.state, "NOT_CONFIGURED")
    }).pipe(Effect.provide(ArchiveStatus.none)))
})

layer(Layer.mergeAll(TestRedis.layer, TestPostgres.layer), { timeout: 120_000, excludeTestServices: true })("ArchiveStatus on real Redis and PostgreSQL", (it) => {
  it.effect("the same figures from the PostgreSQL archive, the Redis stream and the Redis lease", () =>
    Effect.gen(function*() {
      const url = yield* freshDatabase
      const redis = yield* TestRedis
      const store = RedisStore.layer({ url: redis.url, keyPrefix: `${unique("status")}:`, retryAttempts: 3, commandTimeoutMs: 5_000 })
      const books = yield* Layer.build(booksOn(store, HistoryStore.layer(url)))
      yield* statusStory(false).pipe(Effect.provide(books))
    }))
})
