/**
 * An account the archive stopped for (a real continuity stop) keeps its entries and transfers in
 * Redis, while the events its transfer list references are archived and trimmed: trim.lua writes
 * those references out in full first ("keep" mode, materialised). Here, through the Archiver on a
 * real redis-server and PostgreSQL, with play going on between passes: the stopped account's
 * history reads whole and the same (every page, through the tiered store and the HTTP API) before
 * and after its events left the stream, the other accounts are archived and trimmed as usual, and
 * the stop is counted and reported once.
 */
import { assert, layer } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import { Archiver, type PassReport } from "../../src/archive/Archiver.ts"
import { ArchiveStatus } from "../../src/archive/ArchiveStatus.ts"
import type { AccountRef } from "../../src/domain/accounts.ts"
import type { Transfer } from "../../src/domain/transfer.ts"
import { HistoryStore } from "../../src/history/HistoryStore.ts"
import { Ledger } from "../../src/ledger/Ledger.ts"
import { Metrics } from "../../src/observability/Metrics.ts"
import { redisKeys } from "../../src/store/redis/redisKeys.ts"
import { type Page, Store } from "../../src/store/Store.ts"
import { admin } from "../http/support/client.ts"
import { TestHttpServer } from "../http/support/testServer.ts"
import { openArchivedBooks } from "../support/archivedBooks.ts"
import { freshDatabase } from "../support/historyFixtures.ts"
import { TestPostgres } from "../support/postgresServer.ts"
import { TestRedis } from "../support/redisServer.ts"
import { playRound } from "../support/smallGame.ts"
import { unique } from "../store/planFixtures.ts"

const REF = /^\d+-\d+#\d+$/
const ALICE = "w:alice"
/** Accounts new to the restored Redis: their chains start at GENESIS, so they continue the archive. */
const NEW_PLAYERS = ["w:dave", "w:erin"] as const

/** Every page of an account's transfers through the (tiered) store, newest first, in pages of 3. */
const storePages = (account: AccountRef) =>
  Effect.gen(function*() {
    const store = yield* Store
    const pages: Array<ReadonlyArray<Transfer>> = []
    let cursor: string | null = null
    do {
      const page: Page<Transfer> = yield* store.transfers(account, cursor, 3)
      pages.push(page.items)
      cursor = page.nextCursor
    } while (cursor !== null)
    return pages
  })

/** Every page of GET /api/accounts/<id>/transactions, in pages of 3, as the API answers them. */
const httpPages = (id: string) =>
  Effect.gen(function*() {
    const pages: Array<unknown> = []
    let cursor: string | null = null
    do {
      const path: string = `/api/accounts/${id}/transactions?limit=3${cursor === null ? "" : `&cursor=${cursor}`}`
      const reply = yield* admin.get(path)
      assert.strictEqual(reply.status, 200, `${path}: ${reply.text}`)
      pages.push(reply.body.items)
      cursor = reply.body.nextCursor ?? null
    } while (cursor !== null)
    return pages
  })

/** A few deposits into alice's wallet: transfers of the stopped account alone (mint -> alice). */
const depositsToAlice = (round: number) =>
  Effect.gen(function*() {
    const ledger = yield* Ledger
    for (let i = 1; i <= 3; i++) {
      yield* ledger.execute({ op: "Deposit", accountId: "alice", amount: round * 10 + i, source: "PROMO", idempotencyKey: `alice-${round}-${i}` })
    }
  })

const counter = (name: string) =>
  Effect.gen(function*() {
    const { registry } = yield* Metrics
    const metric = yield* Effect.promise(() => registry.getSingleMetric(name)!.get())
    return metric.values.reduce((n, v) => n + v.value, 0)
  })

