import { assert, describe, it } from "@effect/vitest"
import { Clock, Effect } from "effect"
import { TestClock } from "effect/testing"
import { everyInterval } from "../../src/scheduling/everyInterval.ts"

describe("everyInterval", () => {
  it.effect("a turn that dies or fails is logged and the job goes on at the next interval", () =>
    Effect.gen(function*() {
      const turns: Array<number> = []
      const turn = Effect.gen(function*() {
        turns.push(yield* Effect.clockWith((c) => c.currentTimeMillis))
        if (turns.length === 1) return yield* Effect.die(new Error("a bug in the first turn"))
        if (turns.length === 2) return yield* Effect.fail("the store is away")
      })
      yield* everyInterval("test job", 1_000, turn)
      yield* TestClock.adjust("3500 millis")
      assert.deepStrictEqual(turns, [0, 1_000, 2_000, 3_000])
    }))

  it.effect("startAfterInterval: the first turn one interval after the start, then one per interval", () =>
    Effect.gen(function*() {
      const turns: Array<number> = []
      const turn = Effect.flatMap(Clock.currentTimeMillis, (now) => Effect.sync(() => turns.push(now)))
      yield* everyInterval("test job", 60_000, turn, { startAfterInterval: true })
      yield* TestClock.adjust("59 seconds")
      assert.deepStrictEqual(turns, [])
      yield* TestClock.adjust("121 seconds")
      assert.deepStrictEqual(turns, [60_000, 120_000, 180_000])
    }))
})
