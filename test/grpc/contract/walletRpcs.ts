import { assert } from "@effect/vitest"
import { status } from "@grpc/grpc-js"
import { Effect } from "effect"
import { type ContractIt, ensure, key } from "../support/contractIt.ts"
import { call, ok, refusedWith, statusOf, TWO_POW_53, TWO_POW_63_MINUS_1 } from "../support/expectations.ts"

const BAD_IDS = ["", "a:b", "has space", "x".repeat(129)]
const BAD_AMOUNTS = ["0", "-1", TWO_POW_53, TWO_POW_63_MINUS_1]

export const walletRpcs = (it: ContractIt) => {
  it.effect("GetBalance of an unknown account answers zeros in CHIPS and creates nothing", () =>
    Effect.gen(function*() {
      const r = yield* call("GetBalance", { account_id: "w-ghost" })
      assert.deepInclude(r, { account_id: "w-ghost", balance: "0", available_balance: "0", currency: "CHIPS", version: "0" })
      const entries = yield* ok("ListLedgerEntries", { account_id: "w-ghost" })
      assert.lengthOf(entries.entries, 0)
      const created = yield* call("EnsureAccount", { account_id: "w-ghost", initial_balance: "0" })
      assert.isTrue(created.created, "GetBalance must not have created the account")
    }))

  it.effect("GetBalance and EnsureAccount answer malformed input with INVALID_ARGUMENT naming the field", () =>
    Effect.gen(function*() {
      for (const id of BAD_IDS) {
        const get = yield* statusOf("GetBalance", { account_id: id })
        assert.strictEqual(get.code, status.INVALID_ARGUMENT, `GetBalance(${JSON.stringify(id)})`)
        assert.include(get.details, "account_id")
        const ensure = yield* statusOf("EnsureAccount", { account_id: id, initial_balance: "10" })
        assert.strictEqual(ensure.code, status.INVALID_ARGUMENT)
        assert.include(ensure.details, "account_id")
      }
      for (const amount of ["-1", TWO_POW_53, TWO_POW_63_MINUS_1]) {
        const s = yield* statusOf("EnsureAccount", { account_id: "w-edge", initial_balance: amount })
        assert.strictEqual(s.code, status.INVALID_ARGUMENT, `initial_balance ${amount}`)
        assert.include(s.details, "initial_balance")
      }
      assert.strictEqual((yield* call("GetBalance", { account_id: "w-edge" })).version, "0")
    }))

  it.effect("EnsureAccount creates once: initial_balance may be 0, a second call moves nothing", () =>
    Effect.gen(function*() {
      assert.deepInclude(yield* call("EnsureAccount", { account_id: "w-zero", initial_balance: "0" }), {
        account_id: "w-zero",
        balance: "0",
        created: true
      })
      assert.deepInclude(yield* call("EnsureAccount", { account_id: "w-once", initial_balance: "500" }), {
        balance: "500",
        created: true
      })
      assert.deepInclude(yield* call("EnsureAccount", { account_id: "w-once", initial_balance: "900" }), {
        balance: "500",
        created: false
      })
      assert.strictEqual((yield* call("GetBalance", { account_id: "w-once" })).balance, "500")
    }))

  it.effect("GetBalance reports held chips, available = balance - held, and the wallet version", () =>
    Effect.gen(function*() {
      yield* ensure("w-held", 1000)
      const before = yield* call("GetBalance", { account_id: "w-held" })
      assert.deepInclude(before, { balance: "1000", available_balance: "1000", held: "0" })
      yield* ok("ReserveForBuyIn", { account_id: "w-held", table_id: "t-held", amount: "250", idempotency_key: key() })
      const after = yield* call("GetBalance", { account_id: "w-held" })
      assert.deepInclude(after, { balance: "1000", available_balance: "750", held: "250", stale: false })
      assert.isAbove(Number(after.version), Number(before.version))
    }))

  it.effect("Deposit and Withdraw move chips and replay by idempotency key", () =>
    Effect.gen(function*() {
      yield* ensure("w-dw", 100)
      const d = yield* ok("Deposit", { account_id: "w-dw", amount: "50", idempotency_key: "dw-d1", source: "ADMIN" })
      assert.deepInclude(d, { account_id: "w-dw", amount: "50", balance: "150", available_balance: "150" })
      const replay = yield* ok("Deposit", { account_id: "w-dw", amount: "50", idempotency_key: "dw-d1", source: "ADMIN" })
      assert.strictEqual(replay.transaction_id, d.transaction_id)
      assert.strictEqual(yield* refusedWith("Deposit", { account_id: "w-dw", amount: "51", idempotency_key: "dw-d1", source: "ADMIN" }), "IDEMPOTENCY_KEY_REUSED")
      const w = yield* ok("Withdraw", { account_id: "w-dw", amount: "150", idempotency_key: "dw-w1", reason: "cash out of the platform" })
      assert.strictEqual(w.balance, "0")
      assert.strictEqual((yield* call("GetBalance", { account_id: "w-dw" })).balance, "0")
      // The state moved on, yet the replay answers the first success and moves nothing.
      const wReplay = yield* ok("Withdraw", { account_id: "w-dw", amount: "150", idempotency_key: "dw-w1", reason: "cash out of the platform" })
      assert.strictEqual(wReplay.transaction_id, w.transaction_id)
      assert.strictEqual((yield* call("GetBalance", { account_id: "w-dw" })).balance, "0")
    }))

  it.effect("Deposit and Withdraw refuse in-band: unknown account, overdraft, bad ids, amounts, keys, reasons", () =>
    Effect.gen(function*() {
      yield* ensure("w-dwr", 100)
      const base = { account_id: "w-dwr", amount: "10", idempotency_key: "ok-key", source: "ADMIN" }
      assert.strictEqual(yield* refusedWith("Deposit", { ...base, account_id: "w-nobody" }), "ACCOUNT_NOT_FOUND")
      assert.strictEqual(yield* refusedWith("Withdraw", { ...base, account_id: "w-nobody" }), "ACCOUNT_NOT_FOUND")
      assert.strictEqual(yield* refusedWith("Withdraw", { ...base, amount: "101" }), "INSUFFICIENT_BALANCE")
      for (const method of ["Deposit", "Withdraw"]) {
        for (const id of BAD_IDS) assert.strictEqual(yield* refusedWith(method, { ...base, account_id: id }), "INVALID_ACCOUNT_ID")
        for (const amount of BAD_AMOUNTS) assert.strictEqual(yield* refusedWith(method, { ...base, amount }), "INVALID_AMOUNT", amount)
        assert.strictEqual(yield* refusedWith(method, { ...base, idempotency_key: "" }), "MISSING_IDEMPOTENCY_KEY")
        assert.strictEqual(yield* refusedWith(method, { ...base, idempotency_key: "has space" }), "INVALID_IDEMPOTENCY_KEY")
      }
      assert.strictEqual(yield* refusedWith("Withdraw", { ...base, reason: "r".repeat(257) }), "INVALID_REASON")
      // The deposit source is a code, on gRPC as on HTTP.
      for (const source of ["", "promo", "S".repeat(33), "BAD CODE", "ÄDMIN"]) {
        assert.strictEqual(yield* refusedWith("Deposit", { ...base, source }), "INVALID_REASON", source)
      }
      assert.strictEqual(yield* refusedWith("Deposit", { account_id: base.account_id, amount: "1", idempotency_key: "dw-nosrc" }), "INVALID_REASON")
      const r = yield* call("Withdraw", { ...base, amount: "0" })
      assert.include(r.error_message, "amount", "the message names the field")
      assert.strictEqual((yield* call("GetBalance", { account_id: "w-dwr" })).balance, "100")
    }))

  it.effect("the largest safe amount passes validation and is refused only by the balance check", () =>
    Effect.gen(function*() {
      yield* ensure("w-max", 1)
      const code = yield* refusedWith("Withdraw", { account_id: "w-max", amount: "9007199254740991", idempotency_key: key() })
      assert.strictEqual(code, "INSUFFICIENT_BALANCE")
    }))
}
