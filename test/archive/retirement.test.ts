/**
 * Issue 14, retirement: once PostgreSQL holds a closed object whole (a settled or cancelled pot with
 * its chain and transfers, a closed reservation) and its retention has passed, it leaves Redis
 * entirely. Every read must answer as before, what was refused stays refused, verification keeps
 * checking it (from the archive), and two archivers never retire twice.
 */
import { assert, layer } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { SqlClient } from "effect/sql"
import { Redis } from "ioredis"
import { Archiver } from "../../src/archive/Archiver.ts"
import { potKey, reservationKey, type ReservationState } from "../../src/domain/accounts.ts"
import { HistoryStore } from "../../src/history/HistoryStore.ts"
import { Ledger } from "../../src/ledger/Ledger.ts"
import { LedgerVerifier } from "../../src/ledger/LedgerVerifier.ts"
import { Metrics } from "../../src/observability/Metrics.ts"
import { redisKeys } from "../../src/store/redis/redisKeys.ts"
import { RedisStore } from "../../src/store/redis/RedisStore.ts"
import { Store } from "../../src/store/Store.ts"
import { ledgerOn } from "../support/ledgerLayers.ts"
import { openArchivedBooks } from "../support/archivedBooks.ts"
import { readPagesOf } from "../support/historyReads.ts"
import { freshDatabase, sqlOn } from "../support/historyFixtures.ts"
import { TestPostgres } from "../support/postgresServer.ts"
import { TestRedis } from "../support/redisServer.ts"
import { playRound } from "../support/smallGame.ts"
import { unique } from "../store/planFixtures.ts"

/** A raw client on the test Redis for the test's scope (to look at what the store keeps). */
const rawRedis = Effect.acquireRelease(
  Effect.gen(function*() {
    const server = yield* TestRedis
    return new Redis(server.url)
  }),
  (redis) => Effect.sync(() => redis.disconnect())
)

/** Every key of the namespace with its content (hashes, zsets, strings; lists and the stream by length). */
const redisContents = (redis: Redis, prefix: string) =>
  Effect.promise(async () => {
    const out: Record<string, unknown> = {}
    for (const key of (await redis.keys(`${prefix}*`)).sort()) {
      const type = await redis.type(key)
      out[key] = type === "hash"
        ? await redis.hgetall(key)
        : type === "zset"
        ? await redis.zrange(key, "0", "-1", "WITHSCORES")
        : type === "string"
        ? await redis.get(key)
        : type === "list"
        ? { list: await redis.llen(key) }
        : { stream: await redis.xlen(key) }
    }
    return out
  })

const counter = (name: string, labels: Record<string, string> = {}) =>
  Effect.gen(function*() {
    const { registry } = yield* Metrics
    const metric = yield* Effect.promise(() => registry.getSingleMetric(name)!.get())
    return metric.values.filter((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x)).reduce((n, v) => n + v.value, 0)
  })

/** Every page of every account given and of the event feed (readPagesOf), and the supply. */
const readPages = (accounts: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    return { ...(yield* readPagesOf(accounts)), supply: yield* (yield* Ledger).supply() }
  })

const PLAYERS = ["alice", "bob", "carol"]

