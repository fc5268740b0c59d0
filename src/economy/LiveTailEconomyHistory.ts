import { Cache, Effect, Layer } from "effect"
import type { HistoryUnavailable } from "../history/HistoryStore.ts"
import { type Page, Store, type StoreEvent } from "../store/Store.ts"
import { StoreUnavailable } from "../store/StoreErrors.ts"
import * as Aggregates from "./economyAggregates.ts"
import { type Coverage, EconomyHistory, type TimeRange } from "./EconomyHistory.ts"

const PAGE = 1_000

/** Writes one request may read; past it the answer says how far back it saw (coverage.historyFrom). */
export const EVENT_SCAN_BUDGET = 200_000

/**
 * Instances stamp writes with their own clocks and Redis orders them by its own: reading goes on
 * this far past the start of the range so that a write stamped a little out of order is not missed.
 */
export const CLOCK_MARGIN_MS = 60_000

/**
 * How long one read of the tail answers every report over the same range: the console asks for
 * five reports of one range at once, and each would otherwise walk the same writes.
 */
const TAIL_REUSE = "1 second"

/** Attempts at reading the supply and the newest write with no chip moving in between. */
const SNAPSHOT_ATTEMPTS = 20

export interface Tail {
  readonly now: Aggregates.SupplyNow
  /** Every write from a little before `range.from` up to the instant `now` was read, newest first. */
  readonly events: ReadonlyArray<StoreEvent>
  readonly coverage: Coverage
}

/**
 * The supply and the newest write read with no chip moving in between (the `transfers` counter is
 * bumped by every chip-moving apply, atomically with the balances): the newest write then is the
 * last one the supply figures include, and the walk back from it sees exactly what they add up.
 * `transfersEver` counts every transfer those figures include.
 */
export const readConsistentStart = (store: Store["Service"]) => {
  const supplyNow = Effect.map(
    Effect.all([store.systemBalances(), store.stats()]),
    ([system, stats]) => ({
      now: { supply: -system.mint - system.burn, circulation: -(system.mint + system.burn + system.rake) },
      transfersEver: stats.transfers ?? 0
    })
  )
  return Effect.gen(function*() {
    for (let attempt = 0; attempt < SNAPSHOT_ATTEMPTS; attempt++) {
      const before = yield* supplyNow
      const newest = yield* store.events(null, 1)
      const after = yield* supplyNow
      if (before.transfersEver === after.transfersEver && before.now.supply === after.now.supply &&
        before.now.circulation === after.now.circulation) return { ...after, newest }
    }
    return yield* new StoreUnavailable({
      operation: "economy.snapshot",
      reason: "chips kept moving during every attempt to read a consistent starting point; try again"
    })
  })
}

/** Reports asked at once over one range share one read of the history for this long. */
export const cachedPerRange = <A, E>(read: (range: TimeRange) => Effect.Effect<A, E>) =>
  Effect.map(
    Cache.make({
      lookup: (key: string) => {
        const [from, to] = key.split(":").map(Number)
        return read({ from: from!, to: to! })
      },
      capacity: 16,
      timeToLive: TAIL_REUSE
    }),
    (cache) => (range: TimeRange) => Cache.get(cache, `${range.from}:${range.to}`)
  )

/**
 * The economy over time from what the store still holds: the stream of ledger writes (capped by
 * REDIS_EVENTS_MAXLEN in Redis; all of them in memory) and the supply counters that every apply
 * updates atomically. Each report reads the writes from now back to the start of its range.
 * Exact while the range lies inside the stream; `coverage` says when it does not.
 */
export const LiveTailEconomyHistory = Layer.effect(EconomyHistory, Effect.gen(function*() {
  const store = yield* Store

  const consistentStart = readConsistentStart(store)

  const readTail = Effect.fn("EconomyHistory.readTail")(function*(range: TimeRange) {
    const start = yield* consistentStart
    const events: Array<StoreEvent> = [...start.newest.items]
    let cursor = start.newest.nextCursor
    let reachedBefore = events.some((e) => (Aggregates.eventTime(e) ?? Infinity) < range.from - CLOCK_MARGIN_MS)
    while (cursor !== null && !reachedBefore && events.length < EVENT_SCAN_BUDGET) {
      const page: Page<StoreEvent> = yield* store.events(cursor, PAGE)
      for (const e of page.items) {
        events.push(e)
        if ((Aggregates.eventTime(e) ?? Infinity) < range.from - CLOCK_MARGIN_MS) reachedBefore = true
      }
      cursor = page.nextCursor
    }
    // Read to the oldest write kept: it is the whole history if it holds every transfer ever made.
    const transfersSeen = events.reduce((n, e) => n + e.transfers.length, 0)
    const everything = cursor === null && transfersSeen === start.transfersEver
    const oldest = events.reduce((min, e) => Math.min(min, Aggregates.eventTime(e) ?? min), Infinity)
    // Read back past the range's start, or the stream holds everything: nothing the range needs is missing.
    const historyFrom = reachedBefore || everything ? null : Number.isFinite(oldest) ? oldest : range.to
    const coverage: Coverage = {
      source: "live-tail",
      historyFrom,
      complete: historyFrom === null || historyFrom <= range.from,
      archivedThrough: null,
      eventsScanned: events.length
    }
    const tail: Tail = { now: start.now, events, coverage }
    return tail
  })

  const tailOf = yield* cachedPerRange(readTail)

  return reportsFrom(tailOf)
}))

/** The port speaks of one kind of outage: PostgreSQL not answering is reported as such, by name. */
const asStoreUnavailable = (e: StoreUnavailable | HistoryUnavailable): StoreUnavailable =>
  e._tag === "StoreUnavailable" ? e : new StoreUnavailable({ operation: `history.${e.operation}`, reason: e.reason })

/** The five reports from one read of the writes a range needs (any source: the arithmetic is economyAggregates'). */
export const reportsFrom = (read: (range: TimeRange) => Effect.Effect<Tail, StoreUnavailable | HistoryUnavailable>) =>
  EconomyHistory.of({
    supplySeries: Effect.fn("EconomyHistory.supplySeries")(function*(range, bucket) {
      const tail = yield* read(range)
      return Aggregates.supplySeries(tail.events, tail.now, range, bucket, tail.coverage)
    }, Effect.mapError(asStoreUnavailable)),
    flows: Effect.fn("EconomyHistory.flows")(function*(range) {
      const tail = yield* read(range)
      return Aggregates.flows(tail.events, range, tail.coverage)
    }, Effect.mapError(asStoreUnavailable)),
    rakeByTable: Effect.fn("EconomyHistory.rakeByTable")(function*(range, limit) {
      const tail = yield* read(range)
      return Aggregates.rakeByTable(tail.events, range, limit, tail.coverage)
    }, Effect.mapError(asStoreUnavailable)),
    reservationOutcomes: Effect.fn("EconomyHistory.reservationOutcomes")(function*(range) {
      const tail = yield* read(range)
      return Aggregates.reservationOutcomes(tail.events, range, tail.coverage)
    }, Effect.mapError(asStoreUnavailable)),
    biggestMovers: Effect.fn("EconomyHistory.biggestMovers")(function*(range, limit) {
      const tail = yield* read(range)
      return Aggregates.biggestMovers(tail.events, range, limit, tail.coverage)
    }, Effect.mapError(asStoreUnavailable))
  })
