export interface RetryBudgetSettings {
  /** Retries allowed per first attempt, client-wide, over the window (0.2 = at most 20% extra load). */
  readonly ratio: number
  /** Retries always allowed per second, so a quiet client can still retry. */
  readonly minRetriesPerSecond: number
  /** The window over which calls and retries are counted. */
  readonly windowMs: number
}

/**
 * A client-wide cap on retries (as in Finagle / gRPC's retry throttling): when
 * the service is down, every caller retrying several times multiplies the load
 * that keeps it down. Counts first attempts and retries in a sliding window
 * (one-second buckets); a retry is allowed while retries < min + ratio * calls.
 */
export class RetryBudget {
  private readonly buckets: Array<{ second: number; calls: number; retries: number }> = []

  private readonly settings: RetryBudgetSettings
  private readonly now: () => number

  constructor(settings: RetryBudgetSettings, now: () => number = Date.now) {
    this.settings = settings
    this.now = now
  }

  private bucket() {
    const second = Math.floor(this.now() / 1000)
    const horizon = second - Math.ceil(this.settings.windowMs / 1000)
    while (this.buckets.length > 0 && this.buckets[0]!.second <= horizon) this.buckets.shift()
    let last = this.buckets[this.buckets.length - 1]
    if (last === undefined || last.second !== second) {
      last = { second, calls: 0, retries: 0 }
      this.buckets.push(last)
    }
    return last
  }

  recordCall(): void {
    this.bucket().calls++
  }

  /** Takes one retry from the budget if there is one left. */
  tryRetry(): boolean {
    const current = this.bucket()
    let calls = 0
    let retries = 0
    for (const b of this.buckets) {
      calls += b.calls
      retries += b.retries
    }
    const allowed = this.settings.minRetriesPerSecond * (this.settings.windowMs / 1000) + this.settings.ratio * calls
    if (retries >= allowed) return false
    current.retries++
    return true
  }
}
