import { Effect, Semaphore } from "effect"

/**
 * Runs effects for the same key one at a time within this process. Not for
 * correctness (apply's version check is), but so that concurrent commands on
 * one wallet do not keep invalidating each other's optimistic plans.
 */
export const makeKeyedLock = () => {
  const locks = new Map<string, { readonly semaphore: Semaphore.Semaphore; users: number }>()
  return <A, E, R>(key: string, effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Effect.suspend(() => {
      let lock = locks.get(key)
      if (!lock) {
        lock = { semaphore: Semaphore.makeUnsafe(1), users: 0 }
        locks.set(key, lock)
      }
      const held = lock
      held.users += 1
      return held.semaphore.withPermit(effect).pipe(
        Effect.ensuring(Effect.sync(() => {
          held.users -= 1
          if (held.users === 0) locks.delete(key)
        }))
      )
    })
}
