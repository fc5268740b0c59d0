import { Schema } from "effect"
import { HttpApiSchema } from "effect/http-api"
import { AccountId, DepositSource, IdempotencyKey, Reason } from "../../../domain/ids.ts"
import {
  ChipCount,
  Cursor,
  IsoTimestamp,
  Limit,
  Metadata,
  NextCursor,
  ReservationStatusSchema,
  ReservationView,
  TransferTypeSchema
} from "./CommonSchemas.ts"
import { TRANSFER_TYPES } from "../../../domain/transfer.ts"

export const AccountParams = { accountId: AccountId }

/**
 * The domain's amount checks in an order that makes the first message the
 * precise one: isInt also refuses unsafe integers, so checked first it would
 * call 2^53 "not an integer" instead of "too large".
 */
const chipAmount = (minimum: 0 | 1) =>
  Schema.Number.check(
    Schema.isLessThanOrEqualTo(Number.MAX_SAFE_INTEGER, { message: "amount must be at most 9007199254740991" }),
    Schema.isInt({ message: "amount must be an integer" }),
    minimum === 1
      ? Schema.isGreaterThan(0, { message: "amount must be greater than 0" })
      : Schema.isGreaterThanOrEqualTo(0, { message: "amount must not be negative" })
  )
const Chips = chipAmount(1)
const ChipsOrZero = chipAmount(0)

export const EnsureAccountBody = Schema.Struct({
  initialBalance: Schema.optionalKey(ChipsOrZero.annotate({ description: "Chips minted into the new wallet (default 0)" }))
}).annotate({ identifier: "EnsureAccountBody" })

const ensureFields = { accountId: Schema.String, balance: ChipCount }
export const AccountCreated = Schema.Struct({ ...ensureFields, created: Schema.Literal(true) })
  .annotate({ identifier: "AccountCreated", httpApiStatus: 201 })
export const AccountExisted = Schema.Struct({ ...ensureFields, created: Schema.Literal(false) })
  .annotate({ identifier: "AccountExisted", description: "The account already existed; nothing changed" })

export const Balance = Schema.Struct({
  accountId: Schema.String,
  balance: ChipCount,
  availableBalance: ChipCount.annotate({ description: "balance - held: what can be spent now" }),
  held: ChipCount.annotate({ description: "Sum of the HELD buy-in reservations" }),
  currency: Schema.Literal("CHIPS"),
  version: Schema.Int,
  stale: Schema.Boolean.annotate({ description: "true when the store did not answer and this is the last state seen" })
}).annotate({ identifier: "Balance" })

export const IdempotencyHeaders = {
  "idempotency-key": IdempotencyKey.annotate({
    description: "Required. Same key + same request = the original response, nothing moves again"
  })
}


export const DepositBody = Schema.Struct({ amount: Chips, source: DepositSource })
  .annotate({ identifier: "DepositBody" })

export const WithdrawBody = Schema.Struct({ amount: Chips, reason: Schema.optionalKey(Reason) })
  .annotate({ identifier: "WithdrawBody" })

export const WalletMovement = Schema.Struct({
  transactionId: Schema.String,
  accountId: Schema.String,
  amount: ChipCount,
  balance: ChipCount,
  availableBalance: ChipCount
}).annotate({ identifier: "WalletMovement" })

export const WalletMovementResponse = HttpApiSchema.WithHeaders(WalletMovement, {
  "idempotent-replayed": Schema.optionalKey(Schema.Literal("true")).annotate({
    description: "Present when this is the stored answer of an earlier call with the same Idempotency-Key"
  })
})

/** 202: the store was down; the deposit is in the durable queue and is applied, with its key, when it returns. */
export const QueuedCredit = Schema.Struct({
  queued: Schema.Literal(true),
  queueId: Schema.String
}).annotate({ identifier: "QueuedCredit" }).pipe(HttpApiSchema.status(202))

const typeList = new RegExp(`^(${TRANSFER_TYPES.join("|")})(,(${TRANSFER_TYPES.join("|")}))*$`)

export const TransactionsQuery = {
  cursor: Schema.optionalKey(Cursor),
  limit: Schema.optionalKey(Limit),
  type: Schema.optionalKey(
    Schema.String.check(Schema.isPattern(typeList, { message: `type must be a comma-separated list of ${TRANSFER_TYPES.join(", ")}` }))
      .annotate({ description: "Only these transfer types (comma-separated)" })
  ),
  from: Schema.optionalKey(IsoTimestamp.check(Schema.makeFilter((s: string) => !Number.isNaN(Date.parse(s)) || "from must be an ISO 8601 timestamp")))
    .annotate({ description: "Inclusive lower bound" }),
  to: Schema.optionalKey(IsoTimestamp.check(Schema.makeFilter((s: string) => !Number.isNaN(Date.parse(s)) || "to must be an ISO 8601 timestamp")))
    .annotate({ description: "Exclusive upper bound" })
}

export const AccountTransaction = Schema.Struct({
  transactionId: Schema.String,
  type: TransferTypeSchema,
  direction: Schema.Literals(["CREDIT", "DEBIT"]),
  amount: ChipCount,
  from: Schema.String,
  to: Schema.String,
  metadata: Metadata,
  timestamp: IsoTimestamp
}).annotate({ identifier: "AccountTransaction" })

export const TransactionPage = Schema.Struct({
  accountId: Schema.String,
  items: Schema.Array(AccountTransaction),
  nextCursor: NextCursor
}).annotate({ identifier: "TransactionPage" })

export const LedgerQuery = {
  cursor: Schema.optionalKey(
    Schema.String.check(Schema.isPattern(/^\d{1,15}$/, { message: "cursor must be the seq of the last entry seen" }))
      .annotate({ description: "The seq of the last entry of the previous page (nextCursor)" })
  ),
  limit: Schema.optionalKey(Limit)
}

export const LedgerEntryView = Schema.Struct({
  seq: Schema.Int,
  entryId: Schema.String,
  transferId: Schema.String,
  type: Schema.String,
  amount: ChipCount,
  balanceBefore: ChipCount,
  balanceAfter: ChipCount,
  heldDelta: ChipCount,
  heldAfter: ChipCount,
  parent: Schema.String,
  metadata: Metadata,
  timestamp: IsoTimestamp,
  previousChecksum: Schema.String,
  checksum: Schema.String
}).annotate({ identifier: "LedgerEntry" })

export const LedgerPage = Schema.Struct({
  accountId: Schema.String,
  items: Schema.Array(LedgerEntryView),
  nextCursor: NextCursor
}).annotate({ identifier: "LedgerPage" })

export const ReservationsQuery = {
  status: Schema.optionalKey(ReservationStatusSchema),
  limit: Schema.optionalKey(Limit)
}

export const ReservationList = Schema.Struct({
  accountId: Schema.String,
  held: ChipCount.annotate({ description: "The wallet's held total" }),
  items: Schema.Array(ReservationView)
}).annotate({ identifier: "ReservationList" })
