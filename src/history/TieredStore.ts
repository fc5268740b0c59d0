import { Clock, Effect, Layer, Option } from "effect"
import { type AccountRef, keyKind, type Versioned } from "../domain/accounts.ts"
import type { LedgerEntry } from "../domain/ledgerEntry.ts"
import type { Transfer } from "../domain/transfer.ts"
import { type ApplyRequest, type ApplyResult, type EventPage, type Snapshot, Store, type TransferPage } from "../store/Store.ts"
import { StoreUnavailable } from "../store/StoreErrors.ts"
import { claimRedisForArchive } from "./archiveIdentity.ts"
import { type ArchivedClosedObject, HistoryStore, type HistoryUnavailable } from "./HistoryStore.ts"

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
 *
 * Retired objects (closed pots and reservations the archiver removed from Redis entirely once
 * their retention passed: Archiver.retire) are answered from closed_objects at the version Redis
 * held them: a `load` that finds a pot or reservation absent in Redis asks PostgreSQL for it, so
 * reads (GetPot, a reservation) and the planner (a Commit of a retired hold, a Settle of a retired
 * pot) see the closed object and answer as before. Only absent pots and reservations cost that
 * query (the common write path loads neither: a new pot is assumed absent, a new reservation's id
 * is drawn by the service). A retired pot's chain and transfers are read from PostgreSQL whole:
 * Redis no longer says how far they were trimmed.
 *
 * A plan that opens a pot (expects it absent) whose id the archive holds retired would start a
 * second pot under that id: `apply` asks PostgreSQL first and answers Conflict with the retired
 * pot, so the ledger plans again and refuses (POT_NOT_ACTIVE), as it did while Redis held it. That
 * check is the one PostgreSQL query on the write path, one per hand: bounded by
 * RETIRED_POT_CHECK_TIMEOUT_MS, and skipped when PostgreSQL does not answer in time (the game goes
 * on; the archiver's continuity check then stops for the reused id: a new chain for an account the
 * archive holds), and for RETIRED_POT_CHECK_PAUSE_MS after that, so that a hung PostgreSQL delays
 * one hand per pause rather than every hand. A `load` of a pot the caller would open (the ledger
 * reads one before an open when its cache lacks the player's stack: a cold cache, a key forgotten
 * after a replay) asks the same bounded check, never the unbounded lookup: otherwise the hand's
 * first contribution would wait for PostgreSQL. Such an open asks twice (the load, then apply);
 * a retired pot seen by the load is refused by the plan, so apply asks only for a pot still absent.
 */
/** How long a pot open waits for PostgreSQL to say whether the id was retired before it goes ahead unchecked. */
export const RETIRED_POT_CHECK_TIMEOUT_MS = 100
/**
 * After a check PostgreSQL did not answer (down, or slower than the timeout), pot opens go ahead
 * unchecked for this long before the next one asks again: while PostgreSQL hangs, only one open per
 * period waits the timeout, not every hand of every table.
 */
export const RETIRED_POT_CHECK_PAUSE_MS = 5_000

