import { assert, layer } from "@effect/vitest"
import { Deferred, Effect, Fiber, Layer, Ref } from "effect"
import { makeWatchAccount } from "../../src/api/grpc/watchAccount.ts"
import { Archiver } from "../../src/archive/Archiver.ts"
import { Ledger } from "../../src/ledger/Ledger.ts"
import { Store } from "../../src/store/Store.ts"
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
        // The watcher's polls are gated: its first poll runs, its second one (trimState, the first step
        // of each poll) waits until the deposit below was written, archived and trimmed. No timing.
        const store = yield* Store
        const pollsStarted = yield* Ref.make(0)
        const depositTrimmed = yield* Deferred.make<void>()
        const gatedStore: Store["Service"] = {
          ...store,
          trimState: (accounts) =>
            Ref.updateAndGet(pollsStarted, (n) => n + 1).pipe(
              Effect.flatMap((n) => n === 1 ? Effect.void : Deferred.await(depositTrimmed)),
              Effect.andThen(store.trimState(accounts))
            )
        }
        const watch = yield* makeWatchAccount(10).pipe(Effect.provideService(Store, gatedStore))
        const seen: Array<{ seq: string; type: string }> = []
        const watcher = yield* Effect.forkChild(watch(
          { accountId: "wendy" },
          (m) => Effect.sync(() => void seen.push({ seq: String((m as { seq: unknown }).seq), type: (m as { type: string }).type })),
          () => Effect.void
        ))
        // The first poll is done (it found nothing) once the second one waits at the gate.
        yield* eventually(Ref.get(pollsStarted), (n) => n >= 2, 10_000)
        const cursorBefore = (yield* store.trimState([])).cursor
        yield* ledger.execute({ op: "Deposit", accountId: "wendy", amount: 5, source: "PROMO", idempotencyKey: "w-dep" })
        yield* (yield* Archiver).drain()
        // The deposit's event left the stream before the watcher could read it there.
        assert.notStrictEqual((yield* store.trimState([])).cursor, cursorBefore)
        assert.deepStrictEqual(yield* store.eventsAfter(cursorBefore, 10), [])
        yield* Deferred.succeed(depositTrimmed, undefined)
        yield* eventually(Effect.sync(() => seen.length), (n) => n >= 1, 10_000)
        yield* Fiber.interrupt(watcher)
        assert.deepStrictEqual(seen, [{ seq: "2", type: "DEPOSIT" }])
      }).pipe(Effect.provide(books))
    }))
})
