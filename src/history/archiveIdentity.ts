import { Effect, Schema } from "effect"
import type { Store } from "../store/Store.ts"
import type { HistoryStore } from "./HistoryStore.ts"

/**
 * The Redis belongs to another archive than this instance's history store: starting would archive
 * part of its history here and part there, and trim Redis on the strength of either.
 */
export class ArchiveIdentityMismatch extends Schema.TaggedError<ArchiveIdentityMismatch>()("ArchiveIdentityMismatch", {
  /** The archive Redis belongs to (its `archive:id`). */
  redisArchiveId: Schema.String,
  /** The archive of this instance's history store (archive_state.archive_id). */
  localArchiveId: Schema.String
}) {
  override get message() {
    return `this Redis belongs to archive ${this.redisArchiveId}, but this instance's history store is archive ` +
      `${this.localArchiveId}: one Redis has one archive (each would hold part of its history, and Redis would be ` +
      `trimmed of history the other one alone holds). Set DATABASE_URL to the PostgreSQL the other instances on this ` +
      `Redis use (instances sharing a Redis must share one DATABASE_URL), or HISTORY_ARCHIVE=off on this one. If archive ` +
      `${this.redisArchiveId} was lost, restore it from its backup: what Redis no longer holds is there only, and an ` +
      `empty archive would not continue it (continuity protection)`
  }
}

/**
 * The history tier is off on this instance, but this Redis' history is archived (another instance,
 * or this one before, archives it): part of the history is in that archive only, so reads without it
 * would answer ledger and transaction pages with their older part missing.
 */
export class HistoryArchiveRequired extends Schema.TaggedError<HistoryArchiveRequired>()("HistoryArchiveRequired", {
  /** The archive Redis belongs to (its `archive:id`). */
  redisArchiveId: Schema.String
}) {
  override get message() {
    return `this Redis' history is archived in archive ${this.redisArchiveId} (PostgreSQL), and the archiver trims ` +
      `from Redis what that archive holds: an instance without the history tier would answer history reads with ` +
      `their older part missing. Start this instance with HISTORY_ARCHIVE=on and DATABASE_URL set to the PostgreSQL ` +
      `of that archive (the one the other instances on this Redis use)`
  }
}

/** Before an instance without the history tier serves: refuses a Redis whose history is archived (HistoryArchiveRequired). */
export const refuseArchivedRedis = Effect.fn("ArchiveIdentity.refuseArchived")(function*(store: Store["Service"]) {
  const redisArchiveId = yield* store.archiveIdOfRedis()
  if (redisArchiveId !== null) return yield* new HistoryArchiveRequired({ redisArchiveId })
})

/**
 * One archive per Redis, checked before the tiered store serves: claims Redis for this history
 * store's archive when no archive has yet, and refuses (ArchiveIdentityMismatch) when another has.
 */
export const claimRedisForArchive = Effect.fn("ArchiveIdentity.claim")(function*(
  store: Store["Service"],
  history: HistoryStore["Service"]
) {
  const localArchiveId = yield* history.archiveId()
  const redisArchiveId = yield* store.claimArchiveId(localArchiveId)
  if (redisArchiveId !== localArchiveId) return yield* new ArchiveIdentityMismatch({ redisArchiveId, localArchiveId })
  // The id an operator compares with another instance's, or with a refused start's message.
  yield* Effect.logInfo("history archive of this Redis").pipe(Effect.annotateLogs({ archiveId: localArchiveId }))
})
