import { assert } from "@effect/vitest"
import { Effect } from "effect"
import { balanceOf, type ContractIt, contribute, ensure, key, seated, stackOf } from "../support/contractIt.ts"
import { call, ok, refusedWith, TWO_POW_53, TWO_POW_63_MINUS_1 } from "../support/expectations.ts"

const settle = (tableId: string, handId: string, winners: ReadonlyArray<Record<string, unknown>>, idempotencyKey = key("s")) =>
  call("SettlePot", { table_id: tableId, hand_id: handId, winners, idempotency_key: idempotencyKey })

export const tableRpcs = (it: ContractIt) => {
  it.effect("RecordContribution moves stack to pot; GetPot shows contributions and main/side pots", () =>
    Effect.gen(function*() {
      yield* seated("tp-a", "t-pot", 1000, 500)
      yield* seated("tp-b", "t-pot", 1000, 300)
      yield* seated("tp-c", "t-pot", 1000, 100)
      const first = yield* contribute("t-pot", "h1", 1, "tp-a", 300, "RAISE")
      assert.deepInclude(first, { ok: true, total_pot: "300", seat_contribution: "300", stack_balance: "200" })
      yield* contribute("t-pot", "h1", 2, "tp-b", 300, "ALL_IN")
      yield* contribute("t-pot", "h1", 3, "tp-c", 100, "ALL_IN")
      const more = yield* contribute("t-pot", "h1", 1, "tp-a", 50, "bet")
      assert.deepInclude(more, { ok: true, total_pot: "750", seat_contribution: "350" })
      const pot = yield* ok("GetPot", { table_id: "t-pot", hand_id: "h1" })
      assert.deepInclude(pot, { status: "ACTIVE", balance: "750" })
      assert.deepStrictEqual(pot.contributions.map((c: { seat_id: number; amount: string }) => [c.seat_id, c.amount]), [
        [1, "350"], [2, "300"], [3, "100"]
      ])
      assert.deepStrictEqual(pot.pots, [
        { amount: "300", eligible_seats: [1, 2, 3] },
        { amount: "400", eligible_seats: [1, 2] },
        { amount: "50", eligible_seats: [1] }
      ])
      const folded = yield* ok("GetPot", { table_id: "t-pot", hand_id: "h1", folded_seats: [2] })
      assert.deepStrictEqual(folded.pots, [
        { amount: "300", eligible_seats: [1, 3] },
        { amount: "450", eligible_seats: [1] }
      ])
      assert.strictEqual(yield* stackOf("t-pot", "tp-a"), 150)
    }))

  it.effect("RecordContribution refusals: stack too small, bad ids, seat, type, amount, key; replays do not double", () =>
    Effect.gen(function*() {
      yield* seated("tc-a", "t-con", 100, 60)
      const base = {
        table_id: "t-con", hand_id: "h1", seat_id: 1, account_id: "tc-a", amount: "10", contribution_type: "BET", idempotency_key: "tc-1"
      }
      const cases: Array<[Record<string, unknown>, string]> = [
        [{ amount: "61" }, "INSUFFICIENT_STACK"],
        [{ table_id: "t-elsewhere" }, "INSUFFICIENT_STACK"],
        [{ table_id: "" }, "INVALID_TABLE_ID"],
        [{ hand_id: "" }, "INVALID_HAND_ID"],
        [{ hand_id: "h:1" }, "INVALID_HAND_ID"],
        [{ seat_id: -1 }, "INVALID_SEAT_ID"],
        [{ seat_id: 1001 }, "INVALID_SEAT_ID"],
        [{ account_id: "" }, "INVALID_ACCOUNT_ID"],
        [{ amount: "0" }, "INVALID_AMOUNT"],
        [{ amount: "-1" }, "INVALID_AMOUNT"],
        [{ amount: TWO_POW_53 }, "INVALID_AMOUNT"],
        [{ amount: TWO_POW_63_MINUS_1 }, "INVALID_AMOUNT"],
        [{ contribution_type: "FOLD" }, "INVALID_ARGUMENT"],
        [{ contribution_type: "" }, "INVALID_ARGUMENT"],
        [{ idempotency_key: "" }, "MISSING_IDEMPOTENCY_KEY"]
      ]
      for (const [patch, code] of cases) {
        assert.strictEqual(yield* refusedWith("RecordContribution", { ...base, ...patch }), code, JSON.stringify(patch))
      }
      const once = yield* ok("RecordContribution", base)
      const twice = yield* ok("RecordContribution", base)
      assert.deepStrictEqual(twice, once)
      assert.strictEqual(yield* stackOf("t-con", "tc-a"), 50)
      assert.strictEqual(yield* refusedWith("RecordContribution", { ...base, amount: "11" }), "IDEMPOTENCY_KEY_REUSED")
    }))

  it.effect("SettlePot pays the winners' stacks; the same key replays; any other settle of it is POT_NOT_ACTIVE", () =>
    Effect.gen(function*() {
      yield* seated("ts-a", "t-set", 500, 200)
      yield* seated("ts-b", "t-set", 500, 200)
      yield* contribute("t-set", "h1", 1, "ts-a", 100)
      yield* contribute("t-set", "h1", 2, "ts-b", 100)
      const winners = [{ seat_id: 2, account_id: "ts-b", amount: "200" }]
      const s = yield* settle("t-set", "h1", winners, "ts-settle-1")
      assert.deepInclude(s, { ok: true, rake: "0", normalised: false })
      assert.lengthOf(s.results, 1)
      assert.deepInclude(s.results[0], { account_id: "ts-b", amount: "200", new_balance: "300", seat_id: 2 })
      assert.deepStrictEqual(yield* settle("t-set", "h1", winners, "ts-settle-1"), s)
      assert.strictEqual((yield* settle("t-set", "h1", winners)).error, "POT_NOT_ACTIVE")
      assert.strictEqual((yield* settle("t-set", "h1", [{ seat_id: 1, account_id: "ts-a", amount: "200" }])).error, "POT_NOT_ACTIVE")
      assert.strictEqual((yield* contribute("t-set", "h1", 1, "ts-a", 10)).error, "POT_NOT_ACTIVE")
      assert.strictEqual(yield* stackOf("t-set", "ts-a"), 100)
      assert.strictEqual(yield* stackOf("t-set", "ts-b"), 300)
      assert.deepInclude(yield* ok("GetPot", { table_id: "t-set", hand_id: "h1" }), { status: "SETTLED", balance: "0" })
    }))

  it.effect("SettlePot refusals: unknown pot, no or duplicate winners, malformed winners", () =>
    Effect.gen(function*() {
      yield* seated("tw-a", "t-win", 100, 100)
      yield* contribute("t-win", "h1", 1, "tw-a", 40)
      const w = { seat_id: 1, account_id: "tw-a", amount: "40" }
      assert.strictEqual((yield* settle("t-win", "h-none", [w])).error, "POT_NOT_FOUND")
      assert.strictEqual((yield* settle("t-win", "h1", [])).error, "INVALID_WINNERS")
      assert.strictEqual((yield* settle("t-win", "h1", [w, { ...w, account_id: "tw-b" }])).error, "INVALID_WINNERS")
      assert.strictEqual((yield* settle("t-win", "h1", [{ ...w, amount: "-1" }])).error, "INVALID_AMOUNT")
      assert.strictEqual((yield* settle("t-win", "h1", [{ ...w, amount: TWO_POW_53 }])).error, "INVALID_AMOUNT")
      assert.strictEqual((yield* settle("t-win", "h1", [{ ...w, account_id: "a:b" }])).error, "INVALID_ACCOUNT_ID")
      assert.strictEqual((yield* settle("t-win", "h1", [{ ...w, seat_id: -3 }])).error, "INVALID_SEAT_ID")
      assert.strictEqual((yield* settle("t-win", "h1", [w], "")).error, "MISSING_IDEMPOTENCY_KEY")
      const refused = yield* settle("t-win", "h1", [{ ...w, account_id: "" }])
      assert.include(refused.error_message, "winners[0].account_id")
      assert.strictEqual((yield* ok("GetPot", { table_id: "t-win", hand_id: "h1" })).status, "ACTIVE")
    }))

  it.effect("SettlePot splits pro rata when the requests do not add up, odd chips by ascending seat", () =>
    Effect.gen(function*() {
      yield* seated("tn-a", "t-norm", 100, 100)
      yield* seated("tn-b", "t-norm", 100, 100)
      yield* seated("tn-c", "t-norm", 100, 100)
      for (const [seat, who] of [[1, "tn-a"], [2, "tn-b"], [3, "tn-c"]] as const) yield* contribute("t-norm", "h1", seat, who, 33)
      const s = yield* settle("t-norm", "h1", [
        { seat_id: 3, account_id: "tn-c", amount: "1" },
        { seat_id: 1, account_id: "tn-a", amount: "1" }
      ])
      assert.deepInclude(s, { ok: true, normalised: true })
      assert.deepStrictEqual(s.results.map((r: { seat_id: number; amount: string }) => [r.seat_id, r.amount]), [[3, "49"], [1, "50"]])
    }))

  it.effect("CancelPot refunds each contributor exactly, needs a reason, and replays by key", () =>
    Effect.gen(function*() {
      yield* seated("tx-a", "t-can", 300, 200)
      yield* seated("tx-b", "t-can", 300, 200)
      yield* contribute("t-can", "h1", 1, "tx-a", 50)
      yield* contribute("t-can", "h1", 2, "tx-b", 120)
      yield* contribute("t-can", "h1", 1, "tx-a", 30)
      const base = { table_id: "t-can", hand_id: "h1", reason: "misdeal" }
      assert.strictEqual(yield* refusedWith("CancelPot", { ...base, reason: "" }), "INVALID_REASON")
      assert.strictEqual(yield* refusedWith("CancelPot", { ...base, reason: "   " }), "INVALID_REASON")
      assert.strictEqual(yield* refusedWith("CancelPot", { ...base, hand_id: "h-none" }), "POT_NOT_FOUND")
      assert.strictEqual(yield* refusedWith("CancelPot", { ...base, hand_id: "" }), "INVALID_HAND_ID")
      assert.strictEqual(yield* refusedWith("CancelPot", { ...base, idempotency_key: "bad key" }), "INVALID_IDEMPOTENCY_KEY")
      const c = yield* ok("CancelPot", { ...base, idempotency_key: "tx-cancel" })
      assert.deepStrictEqual(c.refunds.map((r: { seat_id: number; amount: string }) => [r.seat_id, r.amount]), [[1, "80"], [2, "120"]])
      assert.deepStrictEqual(yield* ok("CancelPot", { ...base, idempotency_key: "tx-cancel" }), c)
      // Without a key too: cancelling the cancelled pot answers its refunds again and moves nothing.
      assert.deepStrictEqual((yield* ok("CancelPot", base)).refunds, c.refunds)
      assert.strictEqual((yield* settle("t-can", "h1", [{ seat_id: 1, account_id: "tx-a", amount: "1" }])).error, "POT_NOT_ACTIVE")
      assert.strictEqual(yield* stackOf("t-can", "tx-a"), 200)
      assert.strictEqual(yield* stackOf("t-can", "tx-b"), 200)
      assert.deepInclude(yield* ok("GetPot", { table_id: "t-can", hand_id: "h1" }), { status: "CANCELLED", balance: "0" })
    }))

  it.effect("ProcessCashOut moves stack to wallet, replays by key, and refuses what it must", () =>
    Effect.gen(function*() {
      yield* seated("to-a", "t-out", 1000, 300)
      const base = { account_id: "to-a", table_id: "t-out", seat_id: 4, amount: "120", idempotency_key: "to-1", hand_id: "h9" }
      const out = yield* ok("ProcessCashOut", base)
      assert.deepInclude(out, { new_balance: "820", stack_balance: "180" })
      assert.deepStrictEqual(yield* ok("ProcessCashOut", base), out)
      assert.strictEqual(yield* balanceOf("to-a"), 820)
      const cases: Array<[Record<string, unknown>, string]> = [
        [{ amount: "181" }, "INSUFFICIENT_STACK"],
        [{ account_id: "to-nobody" }, "ACCOUNT_NOT_FOUND"],
        [{ account_id: "" }, "INVALID_ACCOUNT_ID"],
        [{ table_id: "" }, "INVALID_TABLE_ID"],
        [{ seat_id: -1 }, "INVALID_SEAT_ID"],
        [{ hand_id: "h:9" }, "INVALID_HAND_ID"],
        [{ amount: "0" }, "INVALID_AMOUNT"],
        [{ amount: "-1" }, "INVALID_AMOUNT"],
        [{ amount: TWO_POW_53 }, "INVALID_AMOUNT"],
        [{ amount: TWO_POW_63_MINUS_1 }, "INVALID_AMOUNT"],
        [{ idempotency_key: "" }, "MISSING_IDEMPOTENCY_KEY"],
        [{ amount: "121" }, "IDEMPOTENCY_KEY_REUSED"]
      ]
      for (const [patch, code] of cases) {
        const fresh = code === "IDEMPOTENCY_KEY_REUSED" ? {} : { idempotency_key: key("to") }
        assert.strictEqual(yield* refusedWith("ProcessCashOut", { ...base, ...fresh, ...patch }), code, JSON.stringify(patch))
      }
      assert.strictEqual(yield* stackOf("t-out", "to-a"), 180)
    }))

  it.effect("GetTableStack of an empty seat is 0; GetPot of an unknown hand is POT_NOT_FOUND", () =>
    Effect.gen(function*() {
      yield* ensure("tq-a", 10)
      assert.deepInclude(yield* ok("GetTableStack", { table_id: "t-none", account_id: "tq-a" }), { balance: "0", version: "0" })
      assert.strictEqual(yield* refusedWith("GetTableStack", { table_id: "", account_id: "tq-a" }), "INVALID_TABLE_ID")
      assert.strictEqual(yield* refusedWith("GetPot", { table_id: "t-none", hand_id: "h1" }), "POT_NOT_FOUND")
      assert.strictEqual(yield* refusedWith("GetPot", { table_id: "t-none", hand_id: "h1", folded_seats: [2000] }), "INVALID_SEAT_ID")
    }))

  it.effect("ListLedgerEntries pages a wallet or a stack by seq", () =>
    Effect.gen(function*() {
      yield* seated("tl-a", "t-list", 1000, 100)
      yield* ok("Deposit", { account_id: "tl-a", amount: "5", idempotency_key: key(), source: "ADMIN" })
      const page1 = yield* ok("ListLedgerEntries", { account_id: "tl-a", limit: 2 })
      assert.deepStrictEqual(page1.entries.map((e: { seq: string; type: string }) => [e.seq, e.type]), [["1", "GRANT"], ["2", "HOLD"]])
      assert.strictEqual(page1.next_after_seq, "2")
      const page2 = yield* ok("ListLedgerEntries", { account_id: "tl-a", after_seq: page1.next_after_seq, limit: 2 })
      assert.deepStrictEqual(page2.entries.map((e: { seq: string; type: string }) => [e.seq, e.type]), [["3", "BUY_IN"], ["4", "DEPOSIT"]])
      const rest = yield* ok("ListLedgerEntries", { account_id: "tl-a", after_seq: "4" })
      assert.deepStrictEqual(rest.entries, [])
      assert.strictEqual(rest.next_after_seq, "0")
      const buyIn = page2.entries[0]
      assert.deepInclude(buyIn, { account: "w:tl-a", amount: "-100", balance_before: "1000", balance_after: "900", held_after: "0" })
      assert.match(buyIn.checksum, /^[0-9a-f]{64}$/)
      const stack = yield* ok("ListLedgerEntries", { account_id: "tl-a", table_id: "t-list" })
      assert.deepStrictEqual(stack.entries.map((e: { account: string; amount: string }) => [e.account, e.amount]), [["s:t-list:tl-a", "100"]])
      assert.strictEqual(yield* refusedWith("ListLedgerEntries", { account_id: "tl-a", limit: 1001 }), "INVALID_ARGUMENT")
      assert.strictEqual(yield* refusedWith("ListLedgerEntries", { account_id: "tl-a", after_seq: "-1" }), "INVALID_ARGUMENT")
      assert.strictEqual(yield* refusedWith("ListLedgerEntries", { account_id: "" }), "INVALID_ACCOUNT_ID")
    }))
}
