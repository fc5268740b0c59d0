import { Cause, Effect, Layer } from "effect"
import { HttpServerError, HttpServerResponse } from "effect/http"
import { HttpApiError, HttpApiMiddleware } from "effect/http-api"
import {
  type ApiError,
  apiErrorStatus,
  BadRequest,
  InternalError,
  isApiError,
  PayloadTooLarge,
  RETRY_AFTER_SECONDS,
  UnsupportedMediaType
} from "./ApiErrors.ts"
import { fromSchemaError } from "./validationError.ts"

const headersFor = (status: number): Record<string, string> => {
  switch (status) {
    case 401:
      return { "www-authenticate": 'Bearer realm="balance-service"' }
    case 503:
      return { "retry-after": String(RETRY_AFTER_SECONDS) }
    default:
      return {}
  }
}

/** The one place an error becomes bytes on the wire. */
export const errorResponse = (e: ApiError): HttpServerResponse.HttpServerResponse => {
  const status = apiErrorStatus(e)
  const body = e.details === undefined
    ? { error: e.error, message: e.message }
    : { error: e.error, message: e.message, details: e.details }
  return HttpServerResponse.jsonUnsafe(body, { status, headers: headersFor(status) })
}

/**
 * Outermost middleware of every endpoint: whatever fails inside (a declared
 * API error, a request that did not decode, an oversized body, a defect)
 * leaves as `{ error, message, details? }`. Defects are logged with their
 * cause and answered without it, so no stack trace reaches a client.
 */
export class ErrorEnvelope extends HttpApiMiddleware.Service<ErrorEnvelope>()("balance/http/ErrorEnvelope", {
  // Any route may answer 500. The 400/413/415 it also renders are declared by the endpoints that
  // take input (InputErrors, BodyErrors), so that /api/health does not list them.
  error: InternalError
}) {
  static readonly layer = Layer.succeed(ErrorEnvelope, (httpEffect) =>
    httpEffect.pipe(
      Effect.map(unifyUnsupportedMediaType),
      Effect.catchCause((cause) =>
        Cause.hasInterruptsOnly(cause) ? Effect.failCause(cause) : Effect.map(toApiError(cause), errorResponse)
      )
    ))
}

const isBodyTooLarge = (defect: unknown): boolean =>
  HttpServerError.isHttpServerError(defect) && defect.reason._tag === "RequestParseError" &&
  defect.reason.reason === "BodyTooLarge"

const isUnreadableBody = (defect: unknown): boolean =>
  HttpServerError.isHttpServerError(defect) && defect.reason._tag === "RequestParseError"

export const toApiError = (cause: Cause.Cause<unknown>): Effect.Effect<ApiError> => {
  const failure = Cause.findErrorOption(cause)
  if (failure._tag === "Some") {
    const e = failure.value
    if (isApiError(e)) return Effect.succeed(e)
    if (HttpApiError.HttpApiSchemaError.is(e)) return Effect.succeed(fromSchemaError(e))
  } else {
    const defect = Cause.findDefect(cause)
    if (defect._tag === "Success" && isBodyTooLarge(defect.success)) {
      return Effect.succeed(new PayloadTooLarge({ error: "PAYLOAD_TOO_LARGE", message: "the request body is too large" }))
    }
    if (defect._tag === "Success" && isUnreadableBody(defect.success)) {
      return Effect.succeed(new BadRequest({ error: "INVALID_BODY", message: "the request body could not be read" }))
    }
  }
  return Effect.logError("http request failed unexpectedly", cause).pipe(
    Effect.as(new InternalError({ error: "INTERNAL", message: "internal error" }))
  )
}

// HttpApi answers an unsupported content type with a plain-text 415 instead of failing.
const unifyUnsupportedMediaType = (response: HttpServerResponse.HttpServerResponse) =>
  response.status === 415
    ? errorResponse(new UnsupportedMediaType({
      error: "UNSUPPORTED_MEDIA_TYPE",
      message: "send the request body as JSON with Content-Type: application/json"
    }))
    : response
