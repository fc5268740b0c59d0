/**
 * "Full jitter" exponential back-off: a uniformly random wait in
 * [0, min(max, base * 2^(attempt-1))]. Spreads the retries of many clients
 * that failed together (a restarting service) instead of synchronising them.
 */
export const jitteredBackoffMs = (attempt: number, baseMs: number, maxMs: number, random: () => number = Math.random): number =>
  Math.floor(random() * Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1)))

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))
