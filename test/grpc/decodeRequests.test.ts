import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import {
  decodeCancel,
  decodeCashOut,
  decodeEnsureAccount,
  decodeEntriesQuery,
  decodeReserve,
  decodeSettle,
  decodeWatch
} from "../../src/api/grpc/decodeRequests.ts"
import type { Refusal } from "../../src/domain/errors.ts"
import { MAX_RESERVATION_TIMEOUT_MS } from "../../src/domain/rules.ts"

/**
 * The decoders see what proto-loader hands the server (int64 as strings).
 * A protobufjs client cannot put "1.5" or "abc" on the wire (it truncates
 * before sending), but other clients and JSON gateways can: the decoder must
 * refuse them rather than round.
 */
const refusal = <A>(effect: Effect.Effect<A, Refusal>) => Effect.flip(effect)

const reserve = (patch: Record<string, unknown>) =>
  decodeReserve({ accountId: "alice", tableId: "t1", amount: "100", idempotencyKey: "k1", timeoutSeconds: 0, ...patch })

describe("gRPC request decoding", () => {
  it.effect("reads int64 strings exactly and refuses fractions, exponents, junk and unsafe integers", () =>
    Effect.gen(function*() {
      assert.strictEqual((yield* reserve({ amount: "9007199254740991" })).amount, Number.MAX_SAFE_INTEGER)
      assert.strictEqual((yield* reserve({ amount: " 42 " })).amount, 42)
      for (const amount of ["1.5", "1e3", "abc", "0x10", "", "0", "-1", "9007199254740992", "9223372036854775807", "-9223372036854775808"]) {
        const r = yield* refusal(reserve({ amount }))
        assert.strictEqual(r.code, "INVALID_AMOUNT", amount)
        assert.strictEqual(r.field, "amount")
        assert.include(r.message, "amount")
      }
      for (const amount of [1.5, Number.NaN, 2 ** 53]) assert.strictEqual((yield* refusal(reserve({ amount }))).code, "INVALID_AMOUNT")
    }))

  it.effect("initial_balance may be 0 but not negative, fractional or unsafe", () =>
    Effect.gen(function*() {
      assert.strictEqual((yield* decodeEnsureAccount({ accountId: "a", initialBalance: "0" })).initialBalance, 0)
      for (const initialBalance of ["-1", "1.5", "9007199254740992"]) {
        const r = yield* refusal(decodeEnsureAccount({ accountId: "a", initialBalance }))
        assert.deepInclude(r, { code: "INVALID_AMOUNT", field: "initial_balance" })
      }
    }))

  it.effect("turns timeout_seconds into milliseconds, 0 staying 'the default'", () =>
    Effect.gen(function*() {
      assert.strictEqual((yield* reserve({ timeoutSeconds: 0 })).timeoutMs, 0)
      assert.strictEqual((yield* reserve({ timeoutSeconds: 45 })).timeoutMs, 45_000)
    }))

  it.effect("timeout_seconds is capped by the domain's longest hold (one hour), not a cap of its own", () =>
    Effect.gen(function*() {
      const maxSeconds = MAX_RESERVATION_TIMEOUT_MS / 1000
      assert.strictEqual(maxSeconds, 3600)
      assert.strictEqual((yield* reserve({ timeoutSeconds: maxSeconds })).timeoutMs, MAX_RESERVATION_TIMEOUT_MS)
      for (const timeoutSeconds of [maxSeconds + 1, 86_400, -1, 1.5]) {
        assert.deepInclude(yield* refusal(reserve({ timeoutSeconds })), { code: "INVALID_TIMEOUT", field: "timeout_seconds" })
      }
    }))

  it.effect("checks fields in wire order and names the first bad one", () =>
    Effect.gen(function*() {
      const r = yield* refusal(reserve({ accountId: "", amount: "0", idempotencyKey: "" }))
      assert.deepInclude(r, { code: "INVALID_ACCOUNT_ID", field: "account_id" })
      assert.deepInclude(yield* refusal(reserve({ idempotencyKey: "" })), { code: "MISSING_IDEMPOTENCY_KEY", field: "idempotency_key" })
    }))

  it.effect("cash-out hand_id is optional; settle winners are checked one by one", () =>
    Effect.gen(function*() {
      const base = { accountId: "a", tableId: "t", seatId: 2, amount: "5", idempotencyKey: "k" }
      assert.notProperty(yield* decodeCashOut({ ...base, handId: "" }), "handId")
      assert.strictEqual((yield* decodeCashOut({ ...base, handId: "h7" })).handId, "h7")
      const settle = (winners: unknown) => decodeSettle({ tableId: "t", handId: "h", winners, idempotencyKey: "k" })
      assert.deepStrictEqual((yield* settle([{ seatId: 1, accountId: "a", amount: "0" }])).winners, [{ seatId: 1, accountId: "a", amount: 0 }])
      assert.deepInclude(yield* refusal(settle([{ seatId: 1, accountId: "a", amount: "1" }, { seatId: 2, accountId: "b", amount: "1.5" }])), {
        code: "INVALID_AMOUNT",
        field: "winners[1].amount"
      })
    }))

  it.effect("cancel needs a reason; its idempotency key is optional", () =>
    Effect.gen(function*() {
      assert.notProperty(yield* decodeCancel({ tableId: "t", handId: "h", reason: "misdeal" }), "idempotencyKey")
      assert.strictEqual((yield* decodeCancel({ tableId: "t", handId: "h", reason: "misdeal", idempotencyKey: "c1" })).idempotencyKey, "c1")
      assert.deepInclude(yield* refusal(decodeCancel({ tableId: "t", handId: "h", reason: "" })), { code: "INVALID_REASON" })
    }))

  it.effect("queries: entries default to 100 per page; watch after_seq unset means 'from now on'", () =>
    Effect.gen(function*() {
      assert.deepStrictEqual(yield* decodeEntriesQuery({ accountId: "a", afterSeq: "0", limit: 0, tableId: "" }), {
        account: "w:a",
        afterSeq: 0,
        limit: 100
      })
      assert.strictEqual((yield* decodeEntriesQuery({ accountId: "a", afterSeq: "3", limit: 5, tableId: "t" })).account, "s:t:a")
      assert.isUndefined((yield* decodeWatch({ accountId: "a" })).afterSeq)
      assert.strictEqual((yield* decodeWatch({ accountId: "a", afterSeq: "0" })).afterSeq, 0)
      assert.deepInclude(yield* refusal(decodeWatch({ accountId: "a", afterSeq: "-2" })), { field: "after_seq" })
      // A seq is not an amount: the refusal says what after_seq is.
      const refusals = [
        yield* refusal(decodeWatch({ accountId: "a", afterSeq: "-1" })),
        yield* refusal(decodeEntriesQuery({ accountId: "a", afterSeq: "-1", limit: 0, tableId: "" }))
      ]
      for (const refused of refusals) {
        assert.deepInclude(refused, {
          code: "INVALID_ARGUMENT",
          field: "after_seq",
          message: "after_seq must not be negative (a ledger seq, 0 for the start)"
        })
      }
      assert.deepInclude(yield* refusal(decodeWatch({ accountId: "a", afterSeq: "1.5" })), { code: "INVALID_ARGUMENT", message: "after_seq must be an integer" })
    }))
})
