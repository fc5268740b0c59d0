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
/** An in-memory history store whose `closedObjects` fails (PostgreSQL down), counting the calls. */
const historyNotAnswering = () => {
  const calls = { asked: 0 }
  const history = HistoryStore.of({
    ...MemoryHistoryStore.makeMemoryHistoryStore(),
    closedObjects: () =>
      Effect.suspend(() => {
        calls.asked += 1
        return Effect.fail(new HistoryUnavailable({ operation: "closedObjects", reason: "connection refused" }))
      })
  })
  return { calls, history }
}

/** `accounts` each with a 500-chip stack at t1 (closed holds: no pot, nothing the check asks about). */
const seated = (accounts: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const ledger = yield* Ledger
    for (const accountId of accounts) {
      yield* ledger.execute({ op: "EnsureAccount", accountId, initialBalance: 1_000 })
      const hold = yield* ledger.execute({ op: "Reserve", accountId, tableId: "t1", amount: 500, timeoutMs: 0, idempotencyKey: `hold-${accountId}` })
      yield* ledger.execute({ op: "Commit", reservationId: hold.result.reservationId })
    }
  })

const contribute = (accountId: string, seatId: number, handId: string) =>
  Effect.flatMap(Ledger, (ledger) =>
    ledger.execute({ op: "Contribute", tableId: "t1", handId, seatId, accountId, amount: 5, contributionType: "BET", idempotencyKey: `c-${handId}-${accountId}` }))

describe("pot opens while the history store does not answer", () => {
  it.effect("one open asks and goes ahead unchecked; the next ones skip the check until the pause is over, then one asks again", () =>
    Effect.gen(function*() {
      const { calls, history } = historyNotAnswering()
      const store = Layer.succeed(Store, makeTieredStore(MemoryStore.make(), history))
      yield* Effect.gen(function*() {
        const ledger = yield* Ledger
        yield* seated(["alice"])
        const open = (handId: string) => contribute("alice", 1, handId)

        yield* open("h1")
        assert.strictEqual(calls.asked, 1, "the first open asked")
        yield* open("h2")
        yield* TestClock.adjust(RETIRED_POT_CHECK_PAUSE_MS - 1)
        yield* open("h3")
        assert.strictEqual(calls.asked, 1, "opens within the pause did not ask")
        yield* TestClock.adjust(1)
        yield* open("h4")
        assert.strictEqual(calls.asked, 2, "after the pause the next open asked again")
        for (const hand of ["h1", "h2", "h3", "h4"]) {
          assert.strictEqual((yield* ledger.pot("t1", hand)).value?.status, "ACTIVE", `${hand} opened unchecked`)
        }
      }).pipe(Effect.provide(ledgerCoreOn(store)))
    }))

  it.effect("an open the ledger reads first goes ahead the same: after a replay forgot the cached stack, and on an instance whose cache is cold", () =>
    Effect.gen(function*() {
      const { calls, history } = historyNotAnswering()
      const shared = MemoryStore.make()
      const store = Layer.succeed(Store, makeTieredStore(shared, history))
      yield* Effect.gen(function*() {
        const ledger = yield* Ledger
        yield* seated(["alice", "bob"])
        yield* contribute("alice", 1, "h1")
        yield* contribute("bob", 2, "h1")
        // The game retries alice's call: a replay, after which this instance reads her stack again.
        assert.isTrue((yield* contribute("alice", 1, "h1")).replayed)
        yield* ledger.execute({ op: "Settle", tableId: "t1", handId: "h1", winners: [{ seatId: 2, accountId: "bob", amount: 10 }], idempotencyKey: "s-h1" })
        yield* TestClock.adjust(RETIRED_POT_CHECK_PAUSE_MS)
        const opened = yield* contribute("alice", 1, "h2")
        assert.strictEqual(opened.result.totalPot, 5)
        assert.strictEqual(calls.asked, 2, "h1's open and h2's asked once each, bounded")
      }).pipe(Effect.provide(ledgerCoreOn(store)))
      // Another instance (its own ledger and cache) on the same Redis, PostgreSQL still down.
      yield* TestClock.adjust(RETIRED_POT_CHECK_PAUSE_MS)
      const opened = yield* contribute("bob", 2, "h3").pipe(Effect.provide(ledgerCoreOn(store)))
      assert.strictEqual(opened.result.totalPot, 5)
      assert.strictEqual(calls.asked, 3)
      // Only opens go ahead unchecked: settling or cancelling a pot Redis lacks needs the archive's answer (it may be a retired one).
      for (const command of [
        { op: "Settle", tableId: "t1", handId: "h-unseen", winners: [{ seatId: 1, accountId: "alice", amount: 5 }], idempotencyKey: "s-unseen" },
        { op: "Cancel", tableId: "t1", handId: "h-unseen", reason: "misdeal", idempotencyKey: "x-unseen" }
      ] as const) {
        const refused = yield* Effect.flip(Effect.flatMap(Ledger, (ledger) => ledger.execute(command)).pipe(Effect.provide(ledgerCoreOn(store))))
        assert.deepInclude(refused, { _tag: "StoreUnavailable", operation: "history.closedObjects" }, command.op)
      }
    }))
})
