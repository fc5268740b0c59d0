import { Cause, Context, Effect, Layer } from "effect"
import { AppConfig } from "../config.ts"
import { everyInterval } from "../scheduling/everyInterval.ts"
import { Ledger } from "../ledger/Ledger.ts"
import { Metrics } from "../observability/Metrics.ts"
import { Store } from "../store/Store.ts"

export interface SweepResult {
  readonly due: number
  readonly expired: number
  readonly failed: number
  /** How late each expiry was processed, ms after its deadline. */
  readonly lateness: ReadonlyArray<number>
}

const BATCH = 200

/**
 * Voids HELD reservations whose deadline passed. Each one goes through the
 * normal Expire command (plan/apply with version checks), so several
 * instances sweeping the same index at once is harmless: the loser of a race
 * finds the reservation no longer HELD and changes nothing.
 */
export class ReservationExpiry extends Context.Service<ReservationExpiry, {
  readonly sweepOnce: () => Effect.Effect<SweepResult>
  /** Called with each sweep's result (metrics hook). */
  readonly onSweep: (listener: (result: SweepResult) => void) => void
}>()("balance/ReservationExpiry") {
  static readonly layer = Layer.effect(ReservationExpiry, Effect.gen(function*() {
    const ledger = yield* Ledger
    const store = yield* Store
    const listeners: Array<(result: SweepResult) => void> = []

    // Untraced: a sweep runs every second on every instance and usually finds nothing; the index read
    // is not traced either, and a batch that has holds to expire gets its own span.
    const sweepOnce = Effect.fnUntraced(function*() {
      let due = 0
      let expired = 0
      let failed = 0
      const lateness: Array<number> = []
      for (;;) {
        const now = yield* Effect.clockWith((c) => c.currentTimeMillis)
        const ids = yield* store.dueReservations(now, BATCH).pipe(
          Effect.withTracerEnabled(false),
          Effect.catchTag("StoreUnavailable", (e) =>
            Effect.logWarning("reservation sweep could not read the expiry index").pipe(
              Effect.annotateLogs({ reason: e.reason }),
              Effect.as([] as ReadonlyArray<string>)
            ))
        )
        due += ids.length
        if (ids.length === 0) break
        yield* Effect.forEach(ids, (reservationId) =>
          ledger.execute({ op: "Expire", reservationId }).pipe(
            Effect.tap(({ result }) =>
              Effect.sync(() => {
                if (result.expired) {
                  expired += 1
                  lateness.push(result.lateByMs)
                }
              })
            ),
            // One reservation's trouble (the store, or a bug: a defect) must not end the sweep for the others.
            Effect.catchCause((cause) =>
              Effect.sync(() => {
                failed += 1
              }).pipe(Effect.andThen(
                Cause.hasFails(cause)
                  ? Effect.logWarning("reservation expiry failed").pipe(Effect.annotateLogs({ reservationId, error: String(Cause.squash(cause)) }))
                  : Effect.logError("reservation expiry failed", cause).pipe(Effect.annotateLogs({ reservationId }))
              ))
            )
          ), { concurrency: 16, discard: true }).pipe(
          Effect.withSpan("ReservationExpiry.sweep", { attributes: { "reservations.due": ids.length } }, { captureStackTrace: false })
        )
        // A full batch means more are due; a batch of only failures would spin, so stop then.
        if (ids.length < BATCH || failed >= ids.length) break
      }
      const result: SweepResult = { due, expired, failed, lateness }
      for (const listener of listeners) listener(result)
      return result
    })

    return ReservationExpiry.of({ sweepOnce, onSweep: (listener) => void listeners.push(listener) })
  }))

  /** The scheduled fiber: sweeps every RESERVATION_SWEEP_MS for as long as the app runs. */
  static readonly schedule = Layer.effectDiscard(Effect.gen(function*() {
    const every = yield* AppConfig.reservationSweepMs
    const expiry = yield* ReservationExpiry
    yield* everyInterval("reservation sweep", every, expiry.sweepOnce())
  }))

  /** Feeds each sweep's lateness figures into the service's histogram. */
  static readonly metrics = Layer.effectDiscard(Effect.gen(function*() {
    const metrics = yield* Metrics
    const expiry = yield* ReservationExpiry
    expiry.onSweep((result) => {
      for (const ms of result.lateness) metrics.expiryLateness.observe(ms / 1000)
    })
  }))
}
