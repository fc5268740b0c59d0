import { Schema } from "effect"

/**
 * Every way a command can be refused, as the UPPER_SNAKE code that clients see
 * (gRPC in-band `error`, HTTP `error`). A refusal never changes anything.
 */
export const RefusalCode = Schema.Literals([
  // input
  "INVALID_ACCOUNT_ID",
  "INVALID_TABLE_ID",
  "INVALID_HAND_ID",
  "INVALID_RESERVATION_ID",
  "INVALID_AMOUNT",
  "INVALID_SEAT_ID",
  "INVALID_WINNERS",
  "INVALID_REASON",
  "INVALID_TIMEOUT",
  "INVALID_ARGUMENT",
  "MISSING_IDEMPOTENCY_KEY",
  "INVALID_IDEMPOTENCY_KEY",
  // business
  "ACCOUNT_NOT_FOUND",
  "INSUFFICIENT_BALANCE",
  "INSUFFICIENT_STACK",
  "RESERVATION_NOT_FOUND",
  "RESERVATION_NOT_HELD",
  "RESERVATION_EXPIRED",
  "ALREADY_COMMITTED",
  "POT_NOT_FOUND",
  "POT_NOT_ACTIVE",
  "IDEMPOTENCY_KEY_REUSED",
  "AMOUNT_OVERFLOW"
])
export type RefusalCode = typeof RefusalCode.Type

/** A command the ledger refuses: nothing moved. `field` names the offending input for validation refusals. */
export class Refusal extends Schema.TaggedError<Refusal>()("Refusal", {
  code: RefusalCode,
  message: Schema.String,
  field: Schema.optional(Schema.String)
}) {}

export const refuse = (code: RefusalCode, message: string, field?: string): Refusal =>
  new Refusal(field === undefined ? { code, message } : { code, message, field })

export const isValidationCode = (code: RefusalCode): boolean =>
  code.startsWith("INVALID_") || code === "MISSING_IDEMPOTENCY_KEY"

export const isNotFoundCode = (code: RefusalCode): boolean =>
  code === "ACCOUNT_NOT_FOUND" || code === "RESERVATION_NOT_FOUND" || code === "POT_NOT_FOUND"
