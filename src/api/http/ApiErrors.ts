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

/** A class's fields and annotations from its status, stated once: the codes it may carry and the status it answers with. */
const answeredWith = <S extends ErrorStatus>(status: S, description: string) =>
  [fieldsAt(status), { httpApiStatus: status, description }] as const

export class BadRequest extends Schema.Error<BadRequest>("BadRequest")(...answeredWith(
  400,
  "Invalid input: which field and why (details lists every issue with its location and path)"
)) {}

export class Unauthorized extends Schema.Error<Unauthorized>("Unauthorized")(...answeredWith(
  401,
  "Missing or invalid credentials"
)) {}

export class Forbidden extends Schema.Error<Forbidden>("Forbidden")(...answeredWith(
  403,
  "Authenticated, but not allowed: another player's account, or an admin route"
)) {}

export class NotFound extends Schema.Error<NotFound>("NotFound")(...answeredWith(
  404,
  "Unknown account, reservation, pot or route"
)) {}

export class Conflict extends Schema.Error<Conflict>("Conflict")(...answeredWith(
  409,
  "IDEMPOTENCY_KEY_REUSED, or LEDGER_CONTENTION (nothing was written; retrying is safe)"
)) {}

export class PayloadTooLarge extends Schema.Error<PayloadTooLarge>("PayloadTooLarge")(...answeredWith(
  413,
  "The request body exceeds HTTP_MAX_BODY_BYTES"
)) {}

export class UnsupportedMediaType extends Schema.Error<UnsupportedMediaType>("UnsupportedMediaType")(...answeredWith(
  415,
  "Request bodies must be application/json"
)) {}

export class Unprocessable extends Schema.Error<Unprocessable>("Unprocessable")(...answeredWith(
  422,
  "A business refusal (INSUFFICIENT_BALANCE, …): nothing moved"
)) {}

export class InternalError extends Schema.Error<InternalError>("InternalError")(...answeredWith(
  500,
  "Unexpected failure; details are logged, never returned"
)) {}

export class Unavailable extends Schema.Error<Unavailable>("Unavailable")(...answeredWith(
  503,
  "The store is unreachable; retry after the Retry-After header's seconds"
)) {}

/** What an endpoint with path, query or header parameters may also answer. */
export const InputErrors = [BadRequest] as const

/** What an endpoint with a JSON body may also answer. */
export const BodyErrors = [BadRequest, PayloadTooLarge, UnsupportedMediaType] as const

const API_ERRORS = [
  BadRequest,
  Unauthorized,
  Forbidden,
  NotFound,
  Conflict,
  PayloadTooLarge,
  UnsupportedMediaType,
  Unprocessable,
  InternalError,
  Unavailable
] as const

export type ApiError = InstanceType<(typeof API_ERRORS)[number]>

/** Each class's status, read from its own `httpApiStatus` annotation (the one HttpApi answers with). */
const statusOf = new Map<Function, number>(API_ERRORS.map((error) => [error, error.ast.annotations?.httpApiStatus as number]))

export const isApiError = (u: unknown): u is ApiError =>
  typeof u === "object" && u !== null && statusOf.has(u.constructor)

export const apiErrorStatus = (e: ApiError): number => statusOf.get(e.constructor)!

/** The error class that answers with `status`. */
export const apiErrorAt = (status: ErrorStatus) => API_ERRORS.find((error) => statusOf.get(error) === status)!

/** Seconds a client should wait before retrying a 503. */
export const RETRY_AFTER_SECONDS = 1

export const storeUnavailable = (): Unavailable =>
  new Unavailable({ error: "STORE_UNAVAILABLE", message: "the ledger store is unreachable; retry later" })

/** The history store (PostgreSQL) alone did not answer: what an operator must look at is PostgreSQL, not Redis. */
export const historyUnavailable = (): Unavailable =>
  new Unavailable({ error: "STORE_UNAVAILABLE", message: "the history store (PostgreSQL) is unreachable; retry later" })
