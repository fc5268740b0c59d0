import { Clock, Effect, Semaphore } from "effect"

/** A key with commands waiting for it: they queue (FIFO) on its semaphore. */
interface Queue {
  readonly semaphore: Semaphore.Semaphore
  /** Commands on the key: the holder and those queued, removed when they end (an interrupted waiter too). */
  users: number
}

/**
 * Runs effects for the same key one at a time within this process. Not for
 * correctness (apply's version check is), but so that concurrent commands on
 * one wallet do not keep invalidating each other's optimistic plans.
 *
 * A command that waited longer than `maxWaitMs` for its turn does not run: it
 * fails with `tooLong(waitedMs)`. When the store is down every command holds
 * the key for its whole deadline and retries, so without this bound the n-th
 * command on a hot wallet would answer only after n times that.
 *
 * A key nobody holds (almost every call) is taken without allocating anything
 * but its map entry: no semaphore, no record, no clock read. The semaphore is
 * made when a second command comes for a held key; it starts without a permit
 * (the first command holds the key outside it) and gets its one permit when
 * that command ends, so the queue is served in arrival order from then on.
 */
export const makeKeyedLock = () => {
  /** Held keys: `undefined` while nobody waits (the first holder needs nothing more), else the queue. */
  const held = new Map<string, Queue | undefined>()

  /** The first holder (taken without the semaphore) ends: the key is free, or its permit goes to the queue. */
  const releaseFirst = (key: string): Effect.Effect<void> => {
    const queue = held.get(key)
    if (queue === undefined) {
      held.delete(key)
      return Effect.void
    }
    queue.users -= 1
    if (queue.users === 0) {
      held.delete(key) // every waiter was interrupted
      return Effect.void
    }
    return queue.semaphore.resize(1)
  }

  /** A command that went through the queue ends (ran, refused for waiting too long, or interrupted while waiting). */
  const leaveQueue = (key: string, queue: Queue) =>
    Effect.sync(() => {
      queue.users -= 1
      if (queue.users === 0 && held.get(key) === queue) held.delete(key)
    })

  return <A, E, R, E2>(
    key: string,
    effect: Effect.Effect<A, E, R>,
    maxWaitMs: number,
    tooLong: (waitedMs: number) => E2
  ): Effect.Effect<A, E | E2, R> =>
    // Uninterruptible from taking the key to installing its release; the effect itself stays interruptible.
    Effect.uninterruptibleMask((restore) => {
      if (!held.has(key)) {
        // Alone on the key (the common case): nothing to queue on, nothing to time.
        held.set(key, undefined)
        return Effect.onExit(restore(effect), () => releaseFirst(key))
      }
      let queue = held.get(key)
      if (queue === undefined) {
        queue = { semaphore: Semaphore.makeUnsafe(0), users: 1 }
        held.set(key, queue)
      }
      queue.users += 1
      const semaphore = queue.semaphore
      const waited: Effect.Effect<A, E | E2, R> = Effect.flatMap(Clock.currentTimeMillis, (queuedAt) =>
        semaphore.withPermit(
          Effect.flatMap(Clock.currentTimeMillis, (now): Effect.Effect<A, E | E2, R> =>
            now - queuedAt > maxWaitMs ? Effect.fail(tooLong(now - queuedAt)) : effect)
        ))
      return Effect.ensuring(restore(waited), leaveQueue(key, queue))
    })
}
