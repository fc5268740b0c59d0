import { REFUSALS, RefusalCode } from "../../domain/errors.ts"

/**
 * Every `error` code the HTTP API answers, by status: the domain's refusal
 * codes (each at the status its row in REFUSALS gives) and the codes only HTTP
 * has (transport, auth, routing). The error schemas, and so the OpenAPI document, enumerate
 * exactly these per status.
 */

/** Codes that only the HTTP API answers with. */
export const HTTP_ONLY_CODES = {
  400: ["INVALID_BODY", "INVALID_CURSOR", "INVALID_RANGE"],
  401: ["MISSING_CREDENTIALS", "INVALID_CREDENTIALS", "INVALID_ADMIN_KEY", "INVALID_TOKEN", "TOKEN_EXPIRED"],
  403: ["FORBIDDEN", "ADMIN_REQUIRED"],
  404: ["NOT_FOUND", "DEAD_LETTER_NOT_FOUND", "VERIFICATION_JOB_NOT_FOUND"],
  409: ["LEDGER_CONTENTION", "DEAD_LETTER_RESOLVED", "VERIFICATION_RUNNING"],
  413: ["PAYLOAD_TOO_LARGE"],
  415: ["UNSUPPORTED_MEDIA_TYPE"],
  422: [],
  500: ["INTERNAL"],
  503: ["STORE_UNAVAILABLE", "AUTH_UNAVAILABLE", "NOT_READY"]
} as const

export type ErrorStatus = keyof typeof HTTP_ONLY_CODES

export type RefusalCodeAt<S> = { [K in RefusalCode]: (typeof REFUSALS)[K]["http"] extends S ? K : never }[RefusalCode]

/** The codes an error response with this status may carry. */
export type ErrorCodeAt<S extends ErrorStatus> = RefusalCodeAt<S> | (typeof HTTP_ONLY_CODES)[S][number]

export const errorCodesAt = <S extends ErrorStatus>(status: S): ReadonlyArray<ErrorCodeAt<S>> => [
  ...RefusalCode.literals.filter((code): code is RefusalCodeAt<S> => REFUSALS[code].http === status),
  ...HTTP_ONLY_CODES[status]
]
