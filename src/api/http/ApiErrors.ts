import { Schema } from "effect"
import { type ErrorStatus, errorCodesAt } from "./errorCodes.ts"

/**
 * The one error body of the HTTP API: `{ error, message, details? }`. Each
 * status has its own class so that endpoints declare (and the OpenAPI document
 * lists) exactly the statuses they can answer, each with the enum of the codes
 * it may carry; ErrorEnvelope renders them all through the same function, so
 * the wire shape cannot drift.
 */
const fieldsAt = <S extends ErrorStatus>(status: S) => ({
  error: Schema.Literals(errorCodesAt(status)).annotate({
    description: "UPPER_SNAKE code: a refusal code of the ledger, or one of the HTTP API's own"
  }),
  message: Schema.String,
  details: Schema.optionalKey(Schema.Unknown)
})

export class BadRequest extends Schema.Error<BadRequest>("BadRequest")(fieldsAt(400), {
  httpApiStatus: 400,
  description: "Invalid input: which field and why (details lists every issue with its location and path)"
}) {}

export class Unauthorized extends Schema.Error<Unauthorized>("Unauthorized")(fieldsAt(401), {
  httpApiStatus: 401,
  description: "Missing or invalid credentials"
}) {}

export class Forbidden extends Schema.Error<Forbidden>("Forbidden")(fieldsAt(403), {
  httpApiStatus: 403,
  description: "Authenticated, but not allowed: another player's account, or an admin route"
}) {}

export class NotFound extends Schema.Error<NotFound>("NotFound")(fieldsAt(404), {
  httpApiStatus: 404,
  description: "Unknown account, reservation, pot or route"
}) {}

export class Conflict extends Schema.Error<Conflict>("Conflict")(fieldsAt(409), {
  httpApiStatus: 409,
  description: "IDEMPOTENCY_KEY_REUSED, or LEDGER_CONTENTION (nothing was written; retrying is safe)"
}) {}

export class PayloadTooLarge extends Schema.Error<PayloadTooLarge>("PayloadTooLarge")(fieldsAt(413), {
  httpApiStatus: 413,
  description: "The request body exceeds HTTP_MAX_BODY_BYTES"
}) {}

export class UnsupportedMediaType extends Schema.Error<UnsupportedMediaType>("UnsupportedMediaType")(fieldsAt(415), {
  httpApiStatus: 415,
  description: "Request bodies must be application/json"
}) {}

export class Unprocessable extends Schema.Error<Unprocessable>("Unprocessable")(fieldsAt(422), {
  httpApiStatus: 422,
  description: "A business refusal (INSUFFICIENT_BALANCE, …): nothing moved"
}) {}

export class InternalError extends Schema.Error<InternalError>("InternalError")(fieldsAt(500), {
  httpApiStatus: 500,
  description: "Unexpected failure; details are logged, never returned"
}) {}

export class Unavailable extends Schema.Error<Unavailable>("Unavailable")(fieldsAt(503), {
  httpApiStatus: 503,
  description: "The store is unreachable; retry after the Retry-After header's seconds"
}) {}

/** What an endpoint with path, query or header parameters may also answer. */
export const InputErrors = [BadRequest] as const

/** What an endpoint with a JSON body may also answer. */
export const BodyErrors = [BadRequest, PayloadTooLarge, UnsupportedMediaType] as const

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
