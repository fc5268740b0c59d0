import { RefusalCode } from "../../domain/errors.ts"

/**
 * Every `error` code the HTTP API answers, by status: the domain's refusal
 * codes (each at the status below) and the codes only HTTP has (transport,
 * auth, routing). The error schemas, and so the OpenAPI document, enumerate
 * exactly these per status.
 */

/** The one table from refusal code to HTTP status; `satisfies` makes a new RefusalCode without a status a compile error. */
export const REFUSAL_STATUS = {
  INVALID_ACCOUNT_ID: 400,
  INVALID_TABLE_ID: 400,
  INVALID_HAND_ID: 400,
  INVALID_RESERVATION_ID: 400,
  INVALID_AMOUNT: 400,
  INVALID_SEAT_ID: 400,
  INVALID_WINNERS: 400,
  INVALID_REASON: 400,
  INVALID_TIMEOUT: 400,
  INVALID_ARGUMENT: 400,
  MISSING_IDEMPOTENCY_KEY: 400,
  INVALID_IDEMPOTENCY_KEY: 400,
  ACCOUNT_NOT_FOUND: 404,
  RESERVATION_NOT_FOUND: 404,
  POT_NOT_FOUND: 404,
  IDEMPOTENCY_KEY_REUSED: 409,
  INSUFFICIENT_BALANCE: 422,
  INSUFFICIENT_STACK: 422,
  RESERVATION_NOT_HELD: 422,
  RESERVATION_EXPIRED: 422,
  ALREADY_COMMITTED: 422,
  POT_NOT_ACTIVE: 422,
  AMOUNT_OVERFLOW: 422
} as const satisfies Readonly<Record<RefusalCode, 400 | 404 | 409 | 422>>

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

export type RefusalCodeAt<S> = { [K in RefusalCode]: (typeof REFUSAL_STATUS)[K] extends S ? K : never }[RefusalCode]

/** The codes an error response with this status may carry. */
export type ErrorCodeAt<S extends ErrorStatus> = RefusalCodeAt<S> | (typeof HTTP_ONLY_CODES)[S][number]

export const errorCodesAt = <S extends ErrorStatus>(status: S): ReadonlyArray<ErrorCodeAt<S>> => [
  ...RefusalCode.literals.filter((code): code is RefusalCodeAt<S> => REFUSAL_STATUS[code] === status),
  ...HTTP_ONLY_CODES[status]
]

/** Narrows a refusal code to the ones answered with `status`. */
export const isRefusalAt = <S extends (typeof REFUSAL_STATUS)[RefusalCode]>(code: RefusalCode, status: S): code is RefusalCodeAt<S> =>
  REFUSAL_STATUS[code] === status
