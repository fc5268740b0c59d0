import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { TestClock } from "effect/testing"
import { HistoryStore, HistoryUnavailable } from "../../src/history/HistoryStore.ts"
import * as MemoryHistoryStore from "../../src/history/MemoryHistoryStore.ts"
import { RETIRED_POT_CHECK_PAUSE_MS, makeTieredStore } from "../../src/history/TieredStore.ts"
import { Ledger } from "../../src/ledger/Ledger.ts"
import { MemoryStore } from "../../src/store/memory/MemoryStore.ts"
import { Store } from "../../src/store/Store.ts"
import { ledgerCoreOn } from "../support/ledgerLayers.ts"

/**
 * The pot-open check against retired pots (TieredStore.apply) while PostgreSQL does not answer:
 * the open goes ahead unchecked, and so do the opens of the next RETIRED_POT_CHECK_PAUSE_MS without
 * asking again (a hung PostgreSQL delays one hand per pause, not every hand); after the pause the
 * next open asks again. The history store here is the in-memory one with `closedObjects` failing
 * and counted: the policy under test is TieredStore's, not PostgreSQL's (the real server's down
 * and reuse cases are in test/archive/retirement.test.ts).
 */
describe("pot opens while the history store does not answer", () => {
  it.effect("one open asks and goes ahead unchecked; the next ones skip the check until the pause is over, then one asks again", () =>
    Effect.gen(function*() {
      let asked = 0
      const failing = HistoryStore.of({
        ...MemoryHistoryStore.makeMemoryHistoryStore(),
        closedObjects: () =>
          Effect.suspend(() => {
            asked += 1
            return Effect.fail(new HistoryUnavailable({ operation: "closedObjects", reason: "connection refused" }))
          })
      })
      const store = Layer.succeed(Store, makeTieredStore(MemoryStore.make(), failing))
      yield* Effect.gen(function*() {
        const ledger = yield* Ledger
        yield* ledger.execute({ op: "EnsureAccount", accountId: "alice", initialBalance: 1_000 })
        const hold = yield* ledger.execute({ op: "Reserve", accountId: "alice", tableId: "t1", amount: 500, timeoutMs: 0, idempotencyKey: "hold" })
        yield* ledger.execute({ op: "Commit", reservationId: hold.result.reservationId })
        const open = (handId: string) =>
          ledger.execute({ op: "Contribute", tableId: "t1", handId, seatId: 1, accountId: "alice", amount: 5, contributionType: "BET", idempotencyKey: `c-${handId}` })

        yield* open("h1")
        assert.strictEqual(asked, 1, "the first open asked")
        yield* open("h2")
        yield* TestClock.adjust(RETIRED_POT_CHECK_PAUSE_MS - 1)
        yield* open("h3")
        assert.strictEqual(asked, 1, "opens within the pause did not ask")
        yield* TestClock.adjust(1)
        yield* open("h4")
        assert.strictEqual(asked, 2, "after the pause the next open asked again")
        for (const hand of ["h1", "h2", "h3", "h4"]) {
          assert.strictEqual((yield* ledger.pot("t1", hand)).value?.status, "ACTIVE", `${hand} opened unchecked`)
        }
      }).pipe(Effect.provide(ledgerCoreOn(store)))
    }))
})
