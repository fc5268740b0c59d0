import { Effect, Layer } from "effect"
import { AppConfig } from "../config.ts"
import { DeadLetters } from "../degradation/DeadLetters.ts"
import { ArchiveEconomyHistory } from "../economy/ArchiveEconomyHistory.ts"
import type { EconomyHistory } from "../economy/EconomyHistory.ts"
import { LiveTailEconomyHistory } from "../economy/LiveTailEconomyHistory.ts"
import { ArchiveStatus } from "../archive/ArchiveStatus.ts"
import { VerificationJobs } from "../ledger/VerificationJobs.ts"

/** The history store's own layers of the economy and archive status (default: Redis' live tail, NOT_CONFIGURED). */
export interface HistoryViews<E, R> {
  readonly economy?: Layer.Layer<EconomyHistory, E, R>
  readonly archiveStatus?: Layer.Layer<ArchiveStatus, E, R>
}

/**
 * What the admin console and CLI read beyond the ledger: dead-lettered credits under `dataDir`,
 * verification jobs, the economy over time and the archive's status. Requires Ledger,
 * LedgerVerifier and Store (and what `views` require).
 */
export const layerAt = <E = never, R = never>(dataDir: string, views: HistoryViews<E, R> = {}) =>
  Layer.mergeAll(
    DeadLetters.layerAt(dataDir),
    VerificationJobs.layer,
    views.economy ?? LiveTailEconomyHistory,
    views.archiveStatus ?? ArchiveStatus.none
  )

/**
 * With HISTORY_ARCHIVE=on on a Redis store (the cases where ArchiveJob archives): the economy over
 * the archive plus the live tail, and the archive's status read from the history store and Redis
 * (LAGGING past a lease takeover plus two archiver intervals). Otherwise today's defaults.
 */
const historyViews = Effect.gen(function*() {
  if ((yield* AppConfig.historyArchive) === "off" || (yield* AppConfig.store) === "memory") return {}
  return {
    economy: ArchiveEconomyHistory,
    archiveStatus: ArchiveStatus.layer({
      database: (yield* AppConfig.databaseUrl) === undefined ? "embedded" : "external",
      laggingAfterMs: (yield* AppConfig.archiveLeaseMs) + 2 * (yield* AppConfig.archiveIntervalMs)
    })
  } as const
})

/** The admin services with DATA_DIR and the archive settings from config. */
export const layer = Layer.unwrap(Effect.gen(function*() {
  return layerAt(yield* AppConfig.dataDir, yield* historyViews)
}))
