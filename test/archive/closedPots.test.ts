/**
 * Issue 14: once PostgreSQL holds a settled pot whole, Redis keeps only its marker (the pot
 * without contributions, same version and head). The marker must keep refusing what the pot
 * refused, keep its hand id taken, and every read must answer as before archiving.
 */
import { assert, layer } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { Redis } from "ioredis"
import { Archiver } from "../../src/archive/Archiver.ts"
import { potKey, type PotState } from "../../src/domain/accounts.ts"
import { Ledger } from "../../src/ledger/Ledger.ts"
import { LedgerVerifier } from "../../src/ledger/LedgerVerifier.ts"
import { Metrics } from "../../src/observability/Metrics.ts"
import { redisKeys } from "../../src/store/redis/redisKeys.ts"
import { openArchivedBooks } from "../support/archivedBooks.ts"
import { freshDatabase } from "../support/historyFixtures.ts"
import { TestPostgres } from "../support/postgresServer.ts"
import { TestRedis } from "../support/redisServer.ts"
import { playRound } from "../support/smallGame.ts"
import { unique } from "../store/planFixtures.ts"

const PLAYERS = ["alice", "bob", "carol", "dave", "erin", "frank"]

/** A raw client on the test Redis for the test's scope (to look at what the store keeps). */
const rawRedis = Effect.acquireRelease(
  Effect.gen(function*() {
    const server = yield* TestRedis
    return new Redis(server.url)
  }),
  (redis) => Effect.sync(() => redis.disconnect())
)

/** What Redis holds for an object: its hash fields, the bytes of its JSON and of the whole key (MEMORY USAGE). */
const storedObject = (redis: Redis, prefix: string, key: string) =>
  Effect.promise(async () => {
    const redisKey = redisKeys(prefix).object(key)
    const fields = await redis.hgetall(redisKey)
    const memoryUsage = Number(await redis.call("MEMORY", "USAGE", redisKey, "SAMPLES", "0"))
    return { fields, jsonBytes: Buffer.byteLength(fields.d ?? ""), memoryUsage }
  })

const counter = (name: string, labels: Record<string, string>) =>
  Effect.gen(function*() {
    const { registry } = yield* Metrics
    const metric = yield* Effect.promise(() => registry.getSingleMetric(name)!.get())
    return metric.values.filter((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x)).reduce((n, v) => n + v.value, 0)
  })

