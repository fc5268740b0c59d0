export type BreakerState = "closed" | "open" | "half-open"

export interface CircuitBreakerSettings {
  /** Consecutive transport failures that open the circuit. */
  readonly failureThreshold: number
  /** How long it stays open before one trial call is let through. */
  readonly openMs: number
}

/**
 * Closed: calls go through; `failureThreshold` transport failures in a row open
 * it. Open: calls fail at once (no attempt, no wait) for `openMs`. Then
 * half-open: exactly one trial call goes through; its success closes the
 * circuit, its failure opens it again. Refusals count as successes: the
 * service answered.
 */
export class CircuitBreaker {
  private state: BreakerState = "closed"
  private failures = 0
  private openedAt = 0
  private trialInFlight = false

  private readonly settings: CircuitBreakerSettings
  private readonly onChange: (state: BreakerState) => void
  private readonly now: () => number

  constructor(settings: CircuitBreakerSettings, onChange: (state: BreakerState) => void = () => {}, now: () => number = Date.now) {
    this.settings = settings
    this.onChange = onChange
    this.now = now
  }

  current(): BreakerState {
    if (this.state === "open" && this.now() - this.openedAt >= this.settings.openMs) return "half-open"
    return this.state
  }

  /** Whether an attempt may be made now; in half-open, only the one trial. */
  tryAcquire(): boolean {
    const s = this.current()
    if (s === "closed") return true
    if (s === "open") return false
    if (this.trialInFlight) return false
    if (this.state !== "half-open") this.transition("half-open")
    this.trialInFlight = true
    return true
  }

  onSuccess(): void {
    this.failures = 0
    this.trialInFlight = false
    if (this.state !== "closed") this.transition("closed")
  }

  onFailure(): void {
    this.trialInFlight = false
    this.failures++
    if (this.state === "half-open" || (this.state === "closed" && this.failures >= this.settings.failureThreshold)) {
      this.openedAt = this.now()
      this.transition("open")
    }
  }

  /** An attempt that ended without telling anything about the service (cancelled by the caller). */
  onAbandon(): void {
    this.trialInFlight = false
  }

  private transition(to: BreakerState) {
    this.state = to
    this.onChange(to)
  }
}
