import { assert, layer } from "@effect/vitest"
import { Deferred, Effect, Fiber, Layer } from "effect"
import { makeWatchAccount } from "../../src/api/grpc/watchAccount.ts"
import { Archiver } from "../../src/archive/Archiver.ts"
import { Ledger } from "../../src/ledger/Ledger.ts"
import { openArchivedBooks } from "../support/archivedBooks.ts"
import { freshDatabase } from "../support/historyFixtures.ts"
import { TestPostgres } from "../support/postgresServer.ts"
import { TestRedis } from "../support/redisServer.ts"
import { eventually, unique } from "../store/planFixtures.ts"

layer(Layer.mergeAll(TestRedis.layer, TestPostgres.layer), { timeout: 120_000, excludeTestServices: true })("WatchAccount with the history tier", (it) => {
  it.effect("an entry whose event the archiver trimmed before the watcher polled is still delivered, in order, once", () =>
    Effect.gen(function*() {
      const books = yield* openArchivedBooks(unique("watch") + ":", yield* freshDatabase)
      yield* Effect.gen(function*() {
        const ledger = yield* Ledger
        yield* ledger.execute({ op: "EnsureAccount", accountId: "wendy", initialBalance: 100 })
        yield* (yield* Archiver).drain()
        // Polls once a second: the deposit's event is written, archived and trimmed in between.
        const watch = yield* makeWatchAccount(1_000)
        const seen: Array<{ seq: string; type: string }> = []
        const live = yield* Deferred.make<void>()
        const watcher = yield* Effect.forkChild(watch(
          { accountId: "wendy" },
          (m) => Effect.sync(() => void seen.push({ seq: String((m as { seq: unknown }).seq), type: (m as { type: string }).type })),
          () => Deferred.succeed(live, undefined).pipe(Effect.asVoid)
        ))
        yield* Deferred.await(live)
        // The watcher polls once right away, then sleeps a second: let that first (empty) poll pass,
        // so that the deposit below is written, archived and trimmed while it sleeps.
        yield* Effect.sleep("300 millis")
        yield* ledger.execute({ op: "Deposit", accountId: "wendy", amount: 5, source: "PROMO", idempotencyKey: "w-dep" })
        yield* (yield* Archiver).drain()
        yield* eventually(Effect.sync(() => seen.length), (n) => n >= 1, 10_000)
        yield* Fiber.interrupt(watcher)
        assert.deepStrictEqual(seen, [{ seq: "2", type: "DEPOSIT" }])
      }).pipe(Effect.provide(books))
    }))
})
