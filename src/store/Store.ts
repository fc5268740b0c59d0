import { Context, type Effect } from "effect"
import type { AccountRef, SystemAccount, Versioned } from "../domain/accounts.ts"
import type { LedgerEntry } from "../domain/ledgerEntry.ts"
import type { Plan, StatName } from "../domain/plan.ts"
import type { Transfer } from "../domain/transfer.ts"
import type { StoreUnavailable } from "./StoreErrors.ts"

export interface IdempotencyRecord {
  /** SHA-256 of the canonical request, so a key reused for another request is recognised. */
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

/** One apply's worth of changes, in the order they were written (the event stream). */
export interface StoreEvent {
  readonly id: string
  readonly entries: ReadonlyArray<LedgerEntry>
  readonly transfers: ReadonlyArray<Transfer>
}

/** The archiver's lease (lease.lua): held with a fencing token, or held by someone else. */
export type LeaseResult =
  | { readonly _tag: "Held"; readonly token: number }
  | { readonly _tag: "HeldByOther"; readonly owner: string }

/**
 * The storage port. `apply` is the only write: atomic, all or nothing, guarded
 * by expected versions and the idempotency key. Everything else reads.
 */
export class Store extends Context.Service<Store, {
  /** Current version and value of each key (version 0: absent), and the idempotency record if asked. */
  readonly load: (keys: ReadonlyArray<string>, idempotencyKey?: string) => Effect.Effect<Snapshot, StoreUnavailable>
  readonly apply: (request: ApplyRequest) => Effect.Effect<ApplyResult, StoreUnavailable>
  /** Ledger entries of one account with seq > afterSeq, ascending, at most `limit`. */
  readonly entries: (
    account: AccountRef,
    afterSeq: number,
    limit: number
  ) => Effect.Effect<ReadonlyArray<LedgerEntry>, StoreUnavailable>
  /** Transfers touching one account, newest first. The cursor is opaque. */
  readonly transfers: (
    account: AccountRef,
    cursor: string | null,
    limit: number
  ) => Effect.Effect<Page<Transfer>, StoreUnavailable>
  /** Every apply's entries and transfers, newest first (capped history). */
  readonly events: (cursor: string | null, limit: number) => Effect.Effect<Page<StoreEvent>, StoreUnavailable>
  /** Events after `afterId` in ascending order ("0" = from the oldest kept), for live watchers. */
  readonly eventsAfter: (afterId: string, limit: number) => Effect.Effect<ReadonlyArray<StoreEvent>, StoreUnavailable>
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
   * Takes or renews the archiver's lease for `ttlMs` (one archiver across instances). Each new
   * holder gets a fencing token larger than every earlier holder's; renewing keeps the token.
   */
  readonly acquireArchiverLease: (owner: string, ttlMs: number) => Effect.Effect<LeaseResult, StoreUnavailable>
  /** Gives the lease up if `owner` holds it (a clean stop: the next instance need not wait for the TTL). */
  readonly releaseArchiverLease: (owner: string) => Effect.Effect<void, StoreUnavailable>
  /**
   * Waits until the writes this store has sent are on enough replicas
   * (REDIS_MIN_REPLICAS_ACK; a no-op when that is 0 or there are no
   * replicas). For answers given without an apply of their own: a repeated
   * commit, a replay found by a read, whose first write may not have been
   * acknowledged.
   */
  readonly awaitReplication: () => Effect.Effect<void, StoreUnavailable>
}>()("balance/Store") {}