layer(Layer.mergeAll(TestRedis.layer, TestPostgres.layer), { timeout: 120_000, excludeTestServices: true })("Closed objects retired from Redis", (it) => {
  it.effect("retirement removes exactly the closed objects' keys, fields and index members; every read, refusal and replay answers as before; verification stays clean", () =>
    Effect.scoped(Effect.gen(function*() {
      const prefix = unique("retire") + ":"
      const keys = redisKeys(prefix)
      const books = yield* openArchivedBooks(prefix, yield* freshDatabase, { retentionMs: 0 })
      const redis = yield* rawRedis
      yield* Effect.gen(function*() {
        const ledger = yield* Ledger
        const store = yield* Store
        yield* playRound(1, PLAYERS)
        yield* playRound(2, PLAYERS)
        // Left open: an active pot and a held reservation stay in Redis.
        yield* ledger.execute({
          op: "Contribute", tableId: "t1", handId: "open", seatId: 1, accountId: "alice", amount: 5, contributionType: "BET", idempotencyKey: "open-1"
        })
        const held = yield* ledger.execute({ op: "Reserve", accountId: "bob", tableId: "t1", amount: 7, timeoutMs: 600_000, idempotencyKey: "held" })
        const closedPots = (yield* store.closedAccounts(0, null, 100)).items
        assert.strictEqual(closedPots.length, 4, "two rounds: a settled and a cancelled hand each")
        const reservationIds = (yield* Effect.promise(() => redis.keys(`${keys.object("r:")}*`))).map((k) => k.slice(keys.object("r:").length))
        assert.strictEqual(reservationIds.length, 2 * (PLAYERS.length + 1) + 1)
        const readObjects = Effect.gen(function*() {
          const pots = yield* Effect.forEach([...closedPots, potKey("t1", "open")], (p) => {
            const [, table, hand] = p.split(":")
            return ledger.pot(table!, hand!)
          })
          const reservations = yield* Effect.forEach(reservationIds, (id) => ledger.reservation(id))
          return { pots, reservations }
        })

        // Archived and trimmed, not retired yet (no drain has run): what reads and refusals answer.
        const firstReports = yield* (yield* Archiver).pass()
        assert.strictEqual(firstReports.outcome, "committed")
        yield* (yield* Archiver).trim()
        for (let i = 0; i < 50 && (yield* (yield* Archiver).pass()).outcome === "committed"; i++) yield* (yield* Archiver).trim()
        const objectsBefore = yield* readObjects
        const accounts = [...(yield* ledger.accounts(null, 100)).items, ...closedPots, "x:mint", "x:burn", "x:rake"]
        const pagesBefore = yield* readPages(accounts)
        const contentsBefore = yield* redisContents(redis, prefix)
        const reservations = objectsBefore.reservations.map((r) => r.value!)
        const committed = reservations.find((r) => r.status === "COMMITTED")!
        const released = reservations.find((r) => r.status === "RELEASED")!
        const asked = {
          commitCommitted: { op: "Commit", reservationId: committed.reservationId } as const,
          releaseReleased: { op: "Release", reservationId: released.reservationId, reason: "again" } as const,
          commitReleased: { op: "Commit", reservationId: released.reservationId } as const,
          releaseCommitted: { op: "Release", reservationId: committed.reservationId, reason: "late" } as const,
          settleSettled: { op: "Settle", tableId: "t1", handId: "r1-h1", winners: [{ seatId: 1, accountId: "alice", amount: 1 }], idempotencyKey: "again-1" } as const,
          cancelCancelled: { op: "Cancel", tableId: "t1", handId: "r1-h2", reason: "retry" } as const,
          contributeSettled: {
            op: "Contribute", tableId: "t1", handId: "r1-h1", seatId: 2, accountId: "bob", amount: 5, contributionType: "BET", idempotencyKey: "late-1"
          } as const
        }
        const answers = Effect.forEach(Object.values(asked), (c) =>
          Effect.match(ledger.execute(c), { onFailure: (e) => ({ refused: e._tag === "Refusal" ? e.code : e._tag }), onSuccess: (r) => r }))
        const answersBefore = yield* answers
        assert.deepStrictEqual(answersBefore.map((a) => "refused" in a ? a.refused : "ok"), [
          "ok", "ok", "RESERVATION_NOT_HELD", "ALREADY_COMMITTED", "POT_NOT_ACTIVE", "ok", "POT_NOT_ACTIVE"
        ])

        // Retire: retention 0, everything closed and archived leaves Redis.
        const report = yield* (yield* Archiver).retire()
        const closedReservations = reservations.filter((r) => r.status !== "HELD")
        assert.deepStrictEqual(report, { retired: closedPots.length + closedReservations.length, skipped: [] })
        assert.strictEqual(yield* counter("balance_archive_trimmed_total", { kind: "retired" }), report.retired)

        // Exactly those keys, hash fields and zset members are gone; everything else is as it was.
        const contentsAfter = yield* redisContents(redis, prefix)
        const retiredKeys = new Set([...closedPots, ...closedReservations.map((r) => reservationKey(r.reservationId))].map(keys.object))
        const expected: Record<string, unknown> = {}
        for (const [key, value] of Object.entries(contentsBefore)) {
          if (retiredKeys.has(key)) continue
          if (key === keys.trimmed) {
            expected[key] = Object.fromEntries(Object.entries(value as Record<string, string>).filter(([field]) =>
              !closedPots.some((p) => field === `e:${p}` || field === `t:${p}`)))
          } else if (key === keys.closed) {
            continue // every member was a retired pot: the empty zset no longer exists
          } else {
            expected[key] = value
          }
        }
        assert.deepStrictEqual(contentsAfter, expected)
        assert.isDefined(contentsAfter[keys.object(potKey("t1", "open"))], "the active pot stays")
        assert.isDefined(contentsAfter[keys.object(reservationKey(held.result.reservationId))], "the held reservation stays")
        assert.isTrue(closedPots.every((p) => (contentsBefore[keys.trimmed] as Record<string, string>)[`e:${p}`] !== undefined), "the pots had trimmed counters")

        // Every read answers as before: objects (at their versions), pages, supply.
        assert.deepStrictEqual(yield* readObjects, objectsBefore)
        assert.deepStrictEqual(yield* readPages(accounts), pagesBefore)
        // Refusals and replays too: a commit of a committed hold replays its answer, and so on.
        assert.deepStrictEqual(yield* answers, answersBefore)
        assert.deepStrictEqual(yield* redisContents(redis, prefix), contentsAfter, "answering wrote nothing")

        // Verification walks the retired pots from the archive: clean, and as many accounts as before.
        const verifier = yield* LedgerVerifier
        const full = yield* verifier.verifyAll()
        assert.deepStrictEqual(full.findings, [])
        assert.isTrue(full.ok)
        assert.strictEqual(full.totalBalance, 0)
        assert.strictEqual(full.accountsChecked, accounts.length - 3, "live accounts, and the retired pots")
        for (const pot of closedPots) assert.isTrue((yield* verifier.verifyAccount(pot)).ok, pot)

        // Retiring again finds nothing; draining afterwards keeps everything as it is.
        assert.deepStrictEqual(yield* (yield* Archiver).retire(), { retired: 0, skipped: [] })
        yield* (yield* Archiver).drain()
        assert.deepStrictEqual(yield* readObjects, objectsBefore)
      }).pipe(Effect.provide(books))
    })))

  it.effect("retirement leaves an object whose Redis state, version or trim does not match the archive, and one whose retention has not passed", () =>
    Effect.scoped(Effect.gen(function*() {
      const prefix = unique("retireskip") + ":"
      const keys = redisKeys(prefix)
      const books = yield* openArchivedBooks(prefix, yield* freshDatabase, { retentionMs: 0 })
      const redis = yield* rawRedis
      yield* Effect.gen(function*() {
        const archiver = yield* Archiver
        yield* playRound(1, PLAYERS)
        // Archived, not trimmed: the pots' lists are still in Redis.
        while ((yield* archiver.pass()).outcome === "committed") { /* batch after batch */ }
        const settled = potKey("t1", "r1-h1")
        const cancelled = potKey("t1", "r1-h2")
        const untrimmed = yield* archiver.retire()
        assert.sameMembers(
          untrimmed.skipped.filter((s) => s.startsWith("p:")).map((s) => s.split(" ")[0]),
          [settled, cancelled],
          "pots whose lists were not trimmed stay"
        )
        assert.isTrue(untrimmed.skipped.every((s) => s.includes("its ledger or transfer list is not empty")), untrimmed.skipped.join("; "))
        assert.isNotNull(yield* Effect.promise(() => redis.hget(keys.object(settled), "v")))

        // Trimmed, but Redis' state is not the archive's (same version: retire.lua's compare-and-set on the version is
        // held to its word in the store conformance suite).
        yield* archiver.trim()
        const cancelledJson = JSON.parse((yield* Effect.promise(() => redis.hget(keys.object(cancelled), "d")))!)
        yield* Effect.promise(() => redis.hset(keys.object(cancelled), "d", JSON.stringify({ ...cancelledJson, closeReason: "edited" })))
        const settledJson = JSON.parse((yield* Effect.promise(() => redis.hget(keys.object(settled), "d")))!)
        yield* Effect.promise(() => redis.hset(keys.object(settled), "d", JSON.stringify({ ...settledJson, closedAt: settledJson.closedAt + 1 })))
        const mismatched = yield* archiver.retire()
        assert.sameMembers(mismatched.skipped.map((s) => s.split(" ")[0]), [settled, cancelled])
        assert.include(mismatched.skipped.find((s) => s.startsWith(cancelled)), "Redis holds another state than the archive")
        assert.include(mismatched.skipped.find((s) => s.startsWith(settled)), "Redis holds another state than the archive")
        assert.isNotNull(yield* Effect.promise(() => redis.hget(keys.object(settled), "v")))
        assert.isNotNull(yield* Effect.promise(() => redis.hget(keys.object(cancelled), "v")))
        assert.isNotNull(yield* Effect.promise(() => redis.zscore(keys.closed, settled)))
        assert.isAbove(yield* counter("balance_archive_trim_skips_total", { part: "retire" }), 0)
      }).pipe(Effect.provide(books))

      // Another archive (its own database), retention of an hour: nothing that closed just now leaves.
      const prefix2 = unique("retirelate") + ":"
      const lateBooks = yield* openArchivedBooks(prefix2, yield* freshDatabase, { retentionMs: 3_600_000 })
      yield* Effect.gen(function*() {
        yield* playRound(1, PLAYERS)
        yield* (yield* Archiver).drain()
        const closed = (yield* (yield* Store).closedAccounts(0, null, 100)).items
        assert.strictEqual(closed.length, 2)
        assert.deepStrictEqual(yield* (yield* Archiver).retire(), { retired: 0, skipped: [] })
        for (const pot of closed) assert.isNotNull(yield* Effect.promise(() => redis.hget(redisKeys(prefix2).object(pot), "v")))
      }).pipe(Effect.provide(lateBooks))
    })))

  it.effect("two archivers never retire twice: only the lease holder with its token retires, a fenced one writes nothing", () =>
    Effect.scoped(Effect.gen(function*() {
      const prefix = unique("retiretwo") + ":"
      const url = yield* freshDatabase
      const first = yield* openArchivedBooks(prefix, url, { retentionMs: 0, owner: "first" })
      const second = yield* openArchivedBooks(prefix, url, { retentionMs: 0, owner: "second" })
      const archiverOf = (books: typeof first) => Effect.provide(Effect.gen(function*() { return yield* Archiver }), books)
      const a = yield* archiverOf(first)
      const b = yield* archiverOf(second)
      yield* Effect.gen(function*() {
        yield* playRound(1, PLAYERS)
        yield* playRound(2, PLAYERS)
      }).pipe(Effect.provide(first))
      // The first archives and trims (it holds the lease), but retires nothing yet: retention is checked at retire.
      while ((yield* a.pass()).outcome === "committed") yield* a.trim()
      assert.strictEqual((yield* b.pass()).outcome, "standby")
      // Both retire at once: only the holder does anything.
      const [ra, rb] = yield* Effect.all([a.retire(), b.retire()], { concurrency: 2 })
      assert.isAbove(ra.retired, 0)
      assert.deepStrictEqual(rb, { retired: 0, skipped: [] })
      const history = yield* Effect.provide(Effect.gen(function*() { return yield* HistoryStore }), first)
      const store = yield* Effect.provide(Effect.gen(function*() { return yield* Store }), first)
      const retiredRows = yield* Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        return yield* sql<{ n: bigint }>`select count(*) as n from closed_objects where retired_at is not null`
      }).pipe(Effect.provide(sqlOn(url)), Effect.orDie)
      assert.strictEqual(Number(retiredRows[0]!.n), ra.retired, "each retired once")

      // The lease moves to the second (new token); the first, paused with its old token, writes nothing.
      const { token: oldToken } = (yield* store.archiverLease())!
      yield* a.release()
      yield* Effect.provide(playRound(3, PLAYERS), first)
      while ((yield* b.pass()).outcome === "committed") yield* b.trim()
      const { token: newToken } = (yield* store.archiverLease())!
      assert.isAbove(newToken, oldToken)
      const candidates = yield* history.retirable(Number.MAX_SAFE_INTEGER, null, 100)
      assert.isAbove(candidates.length, 0)
      const stale = yield* store.retireArchived({
        owner: "first",
        token: oldToken,
        objects: candidates.map((c) => ({ key: c.key, version: c.version ?? 1, entriesTrimmed: 0, transfersTrimmed: 0 }))
      })
      assert.strictEqual(stale._tag, "NotLeased")
      assert.deepStrictEqual(yield* a.retire(), { retired: 0, skipped: [] }, "the first is standing by")
      const rb2 = yield* b.retire()
      assert.strictEqual(rb2.retired, candidates.length)
      // A retire call for what is already retired finds it absent and writes nothing.
      const again = yield* store.retireArchived({
        owner: "second",
        token: newToken,
        objects: candidates.map((c) => ({ key: c.key, version: 1, entriesTrimmed: 0, transfersTrimmed: 0 }))
      })
      assert.deepStrictEqual(again, { _tag: "Retired", retired: [], absent: candidates.map((c) => c.key), skipped: [] })
    })))

  it.effect("a retirement that removed objects from Redis and stopped before marking them in PostgreSQL is finished by the next one, through the tiered store and on Redis alone", () =>
    Effect.scoped(Effect.gen(function*() {
      const prefix = unique("retiregap") + ":"
      const url = yield* freshDatabase
      const books = yield* openArchivedBooks(prefix, url, { retentionMs: 0, owner: "gap" })
      const archiver = yield* Effect.provide(Effect.gen(function*() { return yield* Archiver }), books)
      yield* Effect.provide(Effect.gen(function*() {
        yield* playRound(1, PLAYERS)
        yield* playRound(2, PLAYERS)
      }), books)
      while ((yield* archiver.pass()).outcome === "committed") yield* archiver.trim()
      const retiredKeys = Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const rows = yield* sql<{ object_key: string }>`select object_key from closed_objects where retired_at is not null order by object_key`
        return rows.map((r) => r.object_key)
      }).pipe(Effect.provide(sqlOn(url)), Effect.orDie)
      const first = yield* archiver.retire()
      assert.isAbove(first.retired, 0)
      assert.deepStrictEqual(first.skipped, [])
      const retired = yield* retiredKeys
      assert.strictEqual(retired.length, first.retired)
      const store = yield* Effect.provide(Effect.gen(function*() { return yield* Store }), books)
      const answers = (yield* store.load(retired)).objects
      // The stop: Redis no longer holds them, PostgreSQL has their versions but not the mark.
      const unmark = Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        yield* sql`update closed_objects set retired_at = null`
      }).pipe(Effect.provide(sqlOn(url)), Effect.orDie)
      yield* unmark
      const metrics = yield* Effect.provide(Effect.gen(function*() { return yield* Metrics }), books)
      const retiredCount = Effect.promise(() => metrics.registry.getSingleMetric("balance_archive_trimmed_total")!.get()).pipe(
        Effect.map((m) => m.values.filter((v) => v.labels.kind === "retired").reduce((n, v) => n + v.value, 0))
      )
      const countedBefore = yield* retiredCount
      // Through the tiered store (the service's composition): its load answers them from PostgreSQL,
      // retire.lua finds them absent; they are marked and counted, nothing is left.
      assert.deepStrictEqual(yield* archiver.retire(), { retired: retired.length, skipped: [] })
      assert.deepStrictEqual(yield* retiredKeys, retired)
      assert.strictEqual((yield* retiredCount) - countedBefore, retired.length)
      assert.deepStrictEqual(Object.fromEntries((yield* store.load(retired)).objects), Object.fromEntries(answers))
      // On Redis alone (no tiered store under the archiver): the load finds them absent, and their
      // recorded versions say why: marked, not left past their retention.
      yield* unmark
      yield* archiver.release()
      const redis = yield* TestRedis
      const alone = yield* Layer.build(
        Archiver.layerWith({ batchEvents: 5, trim: true, retentionMs: 0, owner: "alone" }).pipe(
          Layer.provideMerge(HistoryStore.layer(url)),
          Layer.provideMerge(ledgerOn(RedisStore.layer({ url: redis.url, keyPrefix: prefix, retryAttempts: 3, commandTimeoutMs: 5_000 })))
        )
      )
      const onRedisAlone = yield* Effect.provide(Effect.gen(function*() { return yield* Archiver }), alone)
      assert.deepStrictEqual(yield* onRedisAlone.retire(), { retired: retired.length, skipped: [] })
      assert.deepStrictEqual(yield* retiredKeys, retired)
    })))

  it.effect("after retirement, verification still detects an archived entry of a retired pot edited in PostgreSQL; PostgreSQL down: its reads answer StoreUnavailable", () =>
    Effect.scoped(Effect.gen(function*() {
      const pg = yield* TestPostgres
      const prefix = unique("retiretamper") + ":"
      const url = yield* freshDatabase
      const books = yield* openArchivedBooks(prefix, url, { retentionMs: 0 })
      yield* Effect.gen(function*() {
        const ledger = yield* Ledger
        yield* playRound(1, PLAYERS)
        yield* (yield* Archiver).drain()
        const settled = potKey("t1", "r1-h1")
        assert.isNumber((yield* (yield* HistoryStore).closedObject(settled))?.retiredAt, "retired by the drain")
        assert.isTrue((yield* (yield* LedgerVerifier).verifyAll()).ok)

        yield* Effect.gen(function*() {
          const sql = yield* SqlClient.SqlClient
          yield* sql`update ledger_entries set amount = amount + 1, balance_after = balance_after + 1 where account = ${settled} and seq = 1`
        }).pipe(Effect.provide(sqlOn(url)), Effect.orDie)
        const report = yield* (yield* LedgerVerifier).verifyAll()
        assert.isFalse(report.ok)
        assert.isTrue(report.findings.some((f) => f.account === settled), JSON.stringify(report.findings))

        yield* Effect.promise(pg.stop)
        const down = yield* Effect.flip(ledger.pot("t1", "r1-h1"))
        assert.strictEqual(down._tag, "StoreUnavailable")
        assert.strictEqual(down.operation, "history.closedObjects")
        // The game goes on: a new hand opens a pot without PostgreSQL.
        const opened = yield* ledger.execute({
          op: "Contribute", tableId: "t1", handId: "while-pg-down", seatId: 1, accountId: "alice", amount: 5, contributionType: "BET",
          idempotencyKey: "pg-down-1"
        })
        assert.strictEqual(opened.result.totalPot, 5)
        yield* Effect.promise(pg.restart)
        assert.strictEqual((yield* ledger.pot("t1", "r1-h1")).value?.status, "SETTLED")
      }).pipe(Effect.provide(books))
    })))

  it.effect("a pot id reused after its pot was retired: refused as before (the open asks PostgreSQL); with PostgreSQL down it opens, and the archiver stops for that account, alerts and trims nothing of it", () =>
    Effect.scoped(Effect.gen(function*() {
      const pg = yield* TestPostgres
      const prefix = unique("retirereuse") + ":"
      const keys = redisKeys(prefix)
      const books = yield* openArchivedBooks(prefix, yield* freshDatabase, { retentionMs: 0 })
      const redis = yield* rawRedis
      yield* Effect.gen(function*() {
        const ledger = yield* Ledger
        yield* playRound(1, PLAYERS)
        yield* (yield* Archiver).drain()
        const settled = potKey("t1", "r1-h1")
        const cancelled = potKey("t1", "r1-h2")
        for (const pot of [settled, cancelled]) assert.isNull(yield* Effect.promise(() => redis.hget(keys.object(pot), "v")), `${pot} retired`)
        const archivedBefore = yield* (yield* HistoryStore).entries(settled, 0, 100)
        const contribute = (handId: string, seatId: number, accountId: string, key: string) =>
          ledger.execute({ op: "Contribute", tableId: "t1", handId, seatId, accountId, amount: 5, contributionType: "BET", idempotencyKey: key })

        // PostgreSQL reachable: the open finds the retired pot and is refused as it was while Redis held it.
        const refused = yield* Effect.flip(contribute("r1-h2", 1, "alice", "reuse-cancelled"))
        assert.deepInclude(refused, { _tag: "Refusal", code: "POT_NOT_ACTIVE" })
        assert.strictEqual(yield* Effect.promise(() => redis.exists(keys.object(cancelled), keys.ledger(cancelled))), 0, "nothing written")

        // PostgreSQL down: the game goes on, the open is not checked and a second pot starts under the id.
        yield* Effect.promise(pg.stop)
        yield* contribute("r1-h1", 1, "alice", "reuse-1")
        yield* Effect.promise(pg.restart)
        yield* contribute("r1-h1", 2, "bob", "reuse-2")
        const stopsBefore = yield* counter("balance_archive_continuity_stops_total")
        const reports = yield* (yield* Archiver).drain()
        const stops = reports.flatMap((r) => r.stops)
        assert.deepStrictEqual(stops.map((s) => s.account), [settled], "the new chain does not continue the archived one")
        assert.strictEqual((yield* counter("balance_archive_continuity_stops_total")) - stopsBefore, 1)
        assert.isTrue((yield* (yield* HistoryStore).stopped([settled])).has(settled))
        // Nothing of it trimmed or retired: its entries stay in Redis; the archive keeps the old chain.
        assert.strictEqual(yield* Effect.promise(() => redis.llen(keys.ledger(settled))), 2)
        assert.deepStrictEqual(yield* (yield* HistoryStore).entries(settled, 0, 100), archivedBefore)
        yield* (yield* Archiver).drain()
        assert.strictEqual(yield* Effect.promise(() => redis.llen(keys.ledger(settled))), 2)
        assert.strictEqual((yield* ledger.pot("t1", "r1-h1")).value?.status, "ACTIVE")
      }).pipe(Effect.provide(books))
    })))
})
