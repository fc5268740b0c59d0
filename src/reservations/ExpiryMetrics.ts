import { Effect, Layer } from "effect"
import { Metrics } from "../observability/Metrics.ts"
import { ReservationExpiry } from "./ReservationExpiry.ts"

/** Feeds each sweep's lateness figures into the histogram (here, not in observability/: metrics know no service that uses them). */
export const ExpiryMetricsLayer = Layer.effectDiscard(Effect.gen(function*() {
  const metrics = yield* Metrics
  const expiry = yield* ReservationExpiry
  expiry.onSweep((result) => {
    for (const ms of result.lateness) metrics.expiryLateness.observe(ms / 1000)
  })
}))
