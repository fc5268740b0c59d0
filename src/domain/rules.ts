import type { RakeRules } from "./potMath.ts"

/** Configured knobs that change what an operation does. */
export interface LedgerRules {
  readonly rake: RakeRules
  readonly reservationTimeoutMs: number
}
