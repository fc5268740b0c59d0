import { Layer } from "effect"
import { AppConfig } from "../config.ts"
import { DeadLetters } from "../degradation/DeadLetters.ts"
import { LiveTailEconomyHistory } from "../economy/LiveTailEconomyHistory.ts"
import { ArchiveStatus } from "../history/ArchiveStatus.ts"
import { VerificationJobs } from "../ledger/VerificationJobs.ts"
import { Effect } from "effect"

/**
 * What the admin console and CLI read beyond the ledger: dead-lettered credits under `dataDir`,
 * verification jobs, the economy over time and the archive's status. Requires Ledger,
 * LedgerVerifier and Store. The history store (issue 14) replaces the last two layers with its own
 * (SQL over the archive plus the live tail); nothing above them changes.
 */
export const adminServicesAt = (dataDir: string) =>
  Layer.mergeAll(DeadLetters.layerAt(dataDir), VerificationJobs.layer, LiveTailEconomyHistory, ArchiveStatus.none)

/** The admin services with DATA_DIR from config. */
export const AdminServicesLayer = Layer.unwrap(Effect.map(AppConfig.dataDir, adminServicesAt))
