import * as Prom from "prom-client"

/** The metric's name; scripts/bench.ts reads commands per Redis apply call as its _sum / _count. */
export const APPLY_BATCH_SIZE_METRIC = "balance_store_apply_batch_size"

/**
 * Plans per apply.lua call (group commit, applyBatcher.ts) as a histogram on the service's
 * registry: _count is the number of Redis apply calls, _sum the number of plans they carried.
 * Registered by the Redis store when the service's Metrics are there (not in scripts and tests
 * that run a bare store).
 */
export const applyBatchSizeMetric = (registry: Prom.Registry): (plans: number) => void => {
  const existing = registry.getSingleMetric(APPLY_BATCH_SIZE_METRIC) as Prom.Histogram<never> | undefined
  const histogram = existing ?? new Prom.Histogram({
    // Spelled out (it equals APPLY_BATCH_SIZE_METRIC): test/packaging/observability.test.ts finds the
    // service's histograms by their literal names to check the dashboard queries their buckets.
    name: "balance_store_apply_batch_size",
    help: "Plans (commands) per Redis apply call: the group commit's batch size",
    buckets: [1, 2, 4, 8, 16, 32, 64, 128],
    registers: [registry]
  })
  return (plans) => histogram.observe(plans)
}
