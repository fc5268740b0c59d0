import { Cause, Effect, Schedule, type Scope } from "effect"

export interface IntervalOptions {
  /** Wait one interval before the first turn (a job that has nothing to do at start). */
  readonly startAfterInterval?: boolean
}

/**
 * Runs `turn` every `intervalMs` (after each turn ends) for as long as the
 * enclosing scope lives, in a forked fiber. A turn that fails, with an error
 * or a defect (a bug), is logged at Error with its cause and the next turn
 * runs as planned: a background job stopped by its first surprise would stop
 * expiring holds, replaying queued credits or verifying the ledger without a
 * word while the service looks healthy. Closing the scope stops it (logged).
 */
export const everyInterval = <R>(
  job: string,
  intervalMs: number,
  turn: Effect.Effect<unknown, unknown, R>,
  options: IntervalOptions = {}
): Effect.Effect<void, never, R | Scope.Scope> => {
  const survived = turn.pipe(
    Effect.catchCause((cause) =>
      Cause.hasInterruptsOnly(cause)
        ? Effect.failCause(cause)
        : Effect.logError(`${job} failed; it runs again in ${intervalMs} ms`, cause)
    )
  )
  const loop = survived.pipe(Effect.repeat(Schedule.spaced(intervalMs)))
  return (options.startAfterInterval ? Effect.andThen(Effect.sleep(intervalMs), loop) : loop).pipe(
    Effect.onInterrupt(() => Effect.logInfo(`${job} stopped`)),
    Effect.forkScoped,
    Effect.asVoid
  )
}
