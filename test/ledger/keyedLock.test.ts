import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber } from "effect"
import { TestClock } from "effect/testing"
import { makeKeyedLock } from "../../src/ledger/KeyedLock.ts"

const NO_LIMIT = 60_000
const tooLong = (waitedMs: number) => ({ _tag: "TooLong" as const, waitedMs })

/** Lets every forked fiber run until it blocks (no timers involved). */
const settle = Effect.repeat(Effect.yieldNow, { times: 20 })

/** A command that records when it starts, then holds the key until `gate` opens, and records its end. */
const holding = (log: Array<string>, name: string, gate: Deferred.Deferred<void>) =>
  Effect.andThen(
    Effect.sync(() => log.push(`${name} start`)),
    Effect.andThen(Deferred.await(gate), Effect.sync(() => log.push(`${name} end`)))
  )

describe("KeyedLock", () => {
  it.effect("alone on a key, a command runs at once, and again after the previous one ended (the uncontended path)", () =>
    Effect.gen(function*() {
      const withKey = makeKeyedLock()
      const log: Array<string> = []
      for (const name of ["a", "b", "c"]) {
        yield* withKey("k", Effect.sync(() => log.push(name)), NO_LIMIT, tooLong)
      }
      // Different keys never wait for each other, even while one is held.
      const gate = yield* Deferred.make<void>()
      const holder = yield* Effect.forkChild(withKey("k", holding(log, "holder", gate), NO_LIMIT, tooLong))
      yield* settle
      yield* withKey("other", Effect.sync(() => log.push("other key")), NO_LIMIT, tooLong)
      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.join(holder)
      assert.deepStrictEqual(log, ["a", "b", "c", "holder start", "other key", "holder end"])
    }))

  it.effect("commands on a held key run one at a time, in the order they came", () =>
    Effect.gen(function*() {
      const withKey = makeKeyedLock()
      const log: Array<string> = []
      const gates = yield* Effect.forEach([1, 2, 3, 4], () => Deferred.make<void>())
      const fibers: Array<Fiber.Fiber<unknown, unknown>> = []
      for (const [i, gate] of gates.entries()) {
        fibers.push(yield* Effect.forkChild(withKey("k", holding(log, `c${i + 1}`, gate), NO_LIMIT, tooLong)))
        yield* settle
      }
      assert.deepStrictEqual(log, ["c1 start"], "the others wait")
      // Opened last to first: each still waits for the ones before it.
      for (const gate of [...gates].reverse()) yield* Deferred.succeed(gate, undefined)
      yield* Effect.forEach(fibers, Fiber.join)
      assert.deepStrictEqual(log, ["c1 start", "c1 end", "c2 start", "c2 end", "c3 start", "c3 end", "c4 start", "c4 end"])
      // Everything ended: the key is free again, taken at once.
      yield* withKey("k", Effect.sync(() => log.push("after")), NO_LIMIT, tooLong)
      assert.strictEqual(log.at(-1), "after")
    }))

  it.effect("a holder interrupted (the first one, taken without a queue, or a queued one) hands the key to the next", () =>
    Effect.gen(function*() {
      const withKey = makeKeyedLock()
      const log: Array<string> = []
      const never = yield* Deferred.make<void>()
      const open = yield* Deferred.make<void>()
      yield* Deferred.succeed(open, undefined)
      const first = yield* Effect.forkChild(withKey("k", holding(log, "first", never), NO_LIMIT, tooLong))
      yield* settle
      const second = yield* Effect.forkChild(withKey("k", holding(log, "second", never), NO_LIMIT, tooLong))
      yield* settle
      const third = yield* Effect.forkChild(withKey("k", holding(log, "third", open), NO_LIMIT, tooLong))
      yield* settle
      assert.deepStrictEqual(log, ["first start"])
      yield* Fiber.interrupt(first)
      yield* settle
      assert.deepStrictEqual(log, ["first start", "second start"])
      yield* Fiber.interrupt(second)
      yield* Fiber.join(third)
      assert.deepStrictEqual(log, ["first start", "second start", "third start", "third end"])
      yield* withKey("k", Effect.sync(() => log.push("after")), NO_LIMIT, tooLong)
      assert.strictEqual(log.at(-1), "after")
    }))

  it.effect("a command interrupted while it waits leaves the queue; the key is free once its holder ends", () =>
    Effect.gen(function*() {
      const withKey = makeKeyedLock()
      const log: Array<string> = []
      const gate = yield* Deferred.make<void>()
      const holder = yield* Effect.forkChild(withKey("k", holding(log, "holder", gate), NO_LIMIT, tooLong))
      yield* settle
      const waiter = yield* Effect.forkChild(withKey("k", Effect.sync(() => log.push("waiter ran")), NO_LIMIT, tooLong))
      yield* settle
      yield* Fiber.interrupt(waiter)
      const exit = yield* Fiber.await(waiter)
      assert.isTrue(Exit.hasInterrupts(exit))
      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.join(holder)
      yield* withKey("k", Effect.sync(() => log.push("after")), NO_LIMIT, tooLong)
      assert.deepStrictEqual(log, ["holder start", "holder end", "after"])
    }))

  it.effect("a command that waited longer than maxWaitMs does not run: it fails with tooLong(waited)", () =>
    Effect.gen(function*() {
      const withKey = makeKeyedLock()
      const log: Array<string> = []
      const gate = yield* Deferred.make<void>()
      const holder = yield* Effect.forkChild(withKey("k", holding(log, "holder", gate), 1_000, tooLong))
      yield* settle
      const late = yield* Effect.forkChild(Effect.flip(withKey("k", Effect.sync(() => log.push("late ran")), 1_000, tooLong)))
      yield* settle
      yield* TestClock.adjust("1001 millis")
      const punctual = yield* Effect.forkChild(withKey("k", Effect.sync(() => log.push("punctual ran")), 1_000, tooLong))
      yield* settle
      yield* Deferred.succeed(gate, undefined)
      assert.deepStrictEqual(yield* Fiber.join(late), { _tag: "TooLong", waitedMs: 1001 })
      yield* Fiber.join(punctual)
      yield* Fiber.join(holder)
      assert.deepStrictEqual(log, ["holder start", "holder end", "punctual ran"])
    }))
})
