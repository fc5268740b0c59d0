import { assert, layer } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { Redis } from "ioredis"
import { Archiver } from "../../src/archive/Archiver.ts"
import { Ledger } from "../../src/ledger/Ledger.ts"
import { LedgerVerifier } from "../../src/ledger/LedgerVerifier.ts"
import { redisKeys } from "../../src/store/redis/redisKeys.ts"
import { freshDatabase } from "../support/historyFixtures.ts"
import { TestPostgres } from "../support/postgresServer.ts"
import { TestRedis } from "../support/redisServer.ts"
import { openArchivedBooks } from "../support/archivedBooks.ts"
import { readEverything } from "../support/historyReads.ts"
import { playRound } from "../support/smallGame.ts"
import { unique } from "../store/planFixtures.ts"

const openBooks = openArchivedBooks

const redisFootprint = (prefix: string) =>
  Effect.gen(function*() {
    const server = yield* TestRedis
    const raw = new Redis(server.url)
    try {
      const keys = redisKeys(prefix)
      const events = yield* Effect.promise(() => raw.xlen(keys.events))
      const lists = yield* Effect.promise(() => raw.keys(`${prefix}ledger:*`))
      const transferLists = yield* Effect.promise(() => raw.keys(`${prefix}transfers:*`))
      return { events, ledgerLists: lists.length, transferLists: transferLists.length }
    } finally {
      raw.disconnect()
    }
  })

layer(Layer.mergeAll(TestRedis.layer, TestPostgres.layer), { timeout: 120_000, excludeTestServices: true })("History reads across Redis and PostgreSQL", (it) => {
  it.effect("a game's every page reads the same before and after the archiver moved it to PostgreSQL and trimmed Redis; verification stays clean", () =>
    Effect.gen(function*() {
      const prefix = unique("tiered") + ":"
      const books = yield* openBooks(prefix, yield* freshDatabase)
      yield* Effect.gen(function*() {
        yield* playRound(1)
        yield* playRound(2)
        const before = yield* readEverything
        const grown = yield* redisFootprint(prefix)
        assert.isAbove(grown.events, 20)
        const archiver = yield* Archiver
        yield* archiver.drain()
        const trimmed = yield* redisFootprint(prefix)
        assert.deepStrictEqual(trimmed, { events: 0, ledgerLists: 0, transferLists: 0 }, "Redis keeps nothing archived")
        const after = yield* readEverything
        assert.deepStrictEqual(after, before)
        // New writes land in Redis and read seamlessly after the archived part.
        yield* playRound(3)
        const mixed = yield* readEverything
        yield* archiver.drain()
        assert.deepStrictEqual(yield* readEverything, mixed)
        const report = yield* (yield* LedgerVerifier).verifyAll()
        assert.deepStrictEqual(report.findings, [])
        assert.isTrue(report.ok)
      }).pipe(Effect.provide(books))
    }))

  it.effect("PostgreSQL down: reads that need the archive answer StoreUnavailable, reads Redis can answer and every write go on", () =>
    Effect.gen(function*() {
      const pg = yield* TestPostgres
      const books = yield* openBooks(unique("pgdown") + ":", yield* freshDatabase)
      yield* Effect.gen(function*() {
        const ledger = yield* Ledger
        yield* playRound(1)
        yield* (yield* Archiver).drain()
        const archivedHead = (yield* ledger.wallet("alice")).value!.seq
        yield* Effect.promise(pg.stop)
        const down = yield* Effect.flip(ledger.entries("w:alice", 0, 10))
        assert.strictEqual(down._tag, "StoreUnavailable")
        assert.strictEqual(down.operation, "history.entries")
        yield* ledger.execute({ op: "Deposit", accountId: "alice", amount: 5, source: "PROMO", idempotencyKey: "while-pg-down" })
        yield* playRound(2)
        const recent = yield* ledger.entries("w:alice", archivedHead, 100)
        assert.strictEqual(recent[0]?.seq, archivedHead + 1, "Redis still answers what it holds")
        const pass = yield* Effect.flip((yield* Archiver).drain())
        assert.strictEqual(pass._tag, "HistoryUnavailable")
        yield* Effect.promise(pg.restart)
        // Back: the archive catches up and everything reads again.
        yield* (yield* Archiver).drain()
        const all = yield* ledger.entries("w:alice", 0, 1000)
        assert.deepStrictEqual(all.map((e) => e.seq), Array.from({ length: all.length }, (_, i) => i + 1))
        assert.strictEqual(all.length, (yield* ledger.wallet("alice")).value!.seq)
      }).pipe(Effect.provide(books))
    }))
})
