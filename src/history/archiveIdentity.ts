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
