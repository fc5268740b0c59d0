import { Effect, Layer } from "effect"
import type { SqlClient, SqlError } from "effect/sql"
import { HistoryStore, type HistoryUnavailable, parseEventId } from "../history/HistoryStore.ts"
import { Store, type StoreEvent } from "../store/Store.ts"
import { StoreUnavailable } from "../store/StoreErrors.ts"
import * as Queries from "./archiveEconomyQueries.ts"
import * as Aggregates from "./economyAggregates.ts"
import { type Coverage, EconomyHistory, type TimeRange } from "./EconomyHistory.ts"
import { readConsistentStart } from "./LiveTailEconomyHistory.ts"

const PAGE = 1_000

/** Attempts at reading the tail with no trim past the archive's cursor in between. */
const TRIM_ATTEMPTS = 5

const afterId = (a: string, b: string) => {
  const x = parseEventId(a), y = parseEventId(b)
  return x.ms > y.ms || (x.ms === y.ms && x.seq > y.seq)
}

/** One consistent cut of the history: the archive through its cursor, the live tail after it, the supply now. */
interface Cut {
  readonly cursor: Queries.ArchiveCut
  readonly now: Aggregates.SupplyNow
  /** Redis' stream after the archive's cursor through the newest write the supply now includes. */
  readonly tail: ReadonlyArray<StoreEvent>
  readonly coverage: Coverage
}

/** The port speaks of one kind of outage: PostgreSQL not answering is reported as such, by name. */
const asStoreUnavailable = (e: StoreUnavailable | HistoryUnavailable): StoreUnavailable =>
  e._tag === "StoreUnavailable" ? e : new StoreUnavailable({ operation: `history.${e.operation}`, reason: e.reason })

/**
 * The economy over time with the history store on (HISTORY_ARCHIVE=on): each report one SQL
 * aggregation over the archive (archiveEconomyQueries.ts: GROUP BY bucket, type, table, wallet)
 * plus the same tally of the writes still only in Redis' stream, added in TypeScript and finished
 * by economyAggregates (the live tail's arithmetic), so that the figures stay whole after the
 * archiver trims Redis.
 *
 * One consistent cut per report, inside one read-only snapshot of the archive
 * (HistoryStore.snapshot): the archive's cursor C, then the supply with the newest write N
 * (readConsistentStart), then the stream's events in (C, N]; if a trim passed C meanwhile (the
 * archiver moved on and removed what it had just committed), the cut is read again in a new
 * snapshot. The aggregations then run in the same snapshot, so they see exactly the rows through C.
 * `coverage.historyFrom` stays null when the archive and the tail hold every transfer the supply
 * counters include (the archive may miss writes Redis dropped, REDIS_EVENTS_MAXLEN, before it was on).
 */
