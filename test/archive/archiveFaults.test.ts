import { assert, layer } from "@effect/vitest"
import { Effect, Fiber, Layer } from "effect"
import { Redis } from "ioredis"
import { Archiver } from "../../src/archive/Archiver.ts"
import { HistoryStore } from "../../src/history/HistoryStore.ts"
import { LedgerVerifier } from "../../src/ledger/LedgerVerifier.ts"
import { redisKeys } from "../../src/store/redis/redisKeys.ts"
import { Store } from "../../src/store/Store.ts"
import { openArchivedBooks } from "../support/archivedBooks.ts"
import { freshDatabase } from "../support/historyFixtures.ts"
import { readEverything } from "../support/historyReads.ts"
import { TestPostgres } from "../support/postgresServer.ts"
import { TestRedis } from "../support/redisServer.ts"
import { playRound } from "../support/smallGame.ts"
import { eventually, unique } from "../store/planFixtures.ts"

/** Nothing trimmed from Redis that PostgreSQL does not hold: per account, trimmed-through <= archived head. */
const assertNothingTrimmedBeyondTheArchive = Effect.gen(function*() {
  const store = yield* Store
  const history = yield* HistoryStore
  const accounts = [...(yield* store.accounts(null, 10_000)).items, ...(yield* store.closedAccounts(0, null, 10_000)).items]
  const heads = yield* history.heads(accounts)
  for (const account of accounts) {
    const { trimmedThrough } = yield* store.entryPage(account, 0, 1)
    assert.isAtMost(trimmedThrough, heads.get(account)?.seq ?? 0, account)
  }
})

/**
 * Plays three rounds, snapshots every page, archives with a fault injected once the first batch
 * committed, then drains again until caught up and compares.
 */
const archiveThrough = (fault: Effect.Effect<void, never, TestPostgres | TestRedis>) =>
  Effect.gen(function*() {
    const url = yield* freshDatabase
    const prefix = unique("fault") + ":"
    const books = yield* openArchivedBooks(prefix, url, { batchEvents: 2 })
    const before = yield* Effect.gen(function*() {
      for (const round of [1, 2, 3]) yield* playRound(round)
      return yield* readEverything
    }).pipe(Effect.provide(books))
    yield* Effect.gen(function*() {
      const archiver = yield* Archiver
      const history = yield* HistoryStore
      const drain = yield* Effect.forkChild(Effect.exit(archiver.drain(1_000)))
      yield* eventually(history.state(), (s) => s.cursor !== "0", 30_000)
      yield* fault
      yield* Fiber.join(drain)
    }).pipe(Effect.provide(books))
    // The same instance goes on once the server is back (its pool and Redis client reconnect).
    yield* Effect.gen(function*() {
      // After a Redis restart the client reconnects on its own, up to a second between tries: read once it answers.
      yield* eventually(Effect.as(Store.use((s) => s.ping()), true), () => true, 30_000)
      yield* assertNothingTrimmedBeyondTheArchive
      const archiver = yield* Archiver
      yield* eventually(archiver.drain(1_000), (reports) => reports.at(-1)?.outcome === "idle", 30_000)
      yield* assertNothingTrimmedBeyondTheArchive
      assert.deepStrictEqual(yield* readEverything, before, "nothing lost, nothing twice")
      const report = yield* (yield* LedgerVerifier).verifyAll()
      assert.deepStrictEqual(report.findings, [])
      const server = yield* TestRedis
      const raw = new Redis(server.url)
      const left = yield* Effect.promise(() => raw.xlen(redisKeys(prefix).events).finally(() => raw.disconnect()))
      assert.strictEqual(left, 0, "Redis' stream was trimmed to the end")
    }).pipe(Effect.provide(books))
  })

layer(Layer.mergeAll(TestRedis.layer, TestPostgres.layer), { timeout: 180_000, excludeTestServices: true })("Archiver faults", (it) => {
  it.effect("PostgreSQL killed -9 in the middle of archiving: after its restart the archive is whole, once, and Redis was never trimmed past it", () =>
    archiveThrough(Effect.gen(function*() {
      const pg = yield* TestPostgres
      yield* Effect.promise(pg.kill9)
      yield* Effect.promise(pg.restart)
    })), { timeout: 180_000 })

  it.effect("Redis killed -9 in the middle of archiving: after its restart (AOF) the archive is whole, once", () =>
    archiveThrough(Effect.gen(function*() {
      const redis = yield* TestRedis
      yield* Effect.promise(redis.kill9)
      yield* Effect.promise(redis.restart)
    })), { timeout: 180_000 })

  it.effect("the archiving instance stopped in the middle (its fiber interrupted mid-batch): another takes over, nothing lost or twice", () =>
    Effect.gen(function*() {
      const url = yield* freshDatabase
      const prefix = unique("interrupted") + ":"
      const books = yield* openArchivedBooks(prefix, url, { batchEvents: 2 })
      const before = yield* Effect.gen(function*() {
        for (const round of [1, 2, 3]) yield* playRound(round)
        const snapshot = yield* readEverything
        const archiver = yield* Archiver
        const history = yield* HistoryStore
        const drain = yield* Effect.forkChild(archiver.drain(1_000))
        yield* eventually(history.state(), (s) => s.cursor !== "0", 30_000)
        yield* Fiber.interrupt(drain)
        yield* archiver.release()
        return snapshot
      }).pipe(Effect.provide(books))
      const other = yield* openArchivedBooks(prefix, url, { batchEvents: 50 })
      yield* Effect.gen(function*() {
        yield* assertNothingTrimmedBeyondTheArchive
        const reports = yield* (yield* Archiver).drain(1_000)
        assert.notStrictEqual(reports[0]?.outcome, "standby")
        assert.deepStrictEqual(yield* readEverything, before)
        assert.deepStrictEqual((yield* (yield* LedgerVerifier).verifyAll()).findings, [])
      }).pipe(Effect.provide(other))
    }), { timeout: 180_000 })
})
