import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, Layer } from "effect"
import { TestClock } from "effect/testing"
import { Ledger } from "../../src/ledger/Ledger.ts"
import { ReservationExpiry } from "../../src/reservations/ReservationExpiry.ts"
import { reservationKey } from "../../src/domain/accounts.ts"
import { MemoryStore } from "../../src/store/memory/MemoryStore.ts"
import { Store } from "../../src/store/Store.ts"
import { ledgerOn, memoryLedger } from "../support/ledgerLayers.ts"

const withSweep = (sweepMs: number) =>
  Layer.mergeAll(ReservationExpiry.schedule).pipe(
    Layer.provideMerge(ReservationExpiry.layer),
    Layer.provideMerge(memoryLedger()),
    Layer.provide(ConfigProvider.layer(ConfigProvider.fromUnknown({ RESERVATION_SWEEP_MS: String(sweepMs) })))
  )

describe("reservation expiry", () => {
  it.effect("the scheduled sweep voids every due hold and returns the chips", () =>
    Effect.gen(function*() {
      const ledger = yield* Ledger
      yield* ledger.execute({ op: "EnsureAccount", accountId: "w", initialBalance: 10_000 })
      const ids: Array<string> = []
      for (let i = 0; i < 250; i++) {
        const r = yield* ledger.execute({ op: "Reserve", accountId: "w", tableId: `t${i}`, amount: 10, timeoutMs: 1000, idempotencyKey: `r${i}` })
        ids.push(r.result.reservationId)
      }
      const kept = yield* ledger.execute({ op: "Reserve", accountId: "w", tableId: "long", amount: 100, timeoutMs: 60_000, idempotencyKey: "long" })
      assert.strictEqual((yield* ledger.wallet("w")).value!.held, 2600)
      yield* TestClock.adjust("2 seconds")
      const wallet = (yield* ledger.wallet("w")).value!
      assert.strictEqual(wallet.held, 100)
      assert.strictEqual(wallet.balance, 10_000)
      for (const id of ids) assert.strictEqual((yield* ledger.reservation(id)).value!.status, "EXPIRED")
      assert.strictEqual((yield* ledger.reservation(kept.result.reservationId)).value!.status, "HELD")
      const supply = yield* ledger.supply()
      assert.strictEqual(supply.stats.reservations_expired, 250)
      assert.strictEqual(supply.stats.held, 100)
    }).pipe(Effect.provide(withSweep(1000))))

  it.effect("a sweep reports how late each expiry was and ignores committed holds", () =>
    Effect.gen(function*() {
      const ledger = yield* Ledger
      const expiry = yield* ReservationExpiry
      yield* ledger.execute({ op: "EnsureAccount", accountId: "x", initialBalance: 100 })
      const a = yield* ledger.execute({ op: "Reserve", accountId: "x", tableId: "t", amount: 40, timeoutMs: 1000, idempotencyKey: "a" })
      const b = yield* ledger.execute({ op: "Reserve", accountId: "x", tableId: "u", amount: 40, timeoutMs: 1000, idempotencyKey: "b" })
      yield* ledger.execute({ op: "Commit", reservationId: b.result.reservationId })
      yield* TestClock.adjust("1500 millis")
      const result = yield* expiry.sweepOnce()
      assert.strictEqual(result.expired, 1)
      assert.deepStrictEqual(result.lateness, [500])
      assert.strictEqual((yield* ledger.reservation(a.result.reservationId)).value!.status, "EXPIRED")
      assert.strictEqual((yield* ledger.reservation(b.result.reservationId)).value!.status, "COMMITTED")
      assert.strictEqual((yield* expiry.sweepOnce()).due, 0)
    }).pipe(Effect.provide(ReservationExpiry.layer.pipe(Layer.provideMerge(memoryLedger())))))

  it.effect("a defect expiring one hold is logged and counted; the others expire and the sweep keeps running", () => {
    const memory = MemoryStore.make()
    let poisoned: string | undefined
    // A bug that strikes only the write of one reservation's expiry.
    const store = Store.of({
      ...memory,
      apply: (request) =>
        poisoned !== undefined && request.plan.writes.some((w) => w.key === reservationKey(poisoned!))
          ? Effect.die(new Error("a bug in this expiry"))
          : memory.apply(request)
    })
    return Effect.gen(function*() {
      const ledger = yield* Ledger
      yield* ledger.execute({ op: "EnsureAccount", accountId: "d", initialBalance: 100 })
      const ids: Array<string> = []
      for (const t of ["a", "b", "c"]) {
        ids.push((yield* ledger.execute({ op: "Reserve", accountId: "d", tableId: t, amount: 10, timeoutMs: 1000, idempotencyKey: `d-${t}` })).result.reservationId)
      }
      poisoned = ids[1]
      yield* TestClock.adjust("1500 millis")
      const statuses = () => Effect.forEach(ids, (id) => Effect.map(ledger.reservation(id), (r) => r.value!.status))
      assert.deepStrictEqual(yield* statuses(), ["EXPIRED", "HELD", "EXPIRED"])
      poisoned = undefined
      yield* TestClock.adjust("1 second")
      assert.deepStrictEqual(yield* statuses(), ["EXPIRED", "EXPIRED", "EXPIRED"], "the sweep still runs after the defect")
      assert.strictEqual((yield* ledger.wallet("d")).value!.held, 0)
    }).pipe(Effect.provide(
      Layer.mergeAll(ReservationExpiry.schedule).pipe(
        Layer.provideMerge(ReservationExpiry.layer),
        Layer.provideMerge(ledgerOn(Layer.succeed(Store, store))),
        Layer.provide(ConfigProvider.layer(ConfigProvider.fromUnknown({ RESERVATION_SWEEP_MS: "1000" })))
      )
    ))
  })
})
