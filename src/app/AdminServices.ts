import { Effect, Layer } from "effect"
import { AppConfig } from "../config.ts"
import { DeadLetters } from "../degradation/DeadLetters.ts"
import { LiveTailEconomyHistory } from "../economy/LiveTailEconomyHistory.ts"
import { ArchiveStatus } from "../history/ArchiveStatus.ts"
import { VerificationJobs } from "../ledger/VerificationJobs.ts"

/**
 * What the admin console and CLI read beyond the ledger: dead-lettered credits under `dataDir`,
 * verification jobs, the economy over time and the archive's status (NOT_CONFIGURED unless
 * `archiveStatus` is the history store's). Requires Ledger, LedgerVerifier and Store (and what
 * `archiveStatus` requires).
 */
export const adminServicesAt = <E = never, R = never>(
  dataDir: string,
  archiveStatus: Layer.Layer<ArchiveStatus, E, R> = ArchiveStatus.none as Layer.Layer<ArchiveStatus, E, R>
) => Layer.mergeAll(DeadLetters.layerAt(dataDir), VerificationJobs.layer, LiveTailEconomyHistory, archiveStatus)

/**
 * The archive's status as the service runs: read from the history store and Redis with
 * HISTORY_ARCHIVE=on on a Redis store (the cases where ArchiveJob archives), else NOT_CONFIGURED.
 * LAGGING past a lease takeover plus two archiver intervals.
 */
const ArchiveStatusLayer = Layer.unwrap(Effect.gen(function*() {
  if ((yield* AppConfig.historyArchive) === "off" || (yield* AppConfig.store) === "memory") return ArchiveStatus.none
  return ArchiveStatus.layer({
    database: (yield* AppConfig.databaseUrl) === undefined ? "embedded" : "external",
    laggingAfterMs: (yield* AppConfig.archiveLeaseMs) + 2 * (yield* AppConfig.archiveIntervalMs)
  })
}))

/** The admin services with DATA_DIR and the archive settings from config. */
export const AdminServicesLayer = Layer.unwrap(Effect.map(AppConfig.dataDir, (dataDir) => adminServicesAt(dataDir, ArchiveStatusLayer)))