export const makeTieredStore = (store: Store["Service"], history: HistoryStore["Service"]): Store["Service"] => {
  const historyDown = (e: HistoryUnavailable) =>
    new StoreUnavailable({ operation: `history.${e.operation}`, reason: `the history store (PostgreSQL) is unavailable: ${e.reason}` })

  /** Objects that retirement may have removed from Redis: their kinds (pots are accounts too). */
  const mayBeRetired = (key: string) => {
    const kind = keyKind(key)
    return kind === "pot" || kind === "reservation"
  }

  /** The retired ones among closed objects found in the archive: their closed state at the version Redis held. */
  const retiredVersions = (found: ReadonlyMap<string, ArchivedClosedObject>) =>
    // Without a recorded version it was never retired (Redis lost it, or it is not there yet): absent.
    new Map([...found].flatMap(([key, c]): Array<[string, Versioned]> => c.version === null ? [] : [[key, { version: c.version, value: c.state }]]))

  /** Until when (the Clock's ms) pot opens skip the check: PostgreSQL did not answer the last one. */
  let uncheckedUntil = 0
  const unchecked = (reason: string) =>
    Effect.map(Clock.currentTimeMillis, (now) => {
      uncheckedUntil = now + RETIRED_POT_CHECK_PAUSE_MS
      return new Map<string, Versioned>()
    }).pipe(
      Effect.tap(Effect.logDebug("pot opens not checked against retired pots for a while: the history store did not answer").pipe(
        Effect.annotateLogs({ reason, pauseMs: RETIRED_POT_CHECK_PAUSE_MS })
      ))
    )
  const check = (keys: ReadonlyArray<string>) =>
    history.closedObjects(keys).pipe(
      Effect.map(retiredVersions),
      Effect.timeoutOption(RETIRED_POT_CHECK_TIMEOUT_MS),
      Effect.flatMap(Option.match({
        onNone: () => unchecked(`no answer within ${RETIRED_POT_CHECK_TIMEOUT_MS} ms`),
        onSome: Effect.succeed
      })),
      Effect.catch((e) => unchecked(e.reason))
    )
  /**
   * The pots among `keys` the archive holds as retired (a recorded version): their closed state.
   * PostgreSQL down or slow: none (see the module comment).
   */
  const retiredPots = (keys: ReadonlyArray<string>) =>
    Effect.flatMap(Clock.currentTimeMillis, (now) => now < uncheckedUntil ? Effect.succeed(new Map<string, Versioned>()) : check(keys))

  /**
   * The snapshot with every pot or reservation Redis lacks answered from the archive, if it retired
   * it. Pots the caller opens if absent (`opens`) are asked as a pot open asks (retiredPots: bounded,
   * none when PostgreSQL does not answer), since apply checks the open again: a ledger that reads
   * before an open (a cold cache) does not stall the game while PostgreSQL is down. Anything else
   * absent is a refusal only the archive can confirm or overturn: PostgreSQL must answer.
   */
  const withRetired = Effect.fnUntraced(function*(snapshot: Snapshot, opens: ReadonlyArray<string> | undefined) {
    const absent = [...snapshot.objects].filter(([key, v]) => v.version === 0 && mayBeRetired(key)).map(([key]) => key)
    if (absent.length === 0) return snapshot
    const opened = opens === undefined ? [] : absent.filter((key) => keyKind(key) === "pot" && opens.includes(key))
    const others = opened.length === 0 ? absent : absent.filter((key) => !opened.includes(key))
    const retired = others.length === 0
      ? new Map<string, Versioned>()
      : retiredVersions(yield* history.closedObjects(others).pipe(Effect.mapError(historyDown)))
    if (opened.length > 0) for (const [key, v] of yield* retiredPots(opened)) retired.set(key, v)
    if (retired.size === 0) return snapshot
    return { ...snapshot, objects: new Map<string, Versioned>([...snapshot.objects, ...retired]) }
  })

  /** apply, unless the plan opens a pot whose id was retired: then Conflict with that pot (and Redis' state of the rest). */
  const apply = Effect.fnUntraced(function*(request: ApplyRequest) {
    const opening = request.plan.expected.filter((e) => e.version === 0 && keyKind(e.key) === "pot").map((e) => e.key)
    if (opening.length === 0) return yield* store.apply(request)
    const retired = yield* retiredPots(opening)
    if (retired.size === 0) return yield* store.apply(request)
    const current = new Map((yield* store.load(request.plan.expected.map((e) => e.key))).objects)
    for (const [key, v] of retired) if (current.get(key)?.version === 0) current.set(key, v)
    return { _tag: "Conflict", current } satisfies ApplyResult
  })

  /**
   * A retired pot's entries (Redis holds none of them and no trimmed count): PostgreSQL's, whole.
   * Only pots retire; any other account with nothing in Redis has nothing anywhere.
   */
  const retiredEntries = Effect.fnUntraced(function*(account: AccountRef, afterSeq: number, limit: number) {
    const archived = yield* history.entries(account, afterSeq, limit).pipe(Effect.mapError(historyDown))
    return { entries: archived, trimmedThrough: archived.length === 0 ? 0 : archived[archived.length - 1]!.seq }
  })

  const entryPage = Effect.fn("TieredStore.entryPage")(function*(account: AccountRef, afterSeq: number, limit: number) {
    const recent = yield* store.entryPage(account, afterSeq, limit)
    if (limit > 0 && recent.trimmedThrough === 0 && recent.entries.length === 0 && keyKind(account) === "pot") {
      return yield* retiredEntries(account, afterSeq, limit)
    }
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
    if (
      limit > 0 && recent.floor === 0 && recent.items.length === 0 && recent.nextCursor === null && keyKind(account) === "pot" &&
      (cursor === null || /^\d+$/.test(cursor))
    ) {
      // A retired pot: every transfer is in PostgreSQL, by the indexes its list had.
      const before = cursor === null ? Number.MAX_SAFE_INTEGER : Number(cursor)
      const archived = yield* history.transfersBefore(account, before, limit).pipe(Effect.mapError(historyDown))
      const lowest = archived.length === 0 ? 0 : archived[archived.length - 1]!.idx
      return {
        items: archived.map((a) => a.transfer),
        nextCursor: lowest > 0 && archived.length === limit ? String(lowest) : null,
        floor: archived.length === 0 ? 0 : archived[0]!.idx + 1
      } satisfies TransferPage
    }
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
    load: (keys, idempotencyKey, opens) => Effect.flatMap(store.load(keys, idempotencyKey), (s) => withRetired(s, opens)),
    apply,
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
