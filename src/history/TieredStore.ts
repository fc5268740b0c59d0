import { Effect, Layer } from "effect"
import type { AccountRef } from "../domain/accounts.ts"
import type { LedgerEntry } from "../domain/ledgerEntry.ts"
import type { Transfer } from "../domain/transfer.ts"
import { type EventPage, Store, type TransferPage } from "../store/Store.ts"
import { StoreUnavailable } from "../store/StoreErrors.ts"
import { claimRedisForArchive } from "./archiveIdentity.ts"
import { HistoryStore, type HistoryUnavailable } from "./HistoryStore.ts"

/**
 * History reads across both tiers (DESIGN 9): the Store port as the rest of
 * the service knows it, with `entries`, `transfers` and `events` answering
 * from Redis for what it still holds and from PostgreSQL for what the
 * archiver trimmed, in one sequence, with the same cursors before and after
 * a trim (seqs, absolute list indexes, stream ids). Redis is read first: it
 * says how far it was trimmed, and everything up to there is committed in
 * PostgreSQL (the archiver trims only after the commit).
 *
 * A read that needs PostgreSQL while it is down fails as StoreUnavailable
 * (UNAVAILABLE / 503 with Retry-After); reads Redis can answer alone, and
 * every write, are unaffected.
 *
 * `archivedObject` answers for the markers Redis keeps of settled pots the archiver compacted
 * (PotState.archived): their full state is the history store's closed_objects row, so a pot reads
 * the same before and after (Ledger.pot). Writes never need it: a marker refuses what its pot
 * refuses, so the planner's loads stay on Redis alone.
 */
export const makeTieredStore = (store: Store["Service"], history: HistoryStore["Service"]): Store["Service"] => {
  const historyDown = (e: HistoryUnavailable) =>
    new StoreUnavailable({ operation: `history.${e.operation}`, reason: `the history store (PostgreSQL) is unavailable: ${e.reason}` })

  const entryPage = Effect.fn("TieredStore.entryPage")(function*(account: AccountRef, afterSeq: number, limit: number) {
    const recent = yield* store.entryPage(account, afterSeq, limit)
    if (limit <= 0 || afterSeq >= recent.trimmedThrough) return recent
    const archived: ReadonlyArray<LedgerEntry> = yield* history.entries(
      account,
      afterSeq,
      Math.min(limit, recent.trimmedThrough - afterSeq)
    ).pipe(Effect.mapError(historyDown))
    return { entries: [...archived, ...recent.entries].slice(0, limit), trimmedThrough: recent.trimmedThrough }
  })

  const transfers = Effect.fn("TieredStore.transfers")(function*(account: AccountRef, cursor: string | null, limit: number) {
    const recent: TransferPage = yield* store.transfers(account, cursor, limit)
    const missing = limit - recent.items.length
    const start = recent.nextCursor === null ? 0 : Number(recent.nextCursor)
    // Below the floor the transfers are in PostgreSQL, by the same indexes.
    if (missing <= 0 || start === 0 || start > recent.floor) return recent
    const archived = yield* history.transfersBefore(account, start, missing).pipe(Effect.mapError(historyDown))
    const lowest = archived.length === 0 ? start : archived[archived.length - 1]!.idx
    const items: Array<Transfer> = [...recent.items, ...archived.map((a) => a.transfer)]
    return { items, nextCursor: lowest > 0 && archived.length === missing ? String(lowest) : null, floor: recent.floor }
  })

  const events = Effect.fn("TieredStore.events")(function*(cursor: string | null, limit: number) {
    const recent: EventPage = yield* store.events(cursor, limit)
    const missing = limit - recent.items.length
    if (missing <= 0 || recent.nextCursor !== null || recent.trimmedThrough === "0") return recent
    // Redis holds nothing older than its page: continue with archived events below both bounds.
    const before = recent.items[recent.items.length - 1]?.id ?? cursor
    const archived = yield* history.eventsBefore(before, recent.trimmedThrough, missing).pipe(Effect.mapError(historyDown))
    const items = [...recent.items, ...archived]
    const last = items[items.length - 1]
    return { items, nextCursor: archived.length === missing && last ? last.id : null, trimmedThrough: recent.trimmedThrough }
  })

  return Store.of({
    ...store,
    entries: (account, afterSeq, limit) => Effect.map(entryPage(account, afterSeq, limit), (p) => p.entries),
    entryPage,
    transfers,
    events,
    archivedObject: (key) =>
      history.closedObject(key).pipe(
        Effect.map((closed) => closed?.state ?? null),
        Effect.mapError(historyDown)
      )
  })
}

/**
 * Wraps the Store in context with history reads from the HistoryStore in context, once Redis is
 * known to belong to that history store's archive (archiveIdentity.ts: claimed now if no archive
 * has yet; another archive's Redis fails the layer with ArchiveIdentityMismatch).
 */
export const layer = Layer.effect(Store, Effect.gen(function*() {
  const store = yield* Store
  const history = yield* HistoryStore
  yield* claimRedisForArchive(store, history)
  return makeTieredStore(store, history)
}))
