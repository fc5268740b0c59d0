import { assert, layer } from "@effect/vitest"
import { status } from "@grpc/grpc-js"
import { Effect } from "effect"
import { MemoryStore } from "../../src/store/memory/MemoryStore.ts"
import { BalanceClient } from "./support/balanceClient.ts"
import { call, eventually, MAX_SAFE, ok, refusedWith, statusOf } from "./support/expectations.ts"
import { makeFaultyStore } from "../support/faultyStore.ts"
import { grpcServerOn } from "./support/grpcTestServer.ts"

const faulty = makeFaultyStore()
const fault = (f: Parameters<typeof faulty.set>[0]) => Effect.sync(() => faulty.set(f))
const reserve = (key: string) => call("ReserveForBuyIn", { account_id: "inf-a", table_id: "t", amount: "10", idempotency_key: key })

layer(grpcServerOn(faulty.layer, { ledger: { conflictRetries: 3 } }), { excludeTestServices: true })(
  "gRPC answers to infrastructure trouble",
  (it) => {
    it.effect("store down: UNAVAILABLE even on in-band methods, stale reads of what was seen, health NOT_SERVING", () =>
      Effect.gen(function*() {
        yield* call("EnsureAccount", { account_id: "inf-a", initial_balance: "100" })
        yield* call("GetBalance", { account_id: "inf-a" })
        yield* call("EnsureAccount", { account_id: "inf-r", initial_balance: "100" })
        const hold = yield* call("ReserveForBuyIn", { account_id: "inf-r", table_id: "inf-t", amount: "5", idempotency_key: "inf-hold" })
        assert.deepInclude(yield* call("GetReservation", { reservation_id: hold.reservation_id }), { status: "HELD", stale: false })
        const client = yield* BalanceClient
        yield* fault("down")
        try {
          for (const [method, request] of [
            ["ReserveForBuyIn", { account_id: "inf-a", table_id: "t", amount: "10", idempotency_key: "inf-1" }],
            ["CommitReservation", { reservation_id: "r-unknown" }],
            ["EnsureAccount", { account_id: "inf-b", initial_balance: "1" }],
            ["GetBalance", { account_id: "inf-never-seen" }]
          ] as const) {
            const s = yield* statusOf(method, request)
            assert.strictEqual(s.code, status.UNAVAILABLE, method)
          }
          assert.deepInclude(yield* call("GetBalance", { account_id: "inf-a" }), { balance: "100", stale: true })
          assert.deepInclude(yield* call("GetReservation", { reservation_id: hold.reservation_id }), { status: "HELD", stale: true })
          assert.strictEqual((yield* client.health("Check", { service: "" })).status, "NOT_SERVING")
          const watch = yield* client.stream("balance", "WatchAccount", { account_id: "inf-a" })
          yield* eventually("the watch ends", Effect.sync(() => watch.ended() !== undefined))
          assert.strictEqual(watch.ended()!.code, status.UNAVAILABLE)
          // Still refused in-band before the store is asked: validation needs no store.
          assert.strictEqual(yield* refusedWith("ReserveForBuyIn", { account_id: "", table_id: "t", amount: "1", idempotency_key: "k" }), "INVALID_ACCOUNT_ID")
        } finally {
          yield* fault("none")
        }
        assert.strictEqual((yield* client.health("Check", { service: "" })).status, "SERVING")
        assert.isTrue((yield* reserve("inf-1")).ok, "the retry succeeds once the store is back")
      }))

    it.effect("endless version conflicts: ABORTED (nothing written, retry is safe)", () =>
      Effect.gen(function*() {
        yield* fault("conflict")
        const s = yield* statusOf("ReserveForBuyIn", { account_id: "inf-a", table_id: "t", amount: "10", idempotency_key: "inf-2" }).pipe(
          Effect.ensuring(fault("none"))
        )
        assert.strictEqual(s.code, status.ABORTED)
        assert.include(s.details, "retry")
        assert.strictEqual((yield* call("GetBalance", { account_id: "inf-a" })).held, "10")
      }))

    it.effect("a store that hangs: the caller's deadline gives DEADLINE_EXCEEDED and the server abandons the call", () =>
      Effect.gen(function*() {
        const client = yield* BalanceClient
        const before = faulty.interrupted()
        yield* fault("hang")
        const e = yield* Effect.flip(client.call("GetBalance", { account_id: "inf-d" }, {}, 200)).pipe(Effect.ensuring(fault("none")))
        assert.strictEqual(e.code, status.DEADLINE_EXCEEDED)
        yield* eventually("the server interrupted the abandoned call", Effect.sync(() => faulty.interrupted() > before))
      }))

    it.effect("a defect: INTERNAL with no detail and no stack trace", () =>
      Effect.gen(function*() {
        yield* fault("defect")
        const s = yield* statusOf("GetBalance", { account_id: "inf-c" }).pipe(Effect.ensuring(fault("none")))
        assert.deepStrictEqual(s, { code: status.INTERNAL, details: "internal error" })
      }))
  }
)

layer(grpcServerOn(MemoryStore.layer), { excludeTestServices: true })("gRPC answers to amounts past the safe range", (it) => {
  it.effect("AMOUNT_OVERFLOW in-band where there is ok/error, OUT_OF_RANGE where there is not", () =>
    Effect.gen(function*() {
      assert.isTrue((yield* call("EnsureAccount", { account_id: "ov-a", initial_balance: MAX_SAFE })).created)
      assert.strictEqual(yield* refusedWith("Deposit", { account_id: "ov-a", amount: "1", idempotency_key: "ov-1", source: "ADMIN" }), "AMOUNT_OVERFLOW")
      const s = yield* statusOf("EnsureAccount", { account_id: "ov-b", initial_balance: "1" })
      assert.strictEqual(s.code, status.OUT_OF_RANGE)
      assert.include(s.details, "AMOUNT_OVERFLOW")
      assert.strictEqual((yield* ok("Withdraw", { account_id: "ov-a", amount: MAX_SAFE, idempotency_key: "ov-2" })).balance, "0")
    }))
})
