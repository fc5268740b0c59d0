import { Context, type Effect } from "effect"
import type { AccountRef, PotState, StoredObject, SystemAccount, Versioned } from "../domain/accounts.ts"
import type { LedgerEntry } from "../domain/ledgerEntry.ts"
import type { Plan, StatName } from "../domain/plan.ts"
import type { Transfer } from "../domain/transfer.ts"
import type { StoreUnavailable } from "./StoreErrors.ts"

export interface IdempotencyRecord {
  /**
   * SHA-256 of the canonical request (hex), so a key reused for another request is recognised. A
   * store may keep only its compared part (FINGERPRINT_COMPARED digits: compact Redis records do);
   * compare with sameFingerprint.
   */
  readonly fingerprint: string
  /** The exact response of the first success, JSON. */
  readonly response: string
}

export interface Snapshot {
  readonly objects: ReadonlyMap<string, Versioned>
  readonly idempotency: IdempotencyRecord | null
}

export interface ApplyRequest {
  readonly plan: Plan
  /** JSON of plan.response, stored with the key and returned verbatim on replays. */
  readonly responseJson: string
  readonly idempotency: { readonly key: string; readonly fingerprint: string; readonly ttlMs: number } | null
}

/** Every outcome of the one write primitive. */
export type ApplyResult =
  /** Everything was written. */
  | { readonly _tag: "Applied" }
  /** The key was used before with the same request: nothing written, the first response returned. */
  | { readonly _tag: "Replayed"; readonly response: string }
  /** The key was used before with a different request: nothing written. */
  | { readonly _tag: "KeyReused" }
  /** An expected version did not match: nothing written; the current state of every expected key. */
  | { readonly _tag: "Conflict"; readonly current: ReadonlyMap<string, Versioned> }
  /** A system account would leave the safe integer range: nothing written. */
  | { readonly _tag: "Overflow"; readonly account: SystemAccount }

export interface Page<A> {
  readonly items: ReadonlyArray<A>
  /** Pass back to continue; null when there is nothing more. */
  readonly nextCursor: string | null
}

/** A page of an account's transfers; cursors are absolute indexes (0 = its first transfer ever). */
export interface TransferPage extends Page<Transfer> {
  /** Transfers with index below this were trimmed from the store (the history store holds them). */
  readonly floor: number
}

/** A page of events, newest first. */
export interface EventPage extends Page<StoreEvent> {
  /** Events with ids up to this one were trimmed from the store ("0": none). */
  readonly trimmedThrough: string
}

/** One account's part of a trim (trim.lua). */
export interface TrimAccount {
  readonly account: AccountRef
  /** Pop ledger entries through this seq (0: none); the entry at that seq must have this checksum. */
  readonly entriesThroughSeq: number
  readonly entriesThroughChecksum: string
  /** The count of transfers trimmed before, as the caller saw it, and the ids to pop next, in order. */
  readonly transfersBase: number
  readonly transferIds: ReadonlyArray<string>
  /**
   * Where each of those transfers is in the stream (transferRef): a list
   * element that references the stream must be that very reference. Absent: such an element is
   * resolved and its transferId compared.
   */
  readonly transferRefs?: ReadonlyArray<string>
  /**
   * An account the archive stopped for: its transfers stay (nothing popped), but any element that
   * references an event this trim removes is first replaced by the transfer in full.
   */
  readonly keepTransfers?: boolean
}

/**
 * A transfer's place in the stream, `<event id>#<position in the event's transfers>`: what a
 * transfer list holds instead of the transfer when the stream is uncapped (apply.lua).
 */
export const transferRef = (eventId: string, position: number): string => `${eventId}#${position}`

export interface TrimRequest {
  /** The trim cursor the caller read: nothing is written if another trimmer moved it. */
  readonly fromEventId: string
  /** The last archived stream event: events through it are removed, and the cursor moves there. */
  readonly throughEventId: string
  readonly accounts: ReadonlyArray<TrimAccount>
}

export type TrimResult =
  | {
    readonly _tag: "Trimmed"
    readonly entries: number
    readonly transfers: number
    readonly events: number
    /** Parts not trimmed because they did not match what the archive holds: "<account> entries|transfers <why>". */
    readonly skipped: ReadonlyArray<string>
  }
  | { readonly _tag: "CursorMoved"; readonly cursor: string }

/** One settled pot to replace by its marker (compactArchived). */
export interface CompactObject {
  readonly key: string
  /** The version the archiver read and the history store committed: replaced only while the object is still at it. */
  readonly version: number
  /** archivedPotMarker of that state (PotState.archived), written at the same version. */
  readonly marker: PotState
}

export interface CompactResult {
  /** Keys now holding their marker. */
  readonly compacted: ReadonlyArray<string>
  /** Objects left as they were: "<key> <why>" (another version, absent, not the marker's pot, already a marker). */
  readonly skipped: ReadonlyArray<string>
}

