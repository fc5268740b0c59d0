import { Effect, Result } from "effect"

/**
 * The one way tests wait: poll a probe until it holds, with a deadline. Never
 * a fixed sleep. A probe answers the value waited for, or `undefined`/`false`
 * for "not yet"; a probe that throws (fails) counts as "not yet" too, and its
 * last error is named when the deadline passes. Throw `PollAborted` to stop
 * at once (the process polled has died: waiting longer cannot help).
 */

export class PollAborted extends Error {}

export interface EventuallyOptions {
  /** Default 10 s. */
  readonly timeoutMs?: number
  /** Default 50 ms. */
  readonly intervalMs?: number
}

type NotYet = undefined | false

/** A real-time pause between probes (a timer, not Effect's clock: the same under TestClock). */
const pause = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

const timedOut = (what: string, timeoutMs: number, lastError: unknown) => {
  const why = lastError === undefined ? "" : ` (last error: ${lastError instanceof Error ? lastError.message : String(lastError)})`
  return new Error(`timed out after ${timeoutMs} ms waiting for ${what}${why}`)
}

/** Promise flavour, for tests that drive processes and clients. */
export const eventually = async <A>(
  what: string,
  probe: () => Promise<A | NotYet> | A | NotYet,
  options: EventuallyOptions = {}
): Promise<A> => {
  const timeoutMs = options.timeoutMs ?? 10_000
  const deadline = Date.now() + timeoutMs
  let lastError: unknown
  for (;;) {
    try {
      const value = await probe()
      if (value !== undefined && value !== false) return value
    } catch (e) {
      if (e instanceof PollAborted) throw e
      lastError = e
    }
    if (Date.now() > deadline) throw timedOut(what, timeoutMs, lastError)
    await new Promise<void>((resolve) => setTimeout(resolve, options.intervalMs ?? 20))
  }
}

/** Effect flavour: the same rules; it waits on the real clock, also inside tests that run on TestClock. */
export const eventuallyEffect = <A, E, R>(
  what: string,
  probe: Effect.Effect<A | NotYet, E, R>,
  options: EventuallyOptions = {}
): Effect.Effect<A, never, R> =>
  Effect.gen(function*() {
    const timeoutMs = options.timeoutMs ?? 10_000
    const deadline = Date.now() + timeoutMs
    let lastError: unknown
    for (;;) {
      const r = yield* Effect.result(probe)
      if (Result.isSuccess(r) && r.success !== undefined && r.success !== false) return r.success
      if (Result.isFailure(r)) lastError = r.failure
      if (Date.now() > deadline) return yield* Effect.die(timedOut(what, timeoutMs, lastError))
      yield* Effect.promise(() => pause(options.intervalMs ?? 50))
    }
  })
