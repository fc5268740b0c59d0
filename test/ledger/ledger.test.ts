import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { TestClock } from "effect/testing"
import { Ledger } from "../../src/ledger/Ledger.ts"
import { LedgerVerifier } from "../../src/ledger/LedgerVerifier.ts"
import { memoryLedger } from "../support/ledgerLayers.ts"

const refusalCode = <A, E>(effect: Effect.Effect<A, E>) =>
  Effect.flip(effect).pipe(Effect.map((e) => (e as { code?: string; _tag: string }).code ?? (e as { _tag: string })._tag))

describe("Ledger (memory store)", () => {
  it.effect("buy-in, hand, settle and cash-out keep every chip accounted for", () =>
    Effect.gen(function*() {
      const ledger = yield* Ledger
      yield* ledger.execute({ op: "EnsureAccount", accountId: "alice", initialBalance: 1000 })
      yield* ledger.execute({ op: "EnsureAccount", accountId: "bob", initialBalance: 500 })
      const ra = yield* ledger.execute({ op: "Reserve", accountId: "alice", tableId: "t1", amount: 400, timeoutMs: 0, idempotencyKey: "ra" })
      const rb = yield* ledger.execute({ op: "Reserve", accountId: "bob", tableId: "t1", amount: 500, timeoutMs: 0, idempotencyKey: "rb" })
      assert.strictEqual(ra.result.availableBalance, 600)
      const ca = yield* ledger.execute({ op: "Commit", reservationId: ra.result.reservationId })
      assert.strictEqual(ca.result.newBalance, 600)
      const again = yield* ledger.execute({ op: "Commit", reservationId: ra.result.reservationId })
      assert.strictEqual(again.result.transactionId, ca.result.transactionId)
      yield* ledger.execute({ op: "Commit", reservationId: rb.result.reservationId })
      yield* ledger.execute({ op: "Contribute", tableId: "t1", handId: "h1", seatId: 1, accountId: "alice", amount: 300, contributionType: "BET", idempotencyKey: "c1" })
      const c2 = yield* ledger.execute({ op: "Contribute", tableId: "t1", handId: "h1", seatId: 2, accountId: "bob", amount: 500, contributionType: "ALL_IN", idempotencyKey: "c2" })
      assert.strictEqual(c2.result.totalPot, 800)
      const settled = yield* ledger.execute({ op: "Settle", tableId: "t1", handId: "h1", winners: [{ seatId: 2, accountId: "bob", amount: 800 }], idempotencyKey: "s1" })
      assert.strictEqual(settled.result.results[0]!.newBalance, 800)
      assert.strictEqual(yield* refusalCode(ledger.execute({ op: "Settle", tableId: "t1", handId: "h1", winners: [{ seatId: 2, accountId: "bob", amount: 800 }], idempotencyKey: "s2" })), "POT_NOT_ACTIVE")
      const out = yield* ledger.execute({ op: "CashOut", accountId: "bob", tableId: "t1", seatId: 2, amount: 800, idempotencyKey: "co" })
      assert.strictEqual(out.result.newBalance, 800)
      assert.strictEqual(yield* refusalCode(ledger.execute({ op: "CashOut", accountId: "alice", tableId: "t1", seatId: 1, amount: 101, idempotencyKey: "co2" })), "INSUFFICIENT_STACK")
      const report = yield* (yield* LedgerVerifier).verifyAll()
      assert.deepStrictEqual(report.findings, [])
      assert.strictEqual(report.totalBalance, 0)
    }).pipe(Effect.provide(memoryLedger())))

  it.effect("a commit after the deadline is refused before any sweep ran", () =>
    Effect.gen(function*() {
      const ledger = yield* Ledger
      yield* ledger.execute({ op: "EnsureAccount", accountId: "carol", initialBalance: 100 })
      const r = yield* ledger.execute({ op: "Reserve", accountId: "carol", tableId: "t9", amount: 100, timeoutMs: 1000, idempotencyKey: "r" })
      yield* TestClock.adjust("1001 millis")
      assert.strictEqual(yield* refusalCode(ledger.execute({ op: "Commit", reservationId: r.result.reservationId })), "RESERVATION_EXPIRED")
      const expired = yield* ledger.execute({ op: "Expire", reservationId: r.result.reservationId })
      assert.isTrue(expired.result.expired)
      assert.strictEqual(yield* refusalCode(ledger.execute({ op: "Commit", reservationId: r.result.reservationId })), "RESERVATION_NOT_HELD")
      const released = yield* ledger.execute({ op: "Release", reservationId: r.result.reservationId, reason: "late" })
      assert.strictEqual(released.result.availableBalance, 100)
    }).pipe(Effect.provide(memoryLedger())))

  it.effect("replays answer the first response; a reused key with another request is refused", () =>
    Effect.gen(function*() {
      const ledger = yield* Ledger
      yield* ledger.execute({ op: "EnsureAccount", accountId: "dave", initialBalance: 0 })
      const first = yield* ledger.execute({ op: "Deposit", accountId: "dave", amount: 50, source: "ADMIN", idempotencyKey: "d1" })
      const replay = yield* ledger.execute({ op: "Deposit", accountId: "dave", amount: 50, source: "ADMIN", idempotencyKey: "d1" })
      assert.isTrue(replay.replayed)
      assert.deepStrictEqual(replay.result, first.result)
      assert.strictEqual(yield* refusalCode(ledger.execute({ op: "Deposit", accountId: "dave", amount: 51, source: "ADMIN", idempotencyKey: "d1" })), "IDEMPOTENCY_KEY_REUSED")
      yield* ledger.execute({ op: "Withdraw", accountId: "dave", amount: 50, reason: "x", idempotencyKey: "w1" })
      // The state moved on (balance 0), yet a replay of the withdrawal still answers its original success.
      const wReplay = yield* ledger.execute({ op: "Withdraw", accountId: "dave", amount: 50, reason: "x", idempotencyKey: "w1" })
      assert.isTrue(wReplay.replayed)
      assert.strictEqual((yield* ledger.wallet("dave")).value!.balance, 0)
    }).pipe(Effect.provide(memoryLedger())))
})
