import { status } from "@grpc/grpc-js"
import { Cause, Result } from "effect"
import { type Refusal, RefusalCode, REFUSALS } from "../../domain/errors.ts"
import type { LedgerContention } from "../../ledger/LedgerErrors.ts"
import type { StoreUnavailable } from "../../store/StoreErrors.ts"

export interface GrpcStatus {
  readonly code: status
  readonly details: string
}

/** A failure that already is a gRPC status (unknown health service, bad credentials). */
export class GrpcStatusFailure {
  readonly _tag = "GrpcStatusFailure"
  readonly status: GrpcStatus
  constructor(s: GrpcStatus) {
    this.status = s
  }
}

/** Everything a handler may fail with; defects and interruptions arrive through the Cause. */
export type CallFailure = Refusal | StoreUnavailable | LedgerContention | GrpcStatusFailure

/**
 * How a method reports refusals: "inBand" for responses with ok/error (the
 * game's client treats any status on them as "service down" and seats players
 * for free), "status" for responses without (GetBalance, EnsureAccount, streams).
 */
export type FailureMode = "inBand" | "status"

export type Answer =
  | { readonly _tag: "Reply"; readonly response: object }
  | { readonly _tag: "Status"; readonly status: GrpcStatus }

export interface InBandRefusal {
  readonly ok: false
  readonly error: string
  readonly errorMessage: string
}

export const inBandRefusal = (refusal: Refusal): InBandRefusal => ({
  ok: false,
  error: refusal.code,
  errorMessage: refusal.message
})

/** A refusal as a status, for methods without an in-band `error`: the status its row in REFUSALS names. */
export const refusalStatus = (refusal: Refusal): GrpcStatus => ({
  code: status[REFUSALS[refusal.code].grpc],
  details: `${refusal.code}: ${refusal.message}`
})

export const SHUTTING_DOWN: GrpcStatus = { code: status.UNAVAILABLE, details: "the server is shutting down; retry" }
export const INTERNAL: GrpcStatus = { code: status.INTERNAL, details: "internal error" }

/**
 * The one place that decides what a failed call answers:
 * - a refusal: in-band `ok=false, error=CODE` or a status, per the method's mode;
 * - the store not answering: UNAVAILABLE (nothing was written or the write is
 *   idempotent to retry);
 * - contention: ABORTED, the gRPC code for "a concurrency conflict, retry the
 *   whole call" (nothing was written; UNAVAILABLE would claim the service is down);
 * - interruption (shutdown): UNAVAILABLE;
 * - a defect: INTERNAL, never the stack (the caller logs the cause).
 */
export const answerFailure = (cause: Cause.Cause<CallFailure>, mode: FailureMode): Answer => {
  const error = Cause.findError(cause)
  if (Result.isFailure(error)) {
    return { _tag: "Status", status: Cause.hasInterruptsOnly(cause) ? SHUTTING_DOWN : INTERNAL }
  }
  const failure = error.success
  switch (failure._tag) {
    case "Refusal":
      return mode === "inBand"
        ? { _tag: "Reply", response: inBandRefusal(failure) }
        : { _tag: "Status", status: refusalStatus(failure) }
    case "StoreUnavailable":
      return { _tag: "Status", status: { code: status.UNAVAILABLE, details: "the ledger store is unavailable; retry" } }
    case "LedgerContention":
      return { _tag: "Status", status: { code: status.ABORTED, details: failure.message } }
    case "GrpcStatusFailure":
      return { _tag: "Status", status: failure.status }
  }
}

/** A label for logs and spans: the in-band code, or the status name. */
export const answerLabel = (answer: Answer): string =>
  answer._tag === "Reply"
    ? String((answer.response as { error?: unknown }).error ?? "OK") || "OK"
    : status[answer.status.code] ?? String(answer.status.code)

/** Every gRPC status name (OK included). */
const STATUS_NAMES: ReadonlyArray<string> = Object.keys(status).filter((name) => Number.isNaN(Number(name)))

/** Every label answerLabel can give a method of this mode: a status name, or an in-band refusal code. */
export const answerLabels = (mode: FailureMode): ReadonlyArray<string> =>
  mode === "inBand" ? [...STATUS_NAMES, ...RefusalCode.literals] : STATUS_NAMES

/**
 * Statuses that mean the server failed, not the request (OpenTelemetry's rule for gRPC server
 * spans): the call's span is marked as an error for these, and only these.
 */
const SERVER_ERROR_CODES: ReadonlySet<status> = new Set([
  status.UNKNOWN,
  status.DEADLINE_EXCEEDED,
  status.UNIMPLEMENTED,
  status.INTERNAL,
  status.UNAVAILABLE,
  status.DATA_LOSS
])

export const isServerError = (answer: Answer): answer is { readonly _tag: "Status"; readonly status: GrpcStatus } =>
  answer._tag === "Status" && SERVER_ERROR_CODES.has(answer.status.code)

/** Fails a call's span (after the caller got its answer) when the answer is a server error. */
export class ServerSideFailure extends Error {
  readonly _tag = "ServerSideFailure"
  constructor(s: GrpcStatus) {
    super(`${status[s.code] ?? s.code}: ${s.details}`)
    this.name = "ServerSideFailure"
  }
}
