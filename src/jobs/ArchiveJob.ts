import { randomUUID } from "node:crypto"
import { Effect, Layer } from "effect"
import { Archiver } from "../archive/Archiver.ts"
import { AppConfig } from "../config.ts"
import { everyInterval } from "../scheduling/everyInterval.ts"

/**
 * The archiver's schedule: every ARCHIVE_INTERVAL_MS it drains what the
 * stream holds beyond the archive (batch after batch while they come full).
 * Every instance runs it; the Redis lease lets one archive at a time, the
 * others stand by and take over within ARCHIVE_LEASE_MS when it stops. A
 * pass that fails (Redis or PostgreSQL down) is logged and the next one runs:
 * the archive lags, the game goes on. On a clean stop the lease is released.
 */
const ArchiveSchedule = Layer.effectDiscard(Effect.gen(function*() {
  const archiver = yield* Archiver
  const intervalMs = yield* AppConfig.archiveIntervalMs
  yield* Effect.addFinalizer(() => archiver.release().pipe(Effect.ignore))
  yield* everyInterval("history archiver", intervalMs, archiver.drain())
}))

/**
 * HISTORY_ARCHIVE=on: the archiver job, on the history store that
 * ServiceStore.layer provides (DATABASE_URL or a private PostgreSQL, migrated
 * at start). Off, or on a memory store: nothing.
 */
export const ArchiveJob = Layer.unwrap(Effect.gen(function*() {
  if ((yield* AppConfig.historyArchive) === "off" || (yield* AppConfig.store) === "memory") return Layer.empty
  const archiver = Layer.effect(Archiver, Effect.gen(function*() {
    return yield* Archiver.make({
      batchEvents: yield* AppConfig.archiveBatchEvents,
      leaseMs: yield* AppConfig.archiveLeaseMs,
      owner: randomUUID(),
      trim: true,
      retentionMs: yield* AppConfig.closedRetentionMs
    })
  }))
  return ArchiveSchedule.pipe(Layer.provide(archiver))
}))
