import { Schema } from "effect"

/**
 * Ids become parts of Redis keys, so they are checked before any key is built:
 * 1..128 characters from a charset without the key separator ':' or whitespace.
 */
export const ID_PATTERN = /^[A-Za-z0-9._@-]{1,128}$/

const idSchema = (what: string) =>
  Schema.String.check(
    Schema.isMinLength(1, { message: `${what} must not be empty` }),
    Schema.isMaxLength(128, { message: `${what} must be at most 128 characters` }),
    Schema.isPattern(ID_PATTERN, { message: `${what} may only contain letters, digits and . _ @ -` })
  )

export const AccountId = idSchema("account id")
export type AccountId = typeof AccountId.Type
export const TableId = idSchema("table id")
export type TableId = typeof TableId.Type
export const HandId = idSchema("hand id")
export type HandId = typeof HandId.Type
export const ReservationId = idSchema("reservation id")
export type ReservationId = typeof ReservationId.Type

/** Client-chosen idempotency keys: a wider charset (UUIDs, "hand-12:seat-3"), still bounded. */
export const IdempotencyKey = Schema.String.check(
  Schema.isMinLength(1, { message: "idempotency key must not be empty" }),
  Schema.isMaxLength(200, { message: "idempotency key must be at most 200 characters" }),
  Schema.isPattern(/^[\x21-\x7e]+$/, { message: "idempotency key must be printable ASCII without spaces" })
)
export type IdempotencyKey = typeof IdempotencyKey.Type

/** Free text carried into metadata (reasons, sources): bounded so nobody stores a novel in the ledger. */
export const Reason = Schema.String.check(
  Schema.isMaxLength(256, { message: "reason must be at most 256 characters" })
)

/** Where deposited chips come from, as a code reports can group by (both APIs). */
export const DepositSource = Schema.String.check(
  Schema.isPattern(/^[A-Z][A-Z0-9_]{0,31}$/, {
    message: "source must be an upper-case code such as FREEROLL, PURCHASE, ADMIN or BONUS"
  })
).annotate({ examples: ["FREEROLL", "PURCHASE", "ADMIN", "BONUS"] })

export const SeatId = Schema.Number.check(
  Schema.isInt({ message: "seat id must be an integer" }),
  Schema.isGreaterThanOrEqualTo(0, { message: "seat id must not be negative" }),
  Schema.isLessThanOrEqualTo(1000, { message: "seat id must be at most 1000" })
)
export type SeatId = typeof SeatId.Type
