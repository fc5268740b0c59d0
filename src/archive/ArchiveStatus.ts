import { Clock, Context, Effect, Layer } from "effect"
import { archiveLag } from "./archiveLag.ts"
import { Store } from "../store/Store.ts"
import type { StoreUnavailable } from "../store/StoreErrors.ts"
import { HistoryStore, type HistoryUnavailable } from "../history/HistoryStore.ts"

/** The history store is running: how far behind Redis it is and whether it has stopped anywhere. */
export interface ArchiveRunning {
  readonly state: "ACTIVE" | "LAGGING" | "STOPPED"
  readonly database: "embedded" | "external"
  /** Ledger entries written to Redis and not yet committed to the archive (a lower bound past LAG_SCAN_EVENTS events). */
  readonly lagEntries: number
  /** Age of the oldest entry not yet archived (0 when none). */
  readonly lagSeconds: number
  readonly archivedEntries: number
  readonly archivedTransfers: number
  /** When the last batch committed (whichever instance archived it); null before the first. */
  readonly lastBatchAt: number | null
  /** The instance holding the archiver lease (its owner id and fencing token); null when none does. */
  readonly leader: { readonly owner: string; readonly fencingToken: number } | null
  /** Accounts whose rows did not continue the archived chain: nothing of theirs is trimmed until resolved. */
  readonly continuityStops: ReadonlyArray<{ readonly account: string; readonly detail: string }>
  readonly message: string
}

/** No history store in this build or configuration: the whole ledger lives in Redis. */
export interface ArchiveNotConfigured {
  readonly state: "NOT_CONFIGURED"
  readonly message: string
}

export type ArchiveStatusReport = ArchiveRunning | ArchiveNotConfigured

/** Stream events read to count the entry lag; beyond, `lagEntries` is a lower bound (and the message says so). */
export const LAG_SCAN_EVENTS = 10_000

export interface ArchiveStatusOptions {
  readonly database: "embedded" | "external"
  /**
   * A time lag above this is LAGGING: longer than a standby needs to take over a lost lease
   * (ARCHIVE_LEASE_MS) plus a couple of archiver intervals.
   */
  readonly laggingAfterMs: number
}

/** The figures read, turned into a state and a sentence for the operator. */
export const classifyArchive = (
  figures: Omit<ArchiveRunning, "state" | "message" | "database">,
  options: ArchiveStatusOptions,
  lagTruncated: boolean
): ArchiveRunning => {
  const lag = `${lagTruncated ? "at least " : ""}${figures.lagEntries} entries, ${figures.lagSeconds.toFixed(1)} s behind Redis`
  const base = { ...figures, database: options.database }
  if (figures.continuityStops.length > 0) {
    return {
      ...base,
      state: "STOPPED",
      message: `the archiver stopped for ${figures.continuityStops.length} account(s) whose Redis chain does not continue the archived one: nothing of theirs is archived or trimmed until an operator resolves archive_stops; ${lag}`
    }
  }
  if (figures.lagSeconds * 1000 > options.laggingAfterMs) {
    return {
      ...base,
      state: "LAGGING",
      message: `${lag}${figures.leader === null ? "; no instance holds the archiver lease" : ""}`
    }
  }
  return { ...base, state: "ACTIVE", message: `archiving: ${lag}` }
}

/**
 * The archive's health for the admin console and CLI. `none` answers NOT_CONFIGURED (no history
 * store), saying so in plain words rather than showing zeros that would read as "no lag"; `layer`
 * reads the history store (rows, last batch, stops), the stream after its cursor (lag, measured as
 * the archiver's lag gauge is) and the lease in Redis (leader).
 */
export class ArchiveStatus extends Context.Service<ArchiveStatus, {
  readonly status: () => Effect.Effect<ArchiveStatusReport, StoreUnavailable | HistoryUnavailable>
}>()("balance/ArchiveStatus") {
  static readonly layer = (options: ArchiveStatusOptions) =>
    Layer.effect(ArchiveStatus, Effect.gen(function*() {
      const store = yield* Store
      const history = yield* HistoryStore
      const status = Effect.fn("ArchiveStatus.status")(function*() {
        const summary = yield* history.summary()
        const lag = yield* archiveLag(store, summary.cursor, yield* Clock.currentTimeMillis, LAG_SCAN_EVENTS)
        const lease = yield* store.archiverLease()
        return classifyArchive({
          lagEntries: lag.entries,
          lagSeconds: lag.seconds,
          archivedEntries: summary.archivedEntries,
          archivedTransfers: summary.archivedTransfers,
          lastBatchAt: summary.lastBatchAt,
          leader: lease === null ? null : { owner: lease.owner, fencingToken: lease.token },
          continuityStops: summary.stops.map((s) => ({ account: s.account, detail: `seq ${s.seq}: ${s.reason}` }))
        }, options, lag.truncated)
      })
      return ArchiveStatus.of({ status })
    }))

  static readonly none = Layer.succeed(ArchiveStatus, ArchiveStatus.of({
    status: () =>
      Effect.succeed({
        state: "NOT_CONFIGURED",
        message: "no history store: this service keeps the whole ledger in Redis (the event stream is capped by REDIS_EVENTS_MAXLEN)"
      })
  }))
}