layer(Layer.mergeAll(TestRedis.layer, TestPostgres.layer), { timeout: 180_000, excludeTestServices: true })("An account the archive stopped for, its list referencing the stream", (it) => {
  it.effect("its entries and transfers stay in Redis and read whole and the same, every page, while the events they referenced are trimmed; the others are archived and trimmed", () =>
    Effect.gen(function*() {
      const url = yield* freshDatabase
      const raw = yield* TestRedis.rawClient
      // The archive holds round 1 of one Redis. Another namespace stands for that Redis restored
      // from an older backup: alice's chain there is not the archived one (same seqs, other entries).
      const original = yield* openArchivedBooks(unique("orig") + ":", url)
      yield* Effect.gen(function*() {
        yield* playRound(1)
        yield* (yield* Archiver).drain()
      }).pipe(Effect.provide(original))

      const prefix = unique("restored") + ":"
      const keys = redisKeys(prefix)
      const books = yield* openArchivedBooks(prefix, url, { batchEvents: 4 })
      const status = yield* Layer.build(ArchiveStatus.layer({ database: "external", laggingAfterMs: 60_000 }).pipe(
        Layer.provide(Layer.succeedContext(books))
      ))
      const http = yield* Layer.build(TestHttpServer.layer(Layer.succeed(Store, Context.get(books, Store))))

      yield* Effect.gen(function*() {
        const archiver = yield* Archiver
        const store = yield* Store
        const history = yield* HistoryStore
        const rawList = (key: string) => Effect.promise(() => raw.lrange(key, 0, -1))
        /** Alice's history as every reader sees it: pages of the store and of the HTTP API, her entries. */
        const aliceReads = Effect.gen(function*() {
          return {
            pages: yield* storePages(ALICE),
            http: yield* httpPages("alice").pipe(Effect.provide(http)),
            entries: yield* store.entries(ALICE, 0, 100_000)
          }
        })
        const reports: Array<PassReport> = []

        // Play, then archive and trim batch by batch (4 events each) with more play in between, so
        // that each trim finds alice's list partly written out already and partly referencing.
        let previous: Effect.Success<typeof aliceReads> | null = null
        for (const round of [2, 3, 4, 5]) {
          // Alice wins some pots (first player) and loses to dave in others; pots are new accounts.
          yield* playRound(round, round % 2 === 0 ? ["alice", "dave", "erin"] : ["dave", "alice", "erin"])
          yield* depositsToAlice(round)

          const before = yield* aliceReads
          if (previous !== null) {
            const transfers = before.pages.flat()
            const earlier = previous.pages.flat()
            assert.deepStrictEqual(transfers.slice(transfers.length - earlier.length), earlier, `round ${round}: alice's older transfers as before`)
            assert.deepStrictEqual(before.entries.slice(0, previous.entries.length), previous.entries, `round ${round}: alice's older entries as before`)
          }
          const elements = yield* rawList(keys.transfers(ALICE))
          assert.isTrue(elements.some((e) => REF.test(e)), `round ${round}: alice's new transfers are references into the stream`)

          // Two archive passes (each trimmed after its commit), then the rest in one drain.
          reports.push(...(yield* archiver.drain(2)))
          const between = yield* aliceReads
          assert.deepStrictEqual(between, before, `round ${round}: alice after part of the stream was trimmed`)
          reports.push(...(yield* archiver.drain()))
          const after = yield* aliceReads
          assert.deepStrictEqual(after, before, `round ${round}: alice after every event she referenced was trimmed`)

          // Her list now holds each transfer in full, byte for byte what the events held.
          const written = yield* rawList(keys.transfers(ALICE))
          assert.isTrue(written.every((e) => e.startsWith("{")), `round ${round}: no reference left in alice's list`)
          assert.deepStrictEqual(written.map((e) => JSON.parse(e) as Transfer), before.pages.flat().reverse())
          assert.strictEqual(yield* Effect.promise(() => raw.xlen(keys.events)), 0, `round ${round}: the stream was trimmed to the end`)
          previous = after
        }

        // The stop: found once (the first batch alice appears in), counted, reported by the status.
        const stops = reports.flatMap((r) => r.stops)
        assert.strictEqual(stops.filter((s) => s.account === ALICE).length, 1, JSON.stringify(stops))
        for (const account of NEW_PLAYERS) assert.isFalse(stops.some((s) => s.account === account), `${account} continues the archive`)
        assert.strictEqual(yield* counter("balance_archive_continuity_stops_total"), stops.length)
        const report = yield* ArchiveStatus.use((s) => s.status()).pipe(Effect.provide(status))
        assert.strictEqual(report.state, "STOPPED")
        assert.include(
          report.state === "NOT_CONFIGURED" ? [] : report.continuityStops.map((s) => s.account),
          ALICE
        )

        // Nothing of alice was trimmed: every entry and every transfer is still in Redis.
        const aliceHead = (yield* store.load([ALICE])).objects.get(ALICE)!.value as { readonly seq: number }
        assert.strictEqual((yield* store.entryPage(ALICE, 0, 1)).trimmedThrough, 0)
        assert.strictEqual(yield* Effect.promise(() => raw.llen(keys.ledger(ALICE))), aliceHead.seq)
        assert.strictEqual(previous!.entries.length, aliceHead.seq)
        assert.strictEqual((yield* store.transfers(ALICE, null, 1)).floor, 0, "no transfer of alice popped")
        assert.strictEqual(yield* Effect.promise(() => raw.llen(keys.transfers(ALICE))), previous!.pages.flat().length)

        // The others: archived whole, then trimmed from Redis; their reads come from PostgreSQL.
        for (const account of NEW_PLAYERS) {
          const head = (yield* history.heads([account])).get(account)
          assert.isDefined(head, account)
          assert.isAbove(head!.seq, 0)
          assert.strictEqual((yield* store.entryPage(account, 0, 1)).trimmedThrough, head!.seq, `${account}'s entries trimmed`)
          assert.strictEqual(yield* Effect.promise(() => raw.llen(keys.ledger(account))), 0, `${account}'s ledger list emptied`)
          assert.strictEqual(yield* Effect.promise(() => raw.llen(keys.transfers(account))), 0, `${account}'s transfer list emptied`)
          assert.deepStrictEqual(yield* store.entries(account, 0, 100_000), yield* history.entries(account, 0, 100_000))
          const transfers = (yield* storePages(account)).flat()
          assert.deepStrictEqual(transfers, (yield* history.transfers(account)).map((t) => t.transfer).reverse())
          assert.isAbove(transfers.length, 0)
        }
      }).pipe(Effect.provide(books))
    }))
})
