import { Effect } from "effect"
import { parseEventId } from "../history/HistoryStore.ts"
import type { Store } from "../store/Store.ts"

const PAGE = 1_000

export interface ArchiveLag {
  /** Ledger entries in the stream after the archive's cursor (at most what `scanEvents` events hold). */
  readonly entries: number
  /** Age of the oldest stream event after the cursor, in seconds; 0 when there is none. */
  readonly seconds: number
  /** More events wait than were scanned: `entries` is a lower bound. */
  readonly truncated: boolean
}

/**
 * How far the archive is behind Redis, read from the stream after the archive's cursor: the
 * archiver's lag gauge (balance_archive_lag_seconds) and the archive's status page both measure
 * it here, so they never disagree. `scanEvents` 1 measures only the time lag.
 */
export const archiveLag = Effect.fnUntraced(function*(store: Store["Service"], cursor: string, now: number, scanEvents: number) {
  let entries = 0
  let oldestMs: number | null = null
  let after = cursor
  let scanned = 0
  let truncated = false
  while (scanned < scanEvents) {
    const page = yield* store.eventOutlinesAfter(after, Math.min(PAGE, scanEvents - scanned))
    if (page.length === 0) break
    oldestMs ??= parseEventId(page[0]!.id).ms
    for (const event of page) entries += event.entries.length
    scanned += page.length
    after = page[page.length - 1]!.id
    if (scanned >= scanEvents) truncated = (yield* store.eventOutlinesAfter(after, 1)).length > 0
  }
  return {
    entries,
    seconds: oldestMs === null ? 0 : Math.max(0, now - oldestMs) / 1000,
    truncated
  } satisfies ArchiveLag
})
