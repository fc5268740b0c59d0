import { Context, Effect, Layer } from "effect"
import type { StoreUnavailable } from "../store/StoreErrors.ts"

/** The history store is running: how far behind Redis it is and whether it has stopped anywhere. */
export interface ArchiveRunning {
  readonly state: "ACTIVE" | "LAGGING" | "STOPPED"
  readonly database: "embedded" | "external"
  /** Ledger entries written to Redis and not yet committed to the archive. */
  readonly lagEntries: number
  /** Age of the oldest entry not yet archived (0 when none). */
  readonly lagSeconds: number
  readonly archivedEntries: number
  readonly archivedTransfers: number
  readonly lastBatchAt: number | null
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

/**
 * The archive's health for the admin console and CLI. Until the PostgreSQL history store (issue 14)
 * provides a layer of its own, `none` answers NOT_CONFIGURED, saying so in plain words rather
 * than showing zeros that would read as "no lag".
 */
export class ArchiveStatus extends Context.Service<ArchiveStatus, {
  readonly status: () => Effect.Effect<ArchiveStatusReport, StoreUnavailable>
}>()("balance/ArchiveStatus") {
  static readonly none = Layer.succeed(ArchiveStatus, ArchiveStatus.of({
    status: () =>
      Effect.succeed({
        state: "NOT_CONFIGURED",
        message: "no history store: this service keeps the whole ledger in Redis (the event stream is capped by REDIS_EVENTS_MAXLEN)"
      })
  }))
}
