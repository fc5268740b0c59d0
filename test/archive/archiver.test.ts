import { assert, layer } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import { SqlClient } from "effect/sql"
import { Redis } from "ioredis"
import { Archiver, type ArchiverOptions } from "../../src/archive/Archiver.ts"
import type { AccountRef } from "../../src/domain/accounts.ts"
import type { Transfer } from "../../src/domain/transfer.ts"
import { HistoryStore } from "../../src/history/HistoryStore.ts"
import { Ledger } from "../../src/ledger/Ledger.ts"
import { Metrics } from "../../src/observability/Metrics.ts"
import { redisKeys } from "../../src/store/redis/redisKeys.ts"
import { RedisStore } from "../../src/store/redis/RedisStore.ts"
import { type Page, Store } from "../../src/store/Store.ts"
import { freshDatabase, sqlOn } from "../support/historyFixtures.ts"
import { ledgerOn } from "../support/ledgerLayers.ts"
import { TestPostgres } from "../support/postgresServer.ts"
import { TestRedis } from "../support/redisServer.ts"
import { playRound } from "../support/smallGame.ts"
import { unique } from "../store/planFixtures.ts"

/** The service's ledger on a fresh Redis namespace plus an archiver into `url`'s history store. */
const booksOn = (redisUrl: string, prefix: string, databaseUrl: string, options: Partial<ArchiverOptions> = {}) =>
  Archiver.layerWith({ batchEvents: 4, ...options }).pipe(
    Layer.provideMerge(HistoryStore.layer(databaseUrl)),
    Layer.provideMerge(ledgerOn(RedisStore.layer({ url: redisUrl, keyPrefix: prefix, retryAttempts: 3, commandTimeoutMs: 5_000 })))
  )

type Books = Layer.Success<ReturnType<typeof booksOn>>

/** Builds the books in the test's scope and returns their context. */
const openBooks = (prefix: string, databaseUrl: string, options: Partial<ArchiverOptions> = {}) =>
  Effect.gen(function*() {
    const redis = yield* TestRedis
    return yield* Layer.build(booksOn(redis.url, prefix, databaseUrl, options))
  })

const within = <A, E>(books: Context.Context<Books>, effect: Effect.Effect<A, E, Books>) => Effect.provide(effect, books)

/** Every page of an account's transfers in Redis, oldest first. */
const redisTransfers = (account: AccountRef) =>
  Effect.gen(function*() {
    const store = yield* Store
    const all: Array<Transfer> = []
    let cursor: string | null = null
    do {
      const page: Page<Transfer> = yield* store.transfers(account, cursor, 7)
      all.push(...page.items)
      cursor = page.nextCursor
    } while (cursor !== null)
    return all.reverse()
  })

/** Every account Redis knows (live and closed, system accounts too). */
const allAccounts = Effect.gen(function*() {
  const store = yield* Store
  const live = (yield* store.accounts(null, 10_000)).items
  const closed = (yield* store.closedAccounts(0, null, 10_000)).items
  return [...live, ...closed, "x:mint", "x:burn", "x:rake"]
})

/** The archive holds exactly what Redis holds: every entry and transfer of every account, in order. */
const assertArchiveMatchesRedis = Effect.gen(function*() {
  const store = yield* Store
  const history = yield* HistoryStore
  for (const account of yield* allAccounts) {
    assert.deepStrictEqual(yield* history.entries(account, 0, 100_000), yield* store.entries(account, 0, 100_000), `entries of ${account}`)
    assert.deepStrictEqual(
      (yield* history.transfers(account)).map((t) => t.transfer),
      yield* redisTransfers(account),
      `transfers of ${account}`
    )
  }
})

const counter = (name: string, labels: Record<string, string> = {}) =>
  Effect.gen(function*() {
    const { registry } = yield* Metrics
    const metric = yield* Effect.promise(() => registry.getSingleMetric(name)!.get())
    return metric.values.filter((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x)).reduce((n, v) => n + v.value, 0)
  })

