import { Effect, Layer } from "effect"
import { HistoryStore, parseEventId } from "../history/HistoryStore.ts"
import { Store, type StoreEvent } from "../store/Store.ts"
import { StoreUnavailable } from "../store/StoreErrors.ts"
import * as Aggregates from "./economyAggregates.ts"
import { type Coverage, EconomyHistory, type TimeRange } from "./EconomyHistory.ts"
import { cachedPerRange, CLOCK_MARGIN_MS, readConsistentStart, reportsFrom, type Tail } from "./LiveTailEconomyHistory.ts"

const PAGE = 1_000

/** Attempts at reading the tail with no trim past the archive's cursor in between. */
const TRIM_ATTEMPTS = 5

const afterId = (a: string, b: string) => {
  const x = parseEventId(a), y = parseEventId(b)
  return x.ms > y.ms || (x.ms === y.ms && x.seq > y.seq)
}

/**
 * The economy over time with the history store on (HISTORY_ARCHIVE=on): the writes PostgreSQL
 * archived (through its cursor) plus those still only in Redis' stream (after it), so that the
 * figures stay whole after the archiver trims Redis. The arithmetic is economyAggregates', as for
 * the live tail; PostgreSQL selects the rows stamped from a little before the range's start.
 *
 * One consistent cut: the archive's cursor C is read first, then the supply with the newest write N
 * (readConsistentStart), then the stream's events in (C, N]; if a trim passed C meanwhile (the
 * archiver moved on and removed what it had just committed), the cut is read again. Archived
 * transfers are taken through C only, archived wallet entries deduplicated against the tail's.
 * `coverage.historyFrom` stays null when the archive and the tail hold every transfer the supply
 * counters include (the archive may miss writes Redis dropped, REDIS_EVENTS_MAXLEN, before it was on).
 */
export const ArchiveEconomyHistory = Layer.effect(EconomyHistory, Effect.gen(function*() {
  const store = yield* Store
  const history = yield* HistoryStore
  const consistentStart = readConsistentStart(store)

  const readCut = Effect.gen(function*() {
    for (let attempt = 0; attempt < TRIM_ATTEMPTS; attempt++) {
      const { cursor } = yield* history.state()
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
      if (trimmed === "0" || !afterId(trimmed, cursor)) return { cursor, start, tail }
    }
    return yield* new StoreUnavailable({
      operation: "economy.snapshot",
      reason: "the archiver trimmed Redis during every attempt to read the archive and the live tail together; try again"
    })
  })

  const read = Effect.fn("EconomyHistory.readArchive")(function*(range: TimeRange) {
    const { cursor, start, tail } = yield* readCut
    const archived = yield* history.economyEvents(range.from - CLOCK_MARGIN_MS, cursor)
    const tailEntries = new Set(tail.flatMap((e) => e.entries.map((x) => `${x.accountId}#${x.seq}`)))
    const archivedEvents = archived.events.flatMap((e): Array<StoreEvent> => {
      if (e.transfers.length > 0) return [e]
      const entries = e.entries.filter((x) => !tailEntries.has(`${x.accountId}#${x.seq}`))
      return entries.length === 0 ? [] : [{ ...e, entries }]
    })
    const events = [...tail].reverse().concat(archivedEvents.reverse())
    const tailTransfers = tail.reduce((n, e) => n + e.transfers.length, 0)
    const everything = archived.transfersThroughCursor + tailTransfers === start.transfersEver
    // Writes are missing (dropped from Redis before the archive held them): history is whole from
    // the first archived transfer on, or the oldest write of the tail when the archive holds none.
    const tailOldest = tail.reduce((min, e) => Math.min(min, Aggregates.eventTime(e) ?? min), Infinity)
    const seenFrom = archived.firstTransferAt ?? (Number.isFinite(tailOldest) ? tailOldest : range.to)
    const historyFrom = everything ? null : seenFrom
    const coverage: Coverage = {
      source: "archive+live-tail",
      historyFrom,
      complete: historyFrom === null || historyFrom <= range.from,
      eventsScanned: events.length
    }
    return { now: start.now, events, coverage } satisfies Tail
  })

  return reportsFrom(yield* cachedPerRange(read))
}))
