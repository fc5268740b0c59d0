import type { RakeRules } from "./potMath.ts"

/** Configured knobs that change what an operation does. */
export interface LedgerRules {
  readonly rake: RakeRules
  readonly reservationTimeoutMs: number
}

/**
 * The longest hold a buy-in may ask for, and the longest default an operator may configure: one
 * hour. A hold covers the moment between "take a seat" and "seated" (seconds; a slow table or a
 * waiting list, minutes). While it lasts the player's chips cannot be used anywhere else, so a
 * hold the game forgot must lapse within the same session; anything longer is a caller bug.
 */
export const MAX_RESERVATION_TIMEOUT_MS = 3_600_000
