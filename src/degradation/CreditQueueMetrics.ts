import { Effect, Layer, Option } from "effect"
import * as Prom from "prom-client"
import { Metrics } from "../observability/Metrics.ts"
import { CreditQueue } from "./CreditQueue.ts"

/**
 * The durable credit queue's figures on the service's registry, read on scrape: pending now, and
 * queued / replayed / dead-lettered since start. Nothing when the app runs without a queue. Here,
 * not in observability/: metrics know no service that uses them (no folder cycle through the ledger).
 */
export const CreditQueueMetricsLayer = Layer.effectDiscard(Effect.gen(function*() {
  const { registry } = yield* Metrics
  const queue = yield* Effect.serviceOption(CreditQueue)
  if (Option.isNone(queue)) return
  const q = queue.value
  const registers = [registry]
  new Prom.Gauge({ name: "balance_credit_queue_pending", help: "Credits waiting in the durable queue", registers, collect() { this.set(q.pending()) } })
  new Prom.Counter({
    name: "balance_credit_queue_total",
    help: "Credits queued while the store was down, replayed, and dead-lettered (this instance)",
    labelNames: ["event"],
    registers,
    collect() {
      const c = q.counters()
      this.reset()
      this.inc({ event: "queued" }, c.queued)
      this.inc({ event: "replayed" }, c.replayed)
      this.inc({ event: "dead_lettered" }, c.deadLettered)
    }
  })
}))
