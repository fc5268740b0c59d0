import { Schema, SchemaTransformation } from "effect"
import { RESERVATION_STATUSES } from "../../../domain/accounts.ts"
import { TRANSFER_TYPES } from "../../../domain/transfer.ts"

export const TransferTypeSchema = Schema.Literals(TRANSFER_TYPES)

/** A count of chips in a response: always a safe integer (may be negative for signed deltas). */
export const ChipCount = Schema.Int

export const IsoTimestamp = Schema.String.annotate({ format: "date-time", description: "ISO 8601, UTC" })

export const iso = (ms: number) => new Date(ms).toISOString()

/** Digits only: `Number()` alone would also take "1e1", " 5" or "0x10". */
const WholeNumberString = Schema.String.check(
  Schema.isPattern(/^[0-9]{1,16}$/, { message: "limit must be a whole number of digits" })
).annotate({ expected: "a whole number" })

export const Limit = WholeNumberString.pipe(Schema.decodeTo(Schema.Number, SchemaTransformation.numberFromString)).check(
  Schema.isInt({ message: "limit must be an integer" }),
  Schema.isGreaterThanOrEqualTo(1, { message: "limit must be at least 1" }),
  Schema.isLessThanOrEqualTo(200, { message: "limit must be at most 200" })
).annotate({ description: "Page size, 1..200 (default 50)" })

export const DEFAULT_LIMIT = 50

export const Cursor = Schema.String.check(
  Schema.isMaxLength(1024, { message: "cursor is too long" }),
  Schema.isPattern(/^[A-Za-z0-9_-]+$/, { message: "cursor must be a value returned as nextCursor" })
).annotate({ description: "Opaque: pass back the nextCursor of the previous page" })

export const NextCursor = Schema.NullOr(Schema.String).annotate({ description: "null when there is nothing more" })

export const Metadata = Schema.Record(Schema.String, Schema.String)

/** One chip movement between two accounts (account refs: `w:<id>` wallet, `s:<table>:<id>` stack, `p:<table>:<hand>` pot, `x:mint|burn|rake`). */
export const TransferView = Schema.Struct({
  transactionId: Schema.String,
  type: TransferTypeSchema,
  from: Schema.String,
  to: Schema.String,
  amount: ChipCount,
  parent: Schema.String,
  metadata: Metadata,
  timestamp: IsoTimestamp
}).annotate({ identifier: "Transfer" })
export type TransferView = typeof TransferView.Type

export const ReservationStatusSchema = Schema.Literals(RESERVATION_STATUSES)

export const ReservationView = Schema.Struct({
  reservationId: Schema.String,
  accountId: Schema.String,
  tableId: Schema.String,
  amount: ChipCount,
  status: ReservationStatusSchema,
  createdAt: IsoTimestamp,
  expiresAt: IsoTimestamp,
  closedAt: Schema.optionalKey(IsoTimestamp),
  closeReason: Schema.optionalKey(Schema.String),
  transactionId: Schema.optionalKey(Schema.String).annotate({ description: "The buy-in transfer, once committed" })
}).annotate({ identifier: "Reservation" })
export type ReservationView = typeof ReservationView.Type
