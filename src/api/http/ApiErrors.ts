import { Schema } from "effect"

/**
 * The one error body of the HTTP API: `{ error, message, details? }`. Each
 * status has its own class so that endpoints declare (and the OpenAPI document
 * lists) exactly the statuses they can answer; ErrorEnvelope renders them all
 * through the same function, so the wire shape cannot drift.
 */
const fields = {
  /** UPPER_SNAKE code: a RefusalCode, or one of the transport codes below. */
  error: Schema.String,
  message: Schema.String,
  details: Schema.optionalKey(Schema.Unknown)
}

export interface ErrorInit {
  readonly error: string
  readonly message: string
  readonly details?: unknown
}

export class BadRequest extends Schema.Error<BadRequest>("BadRequest")(fields, {
  httpApiStatus: 400,
  description: "Invalid input: which field and why (details lists every issue with its location and path)"
}) {}

export class Unauthorized extends Schema.Error<Unauthorized>("Unauthorized")(fields, {
  httpApiStatus: 401,
  description: "Missing or invalid credentials"
}) {}

export class Forbidden extends Schema.Error<Forbidden>("Forbidden")(fields, {
  httpApiStatus: 403,
  description: "Authenticated, but not allowed: another player's account, or an admin route"
}) {}

export class NotFound extends Schema.Error<NotFound>("NotFound")(fields, {
  httpApiStatus: 404,
  description: "Unknown account, reservation, pot or route"
}) {}

export class Conflict extends Schema.Error<Conflict>("Conflict")(fields, {
  httpApiStatus: 409,
  description: "IDEMPOTENCY_KEY_REUSED, or LEDGER_CONTENTION (nothing was written; retrying is safe)"
}) {}

export class PayloadTooLarge extends Schema.Error<PayloadTooLarge>("PayloadTooLarge")(fields, {
  httpApiStatus: 413,
  description: "The request body exceeds HTTP_MAX_BODY_BYTES"
}) {}

export class UnsupportedMediaType extends Schema.Error<UnsupportedMediaType>("UnsupportedMediaType")(fields, {
  httpApiStatus: 415,
  description: "Request bodies must be application/json"
}) {}

export class Unprocessable extends Schema.Error<Unprocessable>("Unprocessable")(fields, {
  httpApiStatus: 422,
  description: "A business refusal (INSUFFICIENT_BALANCE, …): nothing moved"
}) {}

export class InternalError extends Schema.Error<InternalError>("InternalError")(fields, {
  httpApiStatus: 500,
  description: "Unexpected failure; details are logged, never returned"
}) {}

export class Unavailable extends Schema.Error<Unavailable>("Unavailable")(fields, {
  httpApiStatus: 503,
  description: "The store is unreachable; retry after the Retry-After header's seconds"
}) {}

export type ApiError =
  | BadRequest
  | Unauthorized
  | Forbidden
  | NotFound
  | Conflict
  | PayloadTooLarge
  | UnsupportedMediaType
  | Unprocessable
  | InternalError
  | Unavailable

const statusOf = new Map<Function, number>([
  [BadRequest, 400],
  [Unauthorized, 401],
  [Forbidden, 403],
  [NotFound, 404],
  [Conflict, 409],
  [PayloadTooLarge, 413],
  [UnsupportedMediaType, 415],
  [Unprocessable, 422],
  [InternalError, 500],
  [Unavailable, 503]
])

export const isApiError = (u: unknown): u is ApiError =>
  typeof u === "object" && u !== null && statusOf.has(u.constructor)

export const apiErrorStatus = (e: ApiError): number => statusOf.get(e.constructor)!

/** Seconds a client should wait before retrying a 503. */
export const RETRY_AFTER_SECONDS = 1

export const storeUnavailable = (): Unavailable =>
  new Unavailable({ error: "STORE_UNAVAILABLE", message: "the ledger store is unreachable; retry later" })
