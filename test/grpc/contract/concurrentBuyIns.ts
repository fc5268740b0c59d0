import { assert } from "@effect/vitest"
import { Effect } from "effect"
import { type ContractIt, ensure } from "../support/contractIt.ts"
import { call, ok } from "../support/expectations.ts"

export const concurrentBuyIns = (it: ContractIt) => {
  it.effect("50 concurrent ReserveForBuyIn from one account never overdraw: held = Σ HELD reservations", () =>
    Effect.gen(function*() {
      yield* ensure("cc-whale", 1000)
      const answers = yield* Effect.forEach(
        Array.from({ length: 50 }, (_, i) => i),
        (i) => call("ReserveForBuyIn", { account_id: "cc-whale", table_id: `cc-t${i}`, amount: "30", idempotency_key: `cc-${i}` }),
        { concurrency: "unbounded" }
      )
      const accepted = answers.filter((a) => a.ok)
      const refused = answers.filter((a) => !a.ok)
      // 33 × 30 = 990 fits in 1000; a 34th would not.
      assert.lengthOf(accepted, 33)
      assert.isTrue(refused.every((a) => a.error === "INSUFFICIENT_BALANCE"), JSON.stringify(refused.map((a) => a.error)))
      assert.strictEqual(new Set(accepted.map((a) => a.reservation_id)).size, 33)
      for (const a of accepted) assert.isAtLeast(Number(a.available_balance), 0)
      const wallet = yield* call("GetBalance", { account_id: "cc-whale" })
      let heldByReservations = 0
      for (const a of accepted) {
        const r = yield* ok("GetReservation", { reservation_id: a.reservation_id })
        if (r.status === "HELD") heldByReservations += Number(r.amount)
      }
      assert.deepInclude(wallet, { balance: "1000", held: "990", available_balance: "10" })
      assert.strictEqual(heldByReservations, 990)
    }))
}
