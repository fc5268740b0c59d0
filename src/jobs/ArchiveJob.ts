import { randomUUID } from "node:crypto"
import { Effect, Layer } from "effect"
import { Archiver } from "../archive/Archiver.ts"
import { HistoryLayer } from "../app/HistoryLayer.ts"
import { AppConfig } from "../config.ts"
import { everyInterval } from "./everyInterval.ts"

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
 * HISTORY_ARCHIVE=on: the history store (DATABASE_URL or a private
 * PostgreSQL, migrated at start) and the archiver job. Off: nothing.
 */
export const ArchiveJob = Layer.unwrap(Effect.gen(function*() {
  if ((yield* AppConfig.historyArchive) === "off") return Layer.empty
  if ((yield* AppConfig.store) === "memory") {
    yield* Effect.logWarning("HISTORY_ARCHIVE=on is ignored with BALANCE_STORE=memory: a volatile store has no history to keep")
    return Layer.empty
  }
  const archiver = Layer.effect(Archiver, Effect.gen(function*() {
    return yield* Archiver.make({
      batchEvents: yield* AppConfig.archiveBatchEvents,
      leaseMs: yield* AppConfig.archiveLeaseMs,
      owner: randomUUID()
    })
  }))
  return ArchiveSchedule.pipe(Layer.provide(archiver), Layer.provide(HistoryLayer))
}))