layer(Layer.mergeAll(TestRedis.layer, TestPostgres.layer), { timeout: 120_000, excludeTestServices: true })("Settled pots compacted to markers in Redis", (it) => {
  it.effect("a settled pot becomes its marker after archiving: smaller, still refusing, read the same; active and cancelled pots stay whole", () =>
    Effect.scoped(Effect.gen(function*() {
      const prefix = unique("closedpots") + ":"
      const books = yield* openArchivedBooks(prefix, yield* freshDatabase)
      const redis = yield* rawRedis
      yield* Effect.gen(function*() {
        const ledger = yield* Ledger
        // Round 1 at t1: hand r1-h1 settled, r1-h2 cancelled; and a hand left open.
        yield* playRound(1, PLAYERS)
        yield* ledger.execute({
          op: "Contribute", tableId: "t1", handId: "r1-open", seatId: 1, accountId: "alice", amount: 5, contributionType: "BET",
          idempotencyKey: "open-1"
        })
        const settled = potKey("t1", "r1-h1")
        const cancelled = potKey("t1", "r1-h2")
        const active = potKey("t1", "r1-open")
        const hands = ["r1-h1", "r1-h2", "r1-open"] as const
        const readPots = Effect.forEach(hands, (h) => ledger.pot("t1", h))
        const potsBefore = yield* readPots
        assert.deepStrictEqual(potsBefore.map((p) => p.value?.status), ["SETTLED", "CANCELLED", "ACTIVE"])
        assert.strictEqual(potsBefore[0]!.value!.contributions.length, PLAYERS.length)
        const redisBefore = yield* Effect.forEach([settled, cancelled, active], (k) => storedObject(redis, prefix, k))

        const reports = yield* (yield* Archiver).drain()
        assert.strictEqual(reports.reduce((n, r) => n + r.compacted, 0), 1, "one settled pot compacted")
        assert.strictEqual(yield* counter("balance_archive_trimmed_total", { kind: "closed" }), 1)
        assert.strictEqual(yield* counter("balance_archive_trim_skips_total", { part: "closed" }), 0)

        // In Redis: the marker, at the same version, with the same head, and smaller.
        const [settledAfter, cancelledAfter, activeAfter] = yield* Effect.forEach([settled, cancelled, active], (k) => storedObject(redis, prefix, k))
        const full = JSON.parse(redisBefore[0]!.fields.d!) as PotState
        assert.deepStrictEqual(JSON.parse(settledAfter!.fields.d!), { ...full, contributions: [], archived: true })
        assert.strictEqual(settledAfter!.fields.v, redisBefore[0]!.fields.v, "same version")
        assert.isBelow(settledAfter!.jsonBytes, redisBefore[0]!.jsonBytes)
        assert.isBelow(settledAfter!.memoryUsage, redisBefore[0]!.memoryUsage)
        yield* Effect.logInfo("settled pot in Redis before/after compaction").pipe(
          Effect.annotateLogs({
            seats: PLAYERS.length,
            jsonBytes: `${redisBefore[0]!.jsonBytes} -> ${settledAfter!.jsonBytes}`,
            memoryUsage: `${redisBefore[0]!.memoryUsage} -> ${settledAfter!.memoryUsage}`
          })
        )
        // An active pot and a cancelled one (a repeated Cancel answers its refunds from the contributions) stay whole.
        assert.deepStrictEqual(cancelledAfter!.fields, redisBefore[1]!.fields)
        assert.deepStrictEqual(activeAfter!.fields, redisBefore[2]!.fields)

        // Reads answer as before archiving (the full state from PostgreSQL, Redis' version).
        assert.deepStrictEqual(yield* readPots, potsBefore)

        // A late contribution and a second settle are refused and change nothing.
        const late = yield* Effect.flip(ledger.execute({
          op: "Contribute", tableId: "t1", handId: "r1-h1", seatId: 2, accountId: "bob", amount: 5, contributionType: "BET",
          idempotencyKey: "late-bet"
        }))
        assert.deepInclude(late, { _tag: "Refusal", code: "POT_NOT_ACTIVE" })
        const again = yield* Effect.flip(ledger.execute({
          op: "Settle", tableId: "t1", handId: "r1-h1", winners: [{ seatId: 1, accountId: "alice", amount: 1 }], idempotencyKey: "settle-again"
        }))
        assert.deepInclude(again, { _tag: "Refusal", code: "POT_NOT_ACTIVE" })
        const cancelSettled = yield* Effect.flip(ledger.execute({ op: "Cancel", tableId: "t1", handId: "r1-h1", reason: "late" }))
        assert.deepInclude(cancelSettled, { _tag: "Refusal", code: "POT_NOT_ACTIVE" })
        assert.deepStrictEqual((yield* storedObject(redis, prefix, settled)).fields, settledAfter!.fields)
        assert.strictEqual(yield* Effect.promise(() => redis.xlen(redisKeys(prefix).events)), 0, "no event written since the trim")
        assert.deepStrictEqual(yield* readPots, potsBefore)
        // The cancelled pot still answers a repeated Cancel with its refunds.
        const recancel = yield* ledger.execute({ op: "Cancel", tableId: "t1", handId: "r1-h2", reason: "retry" })
        assert.strictEqual(recancel.result.refunds.length, PLAYERS.length)

        // A new hand id still opens a pot.
        const opened = yield* ledger.execute({
          op: "Contribute", tableId: "t1", handId: "r1-h3", seatId: 2, accountId: "bob", amount: 5, contributionType: "BET",
          idempotencyKey: "new-hand"
        })
        assert.strictEqual(opened.result.totalPot, 5)
        assert.deepInclude((yield* ledger.pot("t1", "r1-h3")).value!, { status: "ACTIVE", balance: 5 })

        // Archiving what followed compacts nothing more (no new settled pot) and verification is clean across the seam.
        const more = yield* (yield* Archiver).drain()
        assert.strictEqual(more.reduce((n, r) => n + r.compacted, 0), 0)
        const report = yield* (yield* LedgerVerifier).verifyAll()
        assert.deepStrictEqual(report.findings, [])
        assert.isTrue(report.ok)
      }).pipe(Effect.provide(books))
    })))

  it.effect("PostgreSQL down: an archived pot's read answers StoreUnavailable (UNAVAILABLE / 503), a pot Redis holds whole still reads, and the marker still refuses", () =>
    Effect.scoped(Effect.gen(function*() {
      const pg = yield* TestPostgres
      const books = yield* openArchivedBooks(unique("closedpg") + ":", yield* freshDatabase)
      yield* Effect.gen(function*() {
        const ledger = yield* Ledger
        yield* playRound(1)
        const before = yield* ledger.pot("t1", "r1-h1")
        yield* (yield* Archiver).drain()
        yield* Effect.promise(pg.stop)
        const down = yield* Effect.flip(ledger.pot("t1", "r1-h1"))
        assert.strictEqual(down._tag, "StoreUnavailable")
        assert.strictEqual(down.operation, "history.closedObject")
        assert.strictEqual((yield* ledger.pot("t1", "r1-h2")).value?.status, "CANCELLED", "Redis holds the cancelled pot whole")
        // The write path needs no PostgreSQL: the marker refuses on its own.
        const late = yield* Effect.flip(ledger.execute({
          op: "Contribute", tableId: "t1", handId: "r1-h1", seatId: 2, accountId: "bob", amount: 5, contributionType: "BET",
          idempotencyKey: "late-while-pg-down"
        }))
        assert.deepInclude(late, { _tag: "Refusal", code: "POT_NOT_ACTIVE" })
        yield* Effect.promise(pg.restart)
        assert.deepStrictEqual(yield* ledger.pot("t1", "r1-h1"), before)
      }).pipe(Effect.provide(books))
    })))
})