layer(Layer.mergeAll(TestRedis.layer, TestPostgres.layer), { timeout: 120_000, excludeTestServices: true })("Archiver on real Redis and PostgreSQL", (it) => {
  it.effect("a played game is archived whole, batch after batch: every entry and transfer in Redis order, closed pots and reservations in their final state", () =>
    Effect.gen(function*() {
      const url = yield* freshDatabase
      const books = yield* openBooks(unique("arch") + ":", url)
      yield* within(books, Effect.gen(function*() {
        yield* playRound(1)
        const reports = yield* (yield* Archiver).drain()
        assert.isAbove(reports.length, 3, "several batches of 4 events")
        assert.isTrue(reports.every((r) => (r.outcome === "committed" || r.outcome === "idle") && r.stops.length === 0), JSON.stringify(reports))
        yield* assertArchiveMatchesRedis
        const history = yield* HistoryStore
        const store = yield* Store
        const closedKeys = ["p:t1:r1-h1", "p:t1:r1-h2"]
        for (const key of closedKeys) {
          const archived = yield* history.closedObject(key)
          assert.deepStrictEqual(archived?.state, (yield* store.load([key])).objects.get(key)?.value, key)
        }
        assert.strictEqual((yield* history.closedObject("p:t1:r1-h1"))?.state.kind, "pot")
        const sql = yield* SqlClient.SqlClient
        const statuses = yield* sql<{ kind: string; status: string; n: bigint }>`
          select kind, status, count(*) as n from closed_objects group by kind, status order by kind, status`
        assert.deepStrictEqual(statuses.map((r) => [r.kind, r.status, Number(r.n)]), [
          ["pot", "CANCELLED", 1],
          ["pot", "SETTLED", 1],
          ["reservation", "COMMITTED", 3],
          ["reservation", "RELEASED", 1]
        ])
        assert.strictEqual(yield* counter("balance_archive_rows_total", { kind: "entries" }), reports.reduce((n, r) => n + r.entries, 0))
        assert.deepStrictEqual(yield* (yield* Archiver).drain(), [
          { outcome: "idle", events: 0, entries: 0, transfers: 0, closed: 0, compacted: 0, stops: [], more: false }
        ])
      }).pipe(Effect.provide(sqlOn(url))))
    }))

  it.effect("archiving again from an older cursor adds nothing twice and stops nothing", () =>
    Effect.gen(function*() {
      const url = yield* freshDatabase
      const books = yield* openBooks(unique("again") + ":", url)
      yield* within(books, Effect.gen(function*() {
        yield* playRound(1)
        yield* (yield* Archiver).drain()
        const sql = yield* SqlClient.SqlClient
        const count = sql<{ e: bigint; t: bigint; c: bigint }>`
          select (select count(*) from ledger_entries) as e, (select count(*) from transfers) as t,
                 (select count(*) from closed_objects) as c`
        const before = yield* count
        // As after a restore of PostgreSQL from a backup taken before the last batches.
        yield* sql`update archive_state set stream_cursor = '0'`
        const reports = yield* (yield* Archiver).drain()
        assert.isTrue(reports.every((r) => r.stops.length === 0), JSON.stringify(reports.flatMap((r) => r.stops)))
        assert.deepStrictEqual(yield* count, before)
        yield* assertArchiveMatchesRedis
      }).pipe(Effect.provide(sqlOn(url))))
    }))

  it.effect("after Redis is restored from an older backup while the archive is ahead, the diverging accounts stop and nothing of them is archived; others go on", () =>
    Effect.gen(function*() {
      const url = yield* freshDatabase
      // The archive holds round 1 of one Redis; another Redis (a different prefix) plays its own
      // round 1 under the same ids: same accounts and seqs, other entries.
      const first = yield* openBooks(unique("orig") + ":", url)
      yield* within(first, Effect.gen(function*() {
        yield* playRound(1)
        yield* (yield* Archiver).drain()
      }))
      const restored = yield* openBooks(unique("restored") + ":", url)
      yield* within(restored, Effect.gen(function*() {
        yield* playRound(2, ["alice", "dave"])
        const reports = yield* (yield* Archiver).drain()
        const stopped = new Set(reports.flatMap((r) => r.stops.map((s) => s.account)))
        assert.isTrue(stopped.has("w:alice"), "alice's chain in this Redis is not the archived one")
        assert.isFalse(stopped.has("w:dave"), "dave is new: his chain starts at GENESIS")
        const history = yield* HistoryStore
        const store = yield* Store
        assert.deepStrictEqual(yield* history.entries("w:dave", 0, 1000), yield* store.entries("w:dave", 0, 1000))
        const aliceArchived = yield* history.entries("w:alice", 0, 1000)
        assert.isTrue(aliceArchived.every((e) => e.entryId.startsWith("w:alice#")))
        const aliceInRedis = yield* store.entries("w:alice", 0, 1000)
        assert.notDeepEqual(aliceArchived.map((e) => e.checksum), aliceInRedis.map((e) => e.checksum).slice(0, aliceArchived.length))
        assert.isAbove(yield* counter("balance_archive_continuity_stops_total"), 0)
        // Later passes skip the stopped account for good; nothing of it is archived.
        yield* playRound(3, ["alice", "dave"])
        const later = yield* (yield* Archiver).drain()
        assert.isFalse(later.some((r) => r.stops.some((s) => s.account === "w:alice")), "a stop is recorded once")
        assert.deepStrictEqual(yield* history.entries("w:alice", 0, 1000), aliceArchived)
        assert.deepStrictEqual(yield* history.entries("w:dave", 0, 1000), yield* store.entries("w:dave", 0, 1000))
      }))
    }))

  it.effect("entries the stream no longer holds are taken from the account's own ledger, and still checked", () =>
    Effect.gen(function*() {
      const url = yield* freshDatabase
      const prefix = unique("trimmed") + ":"
      const books = yield* openBooks(prefix, url)
      const server = yield* TestRedis
      yield* within(books, Effect.gen(function*() {
        yield* playRound(1)
        // The capped stream lost its oldest events (an archive switched on long after the start).
        const raw = new Redis(server.url)
        const events = redisKeys(prefix).events
        const ids = (yield* Effect.promise(() => raw.xrange(events, "-", "+"))).map(([id]) => id)
        yield* Effect.promise(() => raw.xtrim(events, "MINID", ids[10]!))
        raw.disconnect()
        const reports = yield* (yield* Archiver).drain()
        assert.isTrue(reports.every((r) => r.stops.length === 0), JSON.stringify(reports.flatMap((r) => r.stops)))
        const store = yield* Store
        const history = yield* HistoryStore
        for (const account of yield* allAccounts) {
          assert.deepStrictEqual(yield* history.entries(account, 0, 10_000), yield* store.entries(account, 0, 10_000), account)
        }
      }))
    }))

  it.effect("two archivers on the same Redis and archive: one holds the lease, the archive has everything once", () =>
    Effect.gen(function*() {
      const url = yield* freshDatabase
      const prefix = unique("two") + ":"
      const one = yield* openBooks(prefix, url, { owner: "one", leaseMs: 60_000 })
      const two = yield* openBooks(prefix, url, { owner: "two", leaseMs: 60_000 })
      const both = Effect.all([
        within(one, Archiver.use((a) => a.drain())),
        within(two, Archiver.use((a) => a.drain()))
      ], { concurrency: 2 })
      yield* within(one, playRound(1))
      const [r1, r2] = yield* both
      const holderIsOne = r1[0]?.outcome !== "standby"
      const [holder, waiter] = holderIsOne ? [r1, r2] : [r2, r1]
      assert.isTrue(holder.every((r) => r.outcome !== "standby"), "the first to ask holds the lease")
      assert.deepStrictEqual(waiter.map((r) => r.outcome), ["standby"])
      // The holder stops cleanly; the other takes over and archives what came since.
      const [holderBooks, otherBooks] = holderIsOne ? [one, two] : [two, one]
      yield* within(holderBooks, Archiver.use((a) => a.release()))
      yield* within(otherBooks, playRound(2))
      const after = yield* within(otherBooks, Archiver.use((a) => a.drain()))
      assert.isTrue(after.every((r) => r.outcome === "committed"))
      yield* within(two, assertArchiveMatchesRedis)
    }))

  it.effect("a drain reads each batch from the stream once: the trim after a pass removes the events that pass read", () =>
    Effect.gen(function*() {
      const url = yield* freshDatabase
      const redis = yield* TestRedis
      const prefix = unique("once") + ":"
      const outlineReads: Array<string> = []
      // The Redis store, counting the stream reads the trim (and the lag) make: eventOutlinesAfter.
      const counting = Layer.effect(Store, Effect.gen(function*() {
        const store = yield* Store
        return Store.of({
          ...store,
          eventOutlinesAfter: (afterId, limit) => {
            outlineReads.push(afterId)
            return store.eventOutlinesAfter(afterId, limit)
          }
        })
      })).pipe(Layer.provide(RedisStore.layer({ url: redis.url, keyPrefix: prefix, retryAttempts: 3, commandTimeoutMs: 5_000 })))
      const books = yield* Layer.build(
        Archiver.layerWith({ batchEvents: 4, trim: true }).pipe(Layer.provideMerge(HistoryStore.layer(url)), Layer.provideMerge(ledgerOn(counting)))
      )
      yield* within(books, Effect.gen(function*() {
        yield* playRound(1)
        const store = yield* Store
        const accounts = yield* allAccounts
        const before = new Map<AccountRef, unknown>()
        for (const account of accounts) before.set(account, [yield* store.entries(account, 0, 10_000), yield* redisTransfers(account)])
        const reports = yield* (yield* Archiver).drain()
        const committed = reports.filter((r) => r.outcome === "committed").length
        assert.isAbove(committed, 3, "several batches of 4 events")
        // Trimmed whole, and right: the stream is empty, the archive holds what Redis held before.
        const raw = new Redis(redis.url)
        const left = yield* Effect.promise(() => raw.xlen(redisKeys(prefix).events))
        raw.disconnect()
        assert.strictEqual(left, 0)
        const history = yield* HistoryStore
        for (const account of accounts) {
          const archived = [yield* history.entries(account, 0, 10_000), (yield* history.transfers(account)).map((t) => t.transfer)]
          assert.deepStrictEqual(archived, before.get(account), account)
          assert.deepStrictEqual(yield* store.entries(account, 0, 10_000), [], `${account}: its entries trimmed from Redis`)
        }
        // No trim read the stream again: what is left are the lag's reads at the end of the drain
        // (from the archive's cursor, the last event), one per batch before this change.
        const lastEvent = (yield* (yield* HistoryStore).state()).cursor
        assert.isAtMost(outlineReads.length, 2, JSON.stringify(outlineReads))
        assert.isTrue(outlineReads.every((after) => after === lastEvent), JSON.stringify({ outlineReads, lastEvent }))
      }).pipe(Effect.provide(sqlOn(url))))
    }))
})
