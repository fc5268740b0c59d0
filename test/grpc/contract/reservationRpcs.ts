import { assert } from "@effect/vitest"
import { Effect } from "effect"
import { type ContractIt, ensure, key, stackOf } from "../support/contractIt.ts"
import { call, ok, refusedWith, TWO_POW_53, TWO_POW_63_MINUS_1 } from "../support/expectations.ts"
import { ShiftableClock } from "../support/shiftableClock.ts"

const reserve = (accountId: string, amount: number, idempotencyKey = key("r"), extra: Record<string, unknown> = {}) =>
  call("ReserveForBuyIn", { account_id: accountId, table_id: "t-res", amount: String(amount), idempotency_key: idempotencyKey, ...extra })

export const reservationRpcs = (it: ContractIt) => {
  it.effect("ReserveForBuyIn holds chips; the same key returns the same reservation; another request with it is refused", () =>
    Effect.gen(function*() {
      yield* ensure("r-hold", 1000)
      const first = yield* reserve("r-hold", 300, "r-hold-1")
      assert.deepInclude(first, { ok: true, error: "", available_balance: "700" })
      assert.isAbove(Number(first.expires_at_ms), 0)
      const again = yield* reserve("r-hold", 300, "r-hold-1")
      assert.deepInclude(again, { ok: true, reservation_id: first.reservation_id, available_balance: "700" })
      assert.deepInclude(yield* call("GetBalance", { account_id: "r-hold" }), { balance: "1000", held: "300", available_balance: "700" })
      assert.strictEqual(yield* refusedWith("ReserveForBuyIn", {
        account_id: "r-hold", table_id: "t-res", amount: "301", idempotency_key: "r-hold-1"
      }), "IDEMPOTENCY_KEY_REUSED")
      const held = yield* ok("GetReservation", { reservation_id: first.reservation_id })
      assert.deepInclude(held, { account_id: "r-hold", table_id: "t-res", amount: "300", status: "HELD" })
    }))

  it.effect("ReserveForBuyIn answers every refusal in-band, validation included, and changes nothing", () =>
    Effect.gen(function*() {
      yield* ensure("r-refuse", 100)
      const base = { account_id: "r-refuse", table_id: "t-res", amount: "10", idempotency_key: "r-refuse-k" }
      const cases: Array<[Record<string, unknown>, string]> = [
        [{ amount: "101" }, "INSUFFICIENT_BALANCE"],
        [{ account_id: "r-nobody" }, "ACCOUNT_NOT_FOUND"],
        [{ account_id: "" }, "INVALID_ACCOUNT_ID"],
        [{ account_id: "bad:id" }, "INVALID_ACCOUNT_ID"],
        [{ account_id: "x".repeat(129) }, "INVALID_ACCOUNT_ID"],
        [{ table_id: "" }, "INVALID_TABLE_ID"],
        [{ table_id: "t/1" }, "INVALID_TABLE_ID"],
        [{ amount: "0" }, "INVALID_AMOUNT"],
        [{ amount: "-1" }, "INVALID_AMOUNT"],
        [{ amount: -1 }, "INVALID_AMOUNT"],
        [{ amount: TWO_POW_53 }, "INVALID_AMOUNT"],
        [{ amount: TWO_POW_63_MINUS_1 }, "INVALID_AMOUNT"],
        [{ idempotency_key: "" }, "MISSING_IDEMPOTENCY_KEY"],
        [{ idempotency_key: "k".repeat(201) }, "INVALID_IDEMPOTENCY_KEY"],
        [{ timeout_seconds: -1 }, "INVALID_TIMEOUT"],
        [{ timeout_seconds: 3601 }, "INVALID_TIMEOUT"]
      ]
      for (const [patch, code] of cases) {
        const r = yield* call("ReserveForBuyIn", { ...base, ...patch })
        assert.deepInclude(r, { ok: false, error: code, reservation_id: "" }, JSON.stringify(patch))
        assert.notStrictEqual(r.error_message, "")
      }
      assert.deepInclude(yield* call("GetBalance", { account_id: "r-refuse" }), { balance: "100", held: "0" })
      // A refusal stores nothing under the key: the corrected retry goes through.
      assert.isTrue((yield* call("ReserveForBuyIn", base)).ok)
    }))

  it.effect("CommitReservation posts the buy-in once; a repeated commit answers the same transaction", () =>
    Effect.gen(function*() {
      yield* ensure("r-commit", 1000)
      const r = yield* reserve("r-commit", 400)
      const c = yield* ok("CommitReservation", { reservation_id: r.reservation_id })
      assert.deepInclude(c, { new_balance: "600" })
      assert.notStrictEqual(c.transaction_id, "")
      const again = yield* ok("CommitReservation", { reservation_id: r.reservation_id })
      assert.deepInclude(again, { transaction_id: c.transaction_id, new_balance: "600" })
      assert.strictEqual(yield* stackOf("t-res", "r-commit"), 400)
      assert.deepInclude(yield* call("GetBalance", { account_id: "r-commit" }), { balance: "600", held: "0", available_balance: "600" })
      assert.deepInclude(yield* ok("GetReservation", { reservation_id: r.reservation_id }), {
        status: "COMMITTED",
        transaction_id: c.transaction_id
      })
      // The reserve key still answers its original reservation.
      assert.strictEqual(yield* refusedWith("ReleaseReservation", { reservation_id: r.reservation_id }), "ALREADY_COMMITTED")
    }))

  it.effect("ReleaseReservation frees the hold; releasing again is ok; commit after release is RESERVATION_NOT_HELD", () =>
    Effect.gen(function*() {
      yield* ensure("r-release", 500)
      const r = yield* reserve("r-release", 200)
      const rel = yield* ok("ReleaseReservation", { reservation_id: r.reservation_id, reason: "player left" })
      assert.strictEqual(rel.available_balance, "500")
      assert.deepInclude(yield* ok("ReleaseReservation", { reservation_id: r.reservation_id, reason: "again" }), {
        available_balance: "500"
      })
      assert.strictEqual(yield* refusedWith("CommitReservation", { reservation_id: r.reservation_id }), "RESERVATION_NOT_HELD")
      assert.deepInclude(yield* ok("GetReservation", { reservation_id: r.reservation_id }), {
        status: "RELEASED",
        close_reason: "player left"
      })
      assert.deepInclude(yield* call("GetBalance", { account_id: "r-release" }), { balance: "500", held: "0" })
    }))

  it.effect("unknown reservation ids are RESERVATION_NOT_FOUND, malformed ones INVALID_RESERVATION_ID", () =>
    Effect.gen(function*() {
      for (const method of ["CommitReservation", "ReleaseReservation", "GetReservation"]) {
        assert.strictEqual(yield* refusedWith(method, { reservation_id: "no-such-reservation" }), "RESERVATION_NOT_FOUND", method)
        assert.strictEqual(yield* refusedWith(method, { reservation_id: "" }), "INVALID_RESERVATION_ID", method)
        assert.strictEqual(yield* refusedWith(method, { reservation_id: "r:1" }), "INVALID_RESERVATION_ID", method)
      }
    }))

  it.effect("a commit after the deadline is RESERVATION_EXPIRED before any sweep; the hold can still be released", () =>
    Effect.gen(function*() {
      yield* ensure("r-late", 300)
      const r = yield* reserve("r-late", 300, key(), { timeout_seconds: 1 })
      yield* ShiftableClock.use((c) => c.advance(1_001))
      assert.strictEqual(yield* refusedWith("CommitReservation", { reservation_id: r.reservation_id }), "RESERVATION_EXPIRED")
      assert.strictEqual((yield* ok("GetReservation", { reservation_id: r.reservation_id })).status, "HELD")
      assert.strictEqual((yield* ok("ReleaseReservation", { reservation_id: r.reservation_id })).available_balance, "300")
      assert.strictEqual(yield* refusedWith("CommitReservation", { reservation_id: r.reservation_id }), "RESERVATION_NOT_HELD")
      assert.strictEqual(yield* stackOf("t-res", "r-late"), 0)
    }))

  it.effect("timeout_seconds 0 means the configured default (30 s); other values are honoured", () =>
    Effect.gen(function*() {
      yield* ensure("r-timeout", 100)
      const lifetime = (timeoutSeconds: number) =>
        Effect.gen(function*() {
          const r = yield* reserve("r-timeout", 10, key(), { timeout_seconds: timeoutSeconds })
          const g = yield* ok("GetReservation", { reservation_id: r.reservation_id })
          return Number(g.expires_at_ms) - Number(g.created_at_ms)
        })
      assert.strictEqual(yield* lifetime(0), 30_000)
      assert.strictEqual(yield* lifetime(5), 5_000)
    }))
}
