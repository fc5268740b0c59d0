import { Effect, Layer } from "effect"
import { ReservationExpiry } from "../reservations/ReservationExpiry.ts"
import { Metrics } from "./Metrics.ts"

/** Feeds each sweep's lateness figures into the histogram. */
export const ExpiryMetricsLayer = Layer.effectDiscard(Effect.gen(function*() {
  const metrics = yield* Metrics
  const expiry = yield* ReservationExpiry
  expiry.onSweep((result) => {
    for (const ms of result.lateness) metrics.expiryLateness.observe(ms / 1000)
  })
}))
