import { Context, type Effect } from "effect"
import type { TransferType } from "../domain/transfer.ts"
import type { StoreUnavailable } from "../store/StoreErrors.ts"

/** A half-open time range [from, to), epoch ms. */
export interface TimeRange {
  readonly from: number
  readonly to: number
}

export type Bucket = "hour" | "day"

export const BUCKET_MS: Readonly<Record<Bucket, number>> = { hour: 3_600_000, day: 86_400_000 }

/**
 * What the figures were computed from, so that a chart never passes off a partial history as the
 * whole. `historyFrom` null: nothing the asked range needs is missing; otherwise no write before it
 * was seen (the live tail in Redis is capped, and once the archive of issue 14 trims it, older history
 * is only in PostgreSQL). `complete` says whether the asked range lies entirely inside what was seen.
 */
export interface Coverage {
  readonly source: "live-tail" | "archive+live-tail"
  readonly historyFrom: number | null
  readonly complete: boolean
  /**
   * With the archive: the time stamped on the last transfer it holds (in the order Redis applied
   * them): the writes through it were aggregated in PostgreSQL, later ones read from Redis' stream.
   * null: no transfer archived yet, or no archive (source "live-tail").
   */
  readonly archivedThrough: number | null
  /** Writes (ledger applies) read from Redis' stream to answer (with the archive: those after its cursor). */
  readonly eventsScanned: number
}

export interface SupplyPoint {
  /** The bucket's part of the range: [start, end). */
  readonly start: number
  readonly end: number
  /** At `end`: chips issued and not burned (minted - burned; the house's rake included). */
  readonly supply: number
  /** At `end`: chips in wallets, stacks and pots (minted - burned - raked). */
  readonly circulation: number
  /** Flows inside the bucket. */
  readonly minted: number
  readonly burned: number
  readonly raked: number
  /** Chips moved by every transfer in the bucket, whatever its type. */
  readonly moved: number
  readonly transfers: number
  /** Part of the bucket lies before `coverage.historyFrom`: its flows are a lower bound. */
  readonly partial: boolean
}

export interface SupplySeries {
  readonly range: TimeRange
  readonly bucket: Bucket
  readonly coverage: Coverage
  readonly points: ReadonlyArray<SupplyPoint>
}

export interface TypeFlow {
  readonly chips: number
  readonly transfers: number
}

export interface Flows {
  readonly range: TimeRange
  readonly coverage: Coverage
  readonly minted: number
  readonly burned: number
  readonly raked: number
  readonly moved: number
  readonly transfers: number
  readonly byType: Readonly<Record<TransferType, TypeFlow>>
}

export interface TableRake {
  readonly tableId: string
  readonly raked: number
  /** Hands settled at the table in the range (with or without rake). */
  readonly handsSettled: number
  /** Chips those settlements distributed (payouts + rake). */
  readonly potChips: number
}

export interface RakeByTable {
  readonly range: TimeRange
  readonly coverage: Coverage
  readonly total: number
  /** Most raked first. */
  readonly tables: ReadonlyArray<TableRake>
}

export interface ReservationOutcomes {
  readonly range: TimeRange
  readonly coverage: Coverage
  readonly created: number
  readonly committed: number
  readonly released: number
  readonly expired: number
  /** expired / (committed + released + expired) of the holds closed in the range; null when none closed. */
  readonly expiryRate: number | null
  readonly chipsHeld: number
  readonly chipsCommitted: number
}

export interface Mover {
  readonly accountId: string
  /** Signed change of the wallet's balance over the range. */
  readonly net: number
  readonly credits: number
  readonly debits: number
  readonly entries: number
}

export interface BiggestMovers {
  readonly range: TimeRange
  readonly coverage: Coverage
  /** Largest |net| first; ties by volume (credits + debits), then id. */
  readonly items: ReadonlyArray<Mover>
}

/**
 * The chip economy over time. The HTTP layer knows only this port: without the history tier it is
 * served from the writes Redis still holds (LiveTailEconomyHistory); with HISTORY_ARCHIVE=on from
 * the archive plus the live tail (ArchiveEconomyHistory: SQL aggregations over PostgreSQL's rows
 * through the archive's cursor, plus Redis' stream after it; `coverage.source` "archive+live-tail").
 * src/app/AdminServices.ts chooses.
 *
 * Every figure is a sum over transfers (minted: from = 'x:mint'; burned: to = 'x:burn'; raked:
 * to = 'x:rake'; rake per table: RAKE/PAYOUT transfers from 'p:<table>:…') or over wallet ledger
 * entries (reservations: HOLD/BUY_IN/RELEASE/EXPIRE with parent 'reservation:…'; movers: amount by
 * account); supply and circulation at a bucket's end are the supply now minus what came after.
 * Both implementations tally the writes into the shapes of economyAggregates.ts (the archive in
 * SQL, archiveEconomyQueries.ts) and leave the finish to it (its property test is the reference model).
 */
export class EconomyHistory extends Context.Service<EconomyHistory, {
  readonly supplySeries: (range: TimeRange, bucket: Bucket) => Effect.Effect<SupplySeries, StoreUnavailable>
  readonly flows: (range: TimeRange) => Effect.Effect<Flows, StoreUnavailable>
  readonly rakeByTable: (range: TimeRange, limit: number) => Effect.Effect<RakeByTable, StoreUnavailable>
  readonly reservationOutcomes: (range: TimeRange) => Effect.Effect<ReservationOutcomes, StoreUnavailable>
  readonly biggestMovers: (range: TimeRange, limit: number) => Effect.Effect<BiggestMovers, StoreUnavailable>
}>()("balance/EconomyHistory") {}
