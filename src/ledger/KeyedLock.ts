import { Clock, Effect, Semaphore } from "effect"

/**
 * Runs effects for the same key one at a time within this process. Not for
 * correctness (apply's version check is), but so that concurrent commands on
 * one wallet do not keep invalidating each other's optimistic plans.
 *
 * A command that waited longer than `maxWaitMs` for its turn does not run: it
 * fails with `tooLong(waitedMs)`. When the store is down every command holds
 * the key for its whole deadline and retries, so without this bound the n-th
 * command on a hot wallet would answer only after n times that.
 */
export const makeKeyedLock = () => {
  const locks = new Map<string, { readonly semaphore: Semaphore.Semaphore; users: number }>()
  return <A, E, R, E2>(
    key: string,
    effect: Effect.Effect<A, E, R>,
    maxWaitMs: number,
    tooLong: (waitedMs: number) => E2
  ): Effect.Effect<A, E | E2, R> =>
    Effect.suspend(() => {
      let lock = locks.get(key)
      if (!lock) {
        lock = { semaphore: Semaphore.makeUnsafe(1), users: 0 }
        locks.set(key, lock)
      }
      const held = lock
      held.users += 1
      // Alone on the key (the common case): the permit is free, nothing to time.
      const guarded: Effect.Effect<A, E | E2, R> = held.users === 1
        ? held.semaphore.withPermit(effect)
        : Effect.flatMap(Clock.currentTimeMillis, (queuedAt) =>
          held.semaphore.withPermit(
            Effect.flatMap(Clock.currentTimeMillis, (now): Effect.Effect<A, E | E2, R> =>
              now - queuedAt > maxWaitMs ? Effect.fail(tooLong(now - queuedAt)) : effect)
          ))
      return guarded.pipe(
        Effect.ensuring(Effect.sync(() => {
          held.users -= 1
          if (held.users === 0) locks.delete(key)
        }))
      )
    })
}
