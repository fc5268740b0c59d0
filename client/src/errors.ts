import type { RefusalCode } from "./generated/balanceService.ts"

/**
 * The three ways a call can end without a success. `_tag` makes them
 * Effect-friendly (`Effect.catchTag("BalanceRefusal", ...)`) without the core
 * depending on Effect.
 */

/** The service answered and said no (in-band `ok=false, error=CODE`): nothing moved. Never retried. */
export class BalanceRefusal extends Error {
  readonly _tag = "BalanceRefusal" as const
  readonly method: string
  /** One of REFUSAL_CODES; a newer service may answer a code this client does not know yet. */
  readonly code: RefusalCode | (string & {})
  readonly detail: string
  constructor(method: string, code: RefusalCode | (string & {}), detail: string) {
    super(`${method} refused: ${code}${detail ? ` (${detail})` : ""}`)
    this.name = "BalanceRefusal"
    this.method = method
    this.code = code
    this.detail = detail
  }
}

export type UnavailableReason =
  /** Every attempt failed with UNAVAILABLE / DEADLINE_EXCEEDED / ABORTED (or the call's time ran out). */
  | "transport"
  /** The circuit breaker is open: no attempt was made. */
  | "circuit-open"
  /** Retries were refused by the retry budget (too many retries client-wide). */
  | "retry-budget"

/**
 * The service could not be reached in time: the outcome of a mutating call is
 * UNKNOWN (it may have been applied). Retrying with the same idempotency key is
 * always safe; this is what the permissive fallback journals.
 */
export class BalanceUnavailable extends Error {
  readonly _tag = "BalanceUnavailable" as const
  readonly method: string
  readonly reason: UnavailableReason
  readonly attempts: number
  /** The gRPC status of the last attempt, when one was made. */
  readonly grpcCode: number | undefined
  readonly detail: string
  constructor(method: string, reason: UnavailableReason, attempts: number, grpcCode: number | undefined, detail: string) {
    super(`${method}: balance service unavailable (${reason}, ${attempts} attempt(s)${detail ? `: ${detail}` : ""})`)
    this.name = "BalanceUnavailable"
    this.method = method
    this.reason = reason
    this.attempts = attempts
    this.grpcCode = grpcCode
    this.detail = detail
  }
}

/**
 * The service answered with a status that retrying cannot fix (UNAUTHENTICATED,
 * PERMISSION_DENIED, INVALID_ARGUMENT, INTERNAL, UNIMPLEMENTED, ...): a
 * configuration error or a bug, surfaced loudly rather than journaled.
 */
export class BalanceCallError extends Error {
  readonly _tag = "BalanceCallError" as const
  readonly method: string
  readonly grpcCode: number
  readonly detail: string
  constructor(method: string, grpcCode: number, detail: string) {
    super(`${method} failed with gRPC status ${grpcCode}: ${detail}`)
    this.name = "BalanceCallError"
    this.method = method
    this.grpcCode = grpcCode
    this.detail = detail
  }
}

export type BalanceFailure = BalanceRefusal | BalanceUnavailable | BalanceCallError