export const ArchiveEconomyHistory = Layer.effect(EconomyHistory, Effect.gen(function*() {
  const store = yield* Store
  const history = yield* HistoryStore
  const consistentStart = readConsistentStart(store)

  const readCut = Effect.fn("EconomyHistory.readCut")(function*(sql: SqlClient.SqlClient, range: TimeRange) {
    const cursor = yield* Queries.archiveCursor(sql)
    const start = yield* consistentStart
    const newest = start.newest.items[0]?.id
    const tail: Array<StoreEvent> = []
    let after = cursor
    while (newest !== undefined && afterId(newest, after)) {
      const page = yield* store.eventsAfter(after, PAGE)
      if (page.length === 0) break
      for (const e of page) if (!afterId(e.id, newest)) tail.push(e)
      after = page[page.length - 1]!.id
    }
    // The trim cursor only moves forward: at or below C now, it was so during the read above.
    const trimmed = (yield* store.trimState([])).cursor
    if (trimmed !== "0" && afterId(trimmed, cursor)) return null
    const cut = parseEventId(cursor)
    const archived = yield* Queries.archiveExtent(sql, cut)
    const tailTransfers = tail.reduce((n, e) => n + e.transfers.length, 0)
    const everything = archived.transfers + tailTransfers === start.transfersEver
    // Writes are missing (dropped from Redis before the archive held them): history is whole from
    // the first archived transfer on, or the oldest write of the tail when the archive holds none.
    const tailOldest = tail.reduce((min, e) => Math.min(min, Aggregates.eventTime(e) ?? min), Infinity)
    const seenFrom = archived.firstTransferAt ?? (Number.isFinite(tailOldest) ? tailOldest : range.to)
    const historyFrom = everything ? null : seenFrom
    const coverage: Coverage = {
      source: "archive+live-tail",
      historyFrom,
      complete: historyFrom === null || historyFrom <= range.from,
      archivedThrough: archived.lastTransferAt,
      eventsScanned: tail.length
    }
    return { cursor: cut, now: start.now, tail, coverage } satisfies Cut
  })

  /** The cut and the report's aggregation over the archive, in one snapshot. */
  const report = Effect.fn("EconomyHistory.report")(function*<A>(
    range: TimeRange,
    aggregate: (sql: SqlClient.SqlClient, cut: Cut) => Effect.Effect<A, SqlError.SqlError | StoreUnavailable>
  ) {
    for (let attempt = 0; attempt < TRIM_ATTEMPTS; attempt++) {
      const result = yield* history.snapshot((sql) =>
        Effect.flatMap(readCut(sql, range), (cut) =>
          cut === null ? Effect.succeed(null) : Effect.map(aggregate(sql, cut), (archived) => ({ cut, archived })))
      )
      if (result !== null) return result
    }
    return yield* new StoreUnavailable({
      operation: "economy.snapshot",
      reason: "the archiver trimmed Redis during every attempt to read the archive and the live tail together; try again"
    })
  }, Effect.mapError(asStoreUnavailable))

  return EconomyHistory.of({
    supplySeries: Effect.fn("EconomyHistory.supplySeries")(function*(range, bucket) {
      const { cut, archived } = yield* report(range, (sql, cut) => Queries.supplyTallyOf(sql, cut.cursor, range, bucket))
      const tally = Aggregates.addSupply(archived, Aggregates.supplyTally(cut.tail, range, bucket))
      return Aggregates.supplySeriesOf(tally, cut.now, range, bucket, cut.coverage)
    }),
    flows: Effect.fn("EconomyHistory.flows")(function*(range) {
      const { cut, archived } = yield* report(range, (sql, cut) => Queries.typeTallyOf(sql, cut.cursor, range))
      return Aggregates.flowsOf(Aggregates.addTypes(archived, Aggregates.typeTally(cut.tail, range)), range, cut.coverage)
    }),
    rakeByTable: Effect.fn("EconomyHistory.rakeByTable")(function*(range, limit) {
      const { cut, archived } = yield* report(range, (sql, cut) =>
        Queries.tableTallyOf(sql, cut.cursor, range, limit, [...Aggregates.tableTally(cut.tail, range).tables.keys()]))
      const tally = Aggregates.addTables(archived, Aggregates.tableTally(cut.tail, range))
      return Aggregates.rakeByTableOf(tally, range, limit, cut.coverage)
    }),
    reservationOutcomes: Effect.fn("EconomyHistory.reservationOutcomes")(function*(range) {
      const { cut, archived } = yield* report(range, (sql) => Queries.reservationTallyOf(sql, range))
      const tally = Aggregates.addReservations(archived, Aggregates.reservationTally(cut.tail, range))
      return Aggregates.reservationOutcomesOf(tally, range, cut.coverage)
    }),
    biggestMovers: Effect.fn("EconomyHistory.biggestMovers")(function*(range, limit) {
      const { cut, archived } = yield* report(range, (sql, cut) =>
        Queries.moverTallyOf(sql, range, limit, [...Aggregates.moverTally(cut.tail, range).keys()]))
      const tally = Aggregates.addMovers(archived, Aggregates.moverTally(cut.tail, range))
      return Aggregates.biggestMoversOf(tally, range, limit, cut.coverage)
    })
  })
}))
