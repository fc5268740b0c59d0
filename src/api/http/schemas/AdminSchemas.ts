import { Schema } from "effect"
import { POT_STATUSES } from "../../../domain/accounts.ts"
import { AccountId, HandId, ReservationId, TableId } from "../../../domain/ids.ts"
import { ChipCount, Cursor, IsoTimestamp, Limit, NextCursor, TransferView } from "./CommonSchemas.ts"

export const AccountsQuery = {
  prefix: Schema.optionalKey(
    Schema.String.check(Schema.isPattern(/^[A-Za-z0-9._@-]{0,128}$/, { message: "prefix may only contain letters, digits and . _ @ -" }))
      .annotate({ description: "Only account ids starting with this" })
  ),
  cursor: Schema.optionalKey(Cursor),
  limit: Schema.optionalKey(Limit)
}

export const AccountSummary = Schema.Struct({
  accountId: Schema.String,
  balance: ChipCount,
  held: ChipCount,
  availableBalance: ChipCount,
  version: Schema.Int,
  createdAt: IsoTimestamp
}).annotate({ identifier: "AccountSummary" })

export const AccountList = Schema.Struct({ items: Schema.Array(AccountSummary), nextCursor: NextCursor })
  .annotate({ identifier: "AccountList" })

export const ReservationParams = { reservationId: ReservationId }
export const TableParams = { tableId: TableId }
export const PotParams = { tableId: TableId, handId: HandId }

export const StackView = Schema.Struct({ accountId: Schema.String, balance: ChipCount, version: Schema.Int })
  .annotate({ identifier: "Stack" })

export const TableStacks = Schema.Struct({
  tableId: Schema.String,
  total: ChipCount.annotate({ description: "Chips on the table outside pots" }),
  items: Schema.Array(StackView)
}).annotate({ identifier: "TableStacks" })

export const PotQuery = {
  folded: Schema.optionalKey(
    Schema.String.check(
      Schema.isPattern(/^\d{1,4}(,\d{1,4})*$/, { message: "folded must be a comma-separated list of seat ids" }),
      // The same bound as SeatId on gRPC's folded_seats.
      Schema.makeFilter((s: string) => s.split(",").every((seat) => Number(seat) <= 1000) || "folded: seat id must be at most 1000")
    ).annotate({ description: "Seats that folded (the ledger does not know): they are not eligible for any pot" })
  )
}

export const PotView = Schema.Struct({
  tableId: Schema.String,
  handId: Schema.String,
  status: Schema.Literals(POT_STATUSES),
  balance: ChipCount,
  contributions: Schema.Array(Schema.Struct({ seatId: Schema.Int, accountId: Schema.String, amount: ChipCount })),
  pots: Schema.Array(Schema.Struct({ amount: ChipCount, eligibleSeats: Schema.Array(Schema.Int) })).annotate({
    description: "Main pot first, then side pots, from the contributions (calculatePots)"
  }),
  version: Schema.Int,
  createdAt: IsoTimestamp,
  closedAt: Schema.optionalKey(IsoTimestamp)
}).annotate({ identifier: "Pot" })

export const TransfersQuery = { cursor: Schema.optionalKey(Cursor), limit: Schema.optionalKey(Limit) }

export const TransferEvent = Schema.Struct({
  eventId: Schema.String,
  timestamp: IsoTimestamp,
  transfers: Schema.Array(TransferView)
}).annotate({ identifier: "TransferEvent", description: "The transfers one atomic ledger write made" })

export const TransferEventPage = Schema.Struct({ items: Schema.Array(TransferEvent), nextCursor: NextCursor })
  .annotate({ identifier: "TransferEventPage" })

export const VerifyBody = Schema.Struct({
  accountId: Schema.optionalKey(AccountId.annotate({ description: "Verify only this wallet's chain" })),
  mode: Schema.optionalKey(Schema.Literals(["full", "incremental"]).annotate({
    description: "Whole ledger: every chain from the start (default) or only entries added since the last clean pass"
  }))
}).annotate({ identifier: "VerifyBody" })

export const VerificationReportView = Schema.Struct({
  mode: Schema.Literals(["full", "incremental", "account"]),
  startedAt: IsoTimestamp,
  finishedAt: IsoTimestamp,
  accountsChecked: Schema.Int,
  entriesChecked: Schema.Int,
  totalBalance: Schema.NullOr(ChipCount).annotate({ description: "Σ of every balance, system accounts included; must be 0" }),
  ok: Schema.Boolean,
  findings: Schema.Array(Schema.Struct({
    account: Schema.String,
    seq: Schema.NullOr(Schema.Int),
    kind: Schema.String,
    detail: Schema.String
  }))
}).annotate({ identifier: "VerificationReport" })

export const SupplyReport = Schema.Struct({
  minted: ChipCount.annotate({ description: "Chips ever issued (deposits, grants): -balance(mint)" }),
  burned: ChipCount.annotate({ description: "Chips ever removed (withdrawals): balance(burn)" }),
  raked: ChipCount.annotate({ description: "House commission: balance(rake)" }),
  circulation: ChipCount.annotate({ description: "minted - burned - raked: chips in wallets, stacks and pots" }),
  held: ChipCount.annotate({ description: "Chips held by open buy-in reservations (part of circulation)" }),
  byType: Schema.Record(Schema.String, ChipCount).annotate({ description: "Chips moved per transfer type, all time" }),
  system: Schema.Struct({ mint: ChipCount, burn: ChipCount, rake: ChipCount }),
  zeroSum: Schema.Boolean.annotate({
    description: "The supply adds up: the minted/burned/raked counters kept with every write agree with the system balances, and the last whole-ledger verification (if any) found Σ of all balances = 0"
  }),
  lastVerification: Schema.NullOr(Schema.Struct({
    finishedAt: IsoTimestamp,
    ok: Schema.Boolean,
    totalBalance: Schema.NullOr(ChipCount)
  })).annotate({ description: "The last whole-ledger check (Σ of every stored balance), if one ran in this process" })
}).annotate({ identifier: "SupplyReport" })
