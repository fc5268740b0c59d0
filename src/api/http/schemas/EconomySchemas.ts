import { Schema, SchemaTransformation } from "effect"
import { TRANSFER_TYPES } from "../../../domain/transfer.ts"
import { ChipCount, IsoTimestamp } from "./CommonSchemas.ts"

const isoParam = (name: string, description: string) =>
  Schema.optionalKey(
    IsoTimestamp.check(Schema.makeFilter((s: string) => !Number.isNaN(Date.parse(s)) || `${name} must be an ISO 8601 timestamp`))
      .annotate({ description })
  )

const range = {
  from: isoParam("from", "Inclusive start (default: 24 hours before `to`)"),
  to: isoParam("to", "Exclusive end (default: now)")
}

/** A small page size: digits only, 1..100. */
const TopLimit = Schema.String.check(Schema.isPattern(/^[0-9]{1,3}$/, { message: "limit must be a whole number" }))
  .pipe(Schema.decodeTo(Schema.Number, SchemaTransformation.numberFromString))
  .check(
    Schema.isGreaterThanOrEqualTo(1, { message: "limit must be at least 1" }),
    Schema.isLessThanOrEqualTo(100, { message: "limit must be at most 100" })
  ).annotate({ description: "How many rows, 1..100 (default 10)" })

export const RangeQuery = range
export const SeriesQuery = {
  ...range,
  bucket: Schema.optionalKey(Schema.Literals(["hour", "day"]).annotate({ description: "UTC hours or days (default hour)" }))
}
export const TopQuery = { ...range, limit: Schema.optionalKey(TopLimit) }

export const CoverageView = Schema.Struct({
  source: Schema.Literals(["live-tail", "archive+live-tail"]).annotate({
    description: "live-tail: the ledger writes Redis still holds; archive+live-tail: the history store plus those"
  }),
  historyFrom: Schema.NullOr(IsoTimestamp).annotate({
    description: "null: nothing the range needs is missing; otherwise no write before this instant was seen"
  }),
  complete: Schema.Boolean.annotate({ description: "The figures cover the whole range" }),
  archivedThrough: Schema.NullOr(IsoTimestamp).annotate({
    description: "archive+live-tail: the time of the last transfer the archive holds; the writes through it were aggregated in PostgreSQL, later ones read from Redis. null: nothing archived yet, or live-tail"
  }),
  eventsScanned: Schema.Int.annotate({ description: "Writes read from Redis' stream (with the archive: those after its cursor)" })
}).annotate({ identifier: "EconomyCoverage" })

export const SupplyPointView = Schema.Struct({
  start: IsoTimestamp,
  end: IsoTimestamp,
  supply: ChipCount.annotate({ description: "At `end`: chips issued and not burned (minted - burned)" }),
  circulation: ChipCount.annotate({ description: "At `end`: chips in wallets, stacks and pots (minted - burned - raked)" }),
  minted: ChipCount,
  burned: ChipCount,
  raked: ChipCount,
  moved: ChipCount.annotate({ description: "Chips moved by every transfer in the bucket" }),
  transfers: Schema.Int,
  partial: Schema.Boolean.annotate({ description: "Part of the bucket lies before coverage.historyFrom" })
}).annotate({ identifier: "SupplyPoint" })

export const SupplySeriesView = Schema.Struct({
  from: IsoTimestamp,
  to: IsoTimestamp,
  bucket: Schema.Literals(["hour", "day"]),
  coverage: CoverageView,
  points: Schema.Array(SupplyPointView)
}).annotate({
  identifier: "SupplySeries",
  description: "Supply and circulation at the end of each bucket, and the flows inside it"
})

const TypeFlowView = Schema.Struct({ chips: ChipCount, transfers: Schema.Int })

export const FlowsView = Schema.Struct({
  from: IsoTimestamp,
  to: IsoTimestamp,
  coverage: CoverageView,
  minted: ChipCount,
  burned: ChipCount,
  raked: ChipCount,
  moved: ChipCount,
  transfers: Schema.Int,
  byType: Schema.Struct(Object.fromEntries(TRANSFER_TYPES.map((t) => [t, TypeFlowView])) as Record<(typeof TRANSFER_TYPES)[number], typeof TypeFlowView>)
}).annotate({
  identifier: "EconomyFlows",
  description: "Chips minted, burned, raked and moved by transfer type over the range"
})

export const RakeByTableView = Schema.Struct({
  from: IsoTimestamp,
  to: IsoTimestamp,
  coverage: CoverageView,
  total: ChipCount,
  tables: Schema.Array(Schema.Struct({
    tableId: Schema.String,
    raked: ChipCount,
    handsSettled: Schema.Int,
    potChips: ChipCount.annotate({ description: "Chips the settlements distributed (payouts + rake)" })
  }))
}).annotate({
  identifier: "RakeByTable",
  description: "Rake per table, most raked first"
})

export const ReservationOutcomesView = Schema.Struct({
  from: IsoTimestamp,
  to: IsoTimestamp,
  coverage: CoverageView,
  created: Schema.Int,
  committed: Schema.Int,
  released: Schema.Int,
  expired: Schema.Int,
  expiryRate: Schema.NullOr(Schema.Number).annotate({ description: "expired / (committed + released + expired); null when none closed" }),
  chipsHeld: ChipCount.annotate({ description: "Chips held by the reservations created in the range" }),
  chipsCommitted: ChipCount
}).annotate({
  identifier: "ReservationOutcomes"
})

export const BiggestMoversView = Schema.Struct({
  from: IsoTimestamp,
  to: IsoTimestamp,
  coverage: CoverageView,
  items: Schema.Array(Schema.Struct({
    accountId: Schema.String,
    net: ChipCount.annotate({ description: "Signed change of the wallet's balance over the range" }),
    credits: ChipCount,
    debits: ChipCount,
    entries: Schema.Int
  }))
}).annotate({
  identifier: "BiggestMovers",
  description: "Wallets whose balance changed most (largest |net| first)"
})