/** One closed object to remove from Redis for good (retireArchived, retire.lua). */
export interface RetireObject {
  /** The object key (a pot's is also its account ref). */
  readonly key: string
  /** The version the archiver compared with the history store: removed only while the object is still at it. */
  readonly version: number
  /**
   * What the history store holds of its lists: entries through this seq (a pot's head seq) and this many
   * transfers; Redis must have trimmed exactly these (0 and 0 for a reservation, which has no lists).
   */
  readonly entriesTrimmed: number
  readonly transfersTrimmed: number
}

export interface RetireRequest {
  /** The archiver's lease as it holds it: nothing is written unless Redis' lease is still this one. */
  readonly owner: string
  readonly token: number
  readonly objects: ReadonlyArray<RetireObject>
}

export type RetireResult =
  | {
    readonly _tag: "Retired"
    /** Keys removed from Redis (object, trimmed counters, closed index member). */
    readonly retired: ReadonlyArray<string>
    /** Keys Redis does not hold (an earlier retirement removed them, or they never were): nothing to do. */
    readonly absent: ReadonlyArray<string>
    /** Objects left as they were: "<key> <why>" (another version, not closed, lists not trimmed as archived). */
    readonly skipped: ReadonlyArray<string>
  }
  /** The lease is not (or no longer) the caller's: nothing written. */
  | { readonly _tag: "NotLeased"; readonly current: string }

/** Whether stream id `a` (`<ms>-<seq>`) comes after `b`. */
export const isEventAfter = (a: string, b: string): boolean => {
  const [aMs, aSeq] = a.split("-").map(Number)
  const [bMs, bSeq] = b.split("-").map(Number)
  return aMs! > bMs! || (aMs === bMs && (aSeq ?? 0) > (bSeq ?? 0))
}

/** One apply's worth of changes, in the order they were written (the event stream). */
export interface StoreEvent {
  readonly id: string
  readonly entries: ReadonlyArray<LedgerEntry>
  readonly transfers: ReadonlyArray<Transfer>
}

/**
 * An event without its entries' contents: which entries it holds (account and seq) and its
 * transfers. What the archiver's trim and the lag need, read without fetching every entry.
 */
export interface EventOutline {
  readonly id: string
  readonly entries: ReadonlyArray<{ readonly accountId: AccountRef; readonly seq: number }>
  readonly transfers: ReadonlyArray<Transfer>
}

/** The archiver's lease (lease.lua): held with a fencing token, or held by someone else. */
export type LeaseResult =
  | { readonly _tag: "Held"; readonly token: number }
  | { readonly _tag: "HeldByOther"; readonly owner: string }

/** Who holds the archiver's lease now, with its fencing token; null when nobody does. */
export interface LeaseHolder {
  readonly owner: string
  readonly token: number
}

/**
 * The storage port. `apply` is the only write: atomic, all or nothing, guarded
 * by expected versions and the idempotency key. Everything else reads.
 */
