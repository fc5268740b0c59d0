import { Clock, Context, Effect, Layer } from "effect"

/**
 * The live clock plus an offset a test can push forward: deadlines pass
 * without waiting, while sleeps (stream polling, back-off) stay real. The
 * server runs on real sockets, so TestClock (which freezes sleeps) cannot be used.
 */
export class ShiftableClock extends Context.Service<ShiftableClock, {
  readonly advance: (millis: number) => Effect.Effect<void>
}>()("test/ShiftableClock") {
  static readonly layer = Layer.unwrap(Effect.sync(() => {
    const live = Clock.Clock.defaultValue()
    let offset = 0
    const clock: Clock.Clock = {
      currentTimeMillisUnsafe: () => live.currentTimeMillisUnsafe() + offset,
      currentTimeMillis: Effect.sync(() => live.currentTimeMillisUnsafe() + offset),
      currentTimeNanosUnsafe: () => live.currentTimeNanosUnsafe() + BigInt(offset) * 1_000_000n,
      currentTimeNanos: Effect.sync(() => live.currentTimeNanosUnsafe() + BigInt(offset) * 1_000_000n),
      monotonicTimeNanosUnsafe: () => live.monotonicTimeNanosUnsafe(),
      monotonicTimeNanos: live.monotonicTimeNanos,
      sleep: (duration) => live.sleep(duration)
    }
    return Layer.mergeAll(
      Layer.succeed(Clock.Clock, clock),
      Layer.succeed(ShiftableClock, ShiftableClock.of({ advance: (millis) => Effect.sync(() => void (offset += millis)) }))
    )
  }))
}
