import type { BalanceClientOptions } from "../../../client/src/index.ts"

/**
 * Client settings that make outage tests quick: a dead service is given up on
 * within a few hundred milliseconds (then the permissive fallback takes over),
 * and the breaker opens after a handful of failures.
 */
export const FAST_FAIL: Partial<BalanceClientOptions> = {
  attemptTimeoutMs: 1_000,
  callTimeoutMs: 2_000,
  retry: { maxAttempts: 3, baseDelayMs: 20, maxDelayMs: 100 },
  breaker: { failureThreshold: 5, openMs: 500 }
}

/** Settings that keep a call retrying through a service restart (seconds), never tripping the breaker. */
export const RIDE_THROUGH: Partial<BalanceClientOptions> = {
  attemptTimeoutMs: 1_000,
  callTimeoutMs: 60_000,
  retry: { maxAttempts: 1_000, baseDelayMs: 50, maxDelayMs: 300, budget: { ratio: 100, minRetriesPerSecond: 1_000 } },
  breaker: { failureThreshold: 1_000_000, openMs: 1_000 }
}