export class Store extends Context.Service<Store, {
  /**
   * Current version and value of each key (version 0: absent), and the idempotency record if asked.
   * `opens`: keys among `keys` the caller creates if they are absent (planner.keysOpenedBy); a
   * store that also looks up absent objects elsewhere (TieredStore: retired pots in PostgreSQL)
   * may answer those from a bounded check, since apply checks an open again.
   */
  readonly load: (
    keys: ReadonlyArray<string>,
    idempotencyKey?: string,
    opens?: ReadonlyArray<string>
  ) => Effect.Effect<Snapshot, StoreUnavailable>
  readonly apply: (request: ApplyRequest) => Effect.Effect<ApplyResult, StoreUnavailable>
  /**
   * Ledger entries of one account with seq > afterSeq, ascending, at most `limit`: those the
   * store holds (entries trimmed after archiving are in the history store; see entryPage).
   */
  readonly entries: (
    account: AccountRef,
    afterSeq: number,
    limit: number
  ) => Effect.Effect<ReadonlyArray<LedgerEntry>, StoreUnavailable>
  /** The same, and how far the account's entries were trimmed (entries up to that seq are archived only). */
  readonly entryPage: (
    account: AccountRef,
    afterSeq: number,
    limit: number
  ) => Effect.Effect<{ readonly entries: ReadonlyArray<LedgerEntry>; readonly trimmedThrough: number }, StoreUnavailable>
  /** Transfers touching one account, newest first. The cursor is opaque. */
  readonly transfers: (
    account: AccountRef,
    cursor: string | null,
    limit: number
  ) => Effect.Effect<TransferPage, StoreUnavailable>
  /** Every apply's entries and transfers, newest first (capped, or trimmed after archiving). */
  readonly events: (cursor: string | null, limit: number) => Effect.Effect<EventPage, StoreUnavailable>
  /** Events after `afterId` in ascending order ("0" = from the oldest kept), for live watchers. */
  readonly eventsAfter: (afterId: string, limit: number) => Effect.Effect<ReadonlyArray<StoreEvent>, StoreUnavailable>
  /** The same as outlines (no entry contents), for the archiver's trim and its lag. */
  readonly eventOutlinesAfter: (afterId: string, limit: number) => Effect.Effect<ReadonlyArray<EventOutline>, StoreUnavailable>
  /** Live chained accounts (wallets, stacks, active pots) in key order, for verification and admin listing. */
  readonly accounts: (
    cursor: string | null,
    limit: number,
    prefix?: string
  ) => Effect.Effect<Page<AccountRef>, StoreUnavailable>
  /**
   * Closed accounts (settled and cancelled pots: their chains never grow again) that closed at or
   * after `since` (ms), oldest first. The cursor is opaque.
   */
  readonly closedAccounts: (
    since: number,
    cursor: string | null,
    limit: number
  ) => Effect.Effect<Page<AccountRef>, StoreUnavailable>
  /** Reservation ids whose deadline is at or before `now`, oldest first. */
  readonly dueReservations: (now: number, limit: number) => Effect.Effect<ReadonlyArray<string>, StoreUnavailable>
  readonly systemBalances: () => Effect.Effect<Readonly<Record<SystemAccount, number>>, StoreUnavailable>
  readonly stats: () => Effect.Effect<Readonly<Partial<Record<StatName, number>>>, StoreUnavailable>
  readonly ping: () => Effect.Effect<void, StoreUnavailable>
  /**
   * The store server's memory in use and its limit (Redis: INFO memory's used_memory and
   * maxmemory, in bytes; limit 0 = none), what a bounded Redis is watched by; absent for a store
   * without a server of its own (the memory store).
   */
  readonly serverMemory?: () => Effect.Effect<{ readonly usedBytes: number; readonly maxBytes: number }, StoreUnavailable>
  /**
   * Takes or renews the archiver's lease for `ttlMs` (one archiver across instances). Each new
   * holder gets a fencing token larger than every earlier holder's; renewing keeps the token.
   */
  readonly acquireArchiverLease: (owner: string, ttlMs: number) => Effect.Effect<LeaseResult, StoreUnavailable>
  /** Gives the lease up if `owner` holds it (a clean stop: the next instance need not wait for the TTL). */
  readonly releaseArchiverLease: (owner: string) => Effect.Effect<void, StoreUnavailable>
  /** Reads the lease without taking it (for the archive's status). */
  readonly archiverLease: () => Effect.Effect<LeaseHolder | null, StoreUnavailable>
  /**
   * Claims this store for the archive `archiveId` if no archive has claimed it yet, and returns the
   * id of the archive it belongs to after the claim (`archiveId`, or the earlier claimant's): the
   * history trimmed from this store is in that archive only (src/history/archiveIdentity.ts).
   */
  readonly claimArchiveId: (archiveId: string) => Effect.Effect<string, StoreUnavailable>
  /** The archive this Redis' history belongs to, without claiming it (null: no archive claimed it). */
  readonly archiveIdOfRedis: () => Effect.Effect<string | null, StoreUnavailable>
  /** The trim cursor (last trimmed stream id, "0" for none) and how many transfers of each account were trimmed. */
  readonly trimState: (
    accounts: ReadonlyArray<AccountRef>
  ) => Effect.Effect<{ readonly cursor: string; readonly transfersBase: ReadonlyMap<AccountRef, number> }, StoreUnavailable>
  /** Removes what the history store committed, each part checked first (trim.lua). */
  readonly trimArchived: (request: TrimRequest) => Effect.Effect<TrimResult, StoreUnavailable>
  /**
   * Replaces settled pots the history store committed by their markers (PotState.archived; compact.lua),
   * each by compare-and-set on its version: an object at another version, absent, or not the pot
   * its marker was made from is left whole and reported. Every check is made before the first write.
   */
  readonly compactArchived: (objects: ReadonlyArray<CompactObject>) => Effect.Effect<CompactResult, StoreUnavailable>
  /**
   * Removes closed objects the history store holds whole, once their retention passed (retire.lua):
   * each by compare-and-set on its version, its lists trimmed and its trimmed counts as archived,
   * and only while the caller holds the archiver's lease with its token. Every check before the first write.
   */
  readonly retireArchived: (request: RetireRequest) => Effect.Effect<RetireResult, StoreUnavailable>
  /**
   * The full state of an object Redis keeps only as a marker (an archived pot), from the history
   * store; null from a store without one (the plain Redis and memory stores: TieredStore answers it).
   */
  readonly archivedObject: (key: string) => Effect.Effect<StoredObject | null, StoreUnavailable>
  /**
   * Waits until the writes this store has sent are on enough replicas
   * (REDIS_MIN_REPLICAS_ACK; a no-op when that is 0 or there are no
   * replicas). For answers given without an apply of their own: a repeated
   * commit, a replay found by a read, whose first write may not have been
   * acknowledged.
   */
  readonly awaitReplication: () => Effect.Effect<void, StoreUnavailable>
}>()("balance/Store") {}
