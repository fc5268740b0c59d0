import { Context, Effect, Layer, Redacted, Schema } from "effect"
import { SqlClient, type SqlError } from "effect/sql"
import * as Migrator from "effect/sql/Migrator"
import { PgClient } from "@effect/sql-pg"
import * as Reactivity from "effect/reactivity/Reactivity"
import { type AccountRef, type StoredObject, SYSTEM_ACCOUNTS, systemKey } from "../domain/accounts.ts"
import type { ChainCursor } from "../domain/chainVerification.ts"
import type { EntryType, LedgerEntry } from "../domain/ledgerEntry.ts"
import type { Transfer, TransferType } from "../domain/transfer.ts"
import type { StoreEvent } from "../store/Store.ts"
import { historyMigrations } from "./historyMigrations.ts"

/** PostgreSQL did not answer or refused a statement: history lags, the game goes on. */
export class HistoryUnavailable extends Schema.TaggedError<HistoryUnavailable>()("HistoryUnavailable", {
  operation: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `history store unavailable during ${this.operation}: ${this.reason}`
  }
}

const off = (operation: string) =>
  Effect.fail(new HistoryUnavailable({ operation, reason: "the history tier is off (HISTORY_ARCHIVE=off)" }))

/** A transfer with its place in the order Redis applied it: the stream event's id and its position in it. */
export interface OrderedTransfer {
  readonly transfer: Transfer
  readonly eventId: string
  readonly position: number
}

/** A settled/cancelled pot or a closed reservation, in its final state. */
export interface ClosedObject {
  readonly key: string
  readonly state: StoredObject
  readonly closedAt: number
  /** The version Redis held it at, when the archiver knows it (closed objects never change again). */
  readonly version?: number
}

/** A closed object as the archive keeps it: the version Redis held it at, and when it left Redis. */
export interface ArchivedClosedObject extends Omit<ClosedObject, "version"> {
  /** null: not recorded (archived before retirement existed); recorded before it leaves Redis. */
  readonly version: number | null
  /** When it was retired from Redis (Unix ms); null while Redis still holds it. */
  readonly retiredAt: number | null
}

/** Where a scan of retirable objects stands: the last (closedAt, key) read. */
export interface ClosedPosition {
  readonly closedAt: number
  readonly key: string
}

/** What a write made under the archiver's fencing token did. */
export type FencedWrite = { readonly _tag: "Written" } | { readonly _tag: "Fenced"; readonly token: number }

/** An account whose Redis chain does not continue the archived one, and why. */
export interface ContinuityStop {
  readonly account: AccountRef
  readonly seq: number
  readonly reason: string
}

/** A chain's head as it was seen at `takenAt` (mac: HMAC-SHA-256 when LEDGER_HMAC_KEY is set, else null). */
export interface HeadCheckpoint {
  readonly account: AccountRef
  readonly seq: number
  readonly checksum: string
  readonly balance: number
  readonly takenAt: number
  readonly mac: string | null
}

/** One archiver batch: everything in it commits in one transaction, or nothing does. */
export interface ArchiveBatch {
  /** The archiver's fencing token (from its Redis lease); a lower one than any that wrote before is refused. */
  readonly fencingToken: number
  /** The stream cursor the batch was read from; the commit is refused if the archive moved on meanwhile. */
  readonly fromCursor: string
  /** The cursor after the batch: the id of its last event. */
  readonly toCursor: string
  readonly entries: ReadonlyArray<LedgerEntry>
  readonly transfers: ReadonlyArray<OrderedTransfer>
  readonly closed: ReadonlyArray<ClosedObject>
  readonly stops: ReadonlyArray<ContinuityStop>
  /** Live heads of the batch's accounts, kept in the same transaction (one commit per batch, not two). */
  readonly checkpoints?: ReadonlyArray<HeadCheckpoint>
}

export type CommitOutcome =
  | { readonly _tag: "Committed" }
  /** A newer archiver (higher token) has written: this one must stop. Nothing written. */
  | { readonly _tag: "Fenced"; readonly token: number }
  /** The cursor is no longer `fromCursor` (another archiver committed first). Nothing written. */
  | { readonly _tag: "CursorMoved"; readonly cursor: string }

export interface ArchiveState {
  readonly cursor: string
  readonly fencingToken: number
}

/** What the archive holds, for its status page (src/archive/ArchiveStatus.ts). */
/** A side of an archived transfer whose entry says otherwise (`recorded` null: no entry names it there). */
export interface TransferDisagreement {
  readonly transferId: string
  readonly account: AccountRef
  readonly expected: number
  readonly recorded: number | null
}

export interface ArchiveSummary {
  readonly cursor: string
  readonly archivedEntries: number
  readonly archivedTransfers: number
  /** When the last batch committed (epoch ms); null before the first. */
  readonly lastBatchAt: number | null
  /** The accounts the archiver stopped for (archive_stops), oldest first. */
  readonly stops: ReadonlyArray<ContinuityStop & { readonly stoppedAt: number }>
}

/**
 * The history tier (DESIGN 9): every ledger entry and transfer ever made,
 * closed pots and reservations, head checkpoints, the archiver's cursor. Only
 * the archiver writes; reads serve history pages and verification.
 */
export class HistoryStore extends Context.Service<HistoryStore, {
  readonly state: () => Effect.Effect<ArchiveState, HistoryUnavailable>
  /** This archive's identity (given once, by migration 0004), which the Redis it archives remembers. */
  readonly archiveId: () => Effect.Effect<string, HistoryUnavailable>
  /** Where each account's archived chain ends (accounts without archived entries are absent). */
  readonly heads: (accounts: ReadonlyArray<AccountRef>) => Effect.Effect<ReadonlyMap<AccountRef, ChainCursor>, HistoryUnavailable>
  /** Archived checksums of the given (account, seq) pairs, keyed `account#seq`. */
  readonly checksums: (
    at: ReadonlyArray<{ readonly account: AccountRef; readonly seq: number }>
  ) => Effect.Effect<ReadonlyMap<string, string>, HistoryUnavailable>
  /** Which of these accounts the archiver has stopped for. */
  readonly stopped: (accounts: ReadonlyArray<AccountRef>) => Effect.Effect<ReadonlySet<AccountRef>, HistoryUnavailable>
  readonly commit: (batch: ArchiveBatch) => Effect.Effect<CommitOutcome, HistoryUnavailable>
  /** Archived entries of one account with seq > afterSeq, ascending, at most `limit`. */
  readonly entries: (
    account: AccountRef,
    afterSeq: number,
    limit: number
  ) => Effect.Effect<ReadonlyArray<LedgerEntry>, HistoryUnavailable>
  /**
   * Archived transfers touching one account, in stream order, ascending. Reads the table whole (no
   * index by account since migration 0006; pages go through account_transfers, `transfersBefore`):
   * for tests and offline checks, never a request's path.
   */
  readonly transfers: (account: AccountRef) => Effect.Effect<ReadonlyArray<OrderedTransfer>, HistoryUnavailable>
  /**
   * Records where transfers sit in each account's Redis list (index 0 = the account's first
   * transfer), before the archiver trims them from Redis. Idempotent.
   */
  readonly recordPositions: (
    rows: ReadonlyArray<{ readonly account: AccountRef; readonly idx: number; readonly transferId: string }>
  ) => Effect.Effect<void, HistoryUnavailable>
  /** An account's archived transfers with index < beforeIdx, newest first, at most `limit`, with their index. */
  readonly transfersBefore: (
    account: AccountRef,
    beforeIdx: number,
    limit: number
  ) => Effect.Effect<ReadonlyArray<{ readonly idx: number; readonly transfer: Transfer }>, HistoryUnavailable>
  /**
   * Archived events (the transfers of one apply each; their entries are read per account) with
   * id <= throughId and, when given, < beforeId, newest first, at most `limit`.
   */
  readonly eventsBefore: (
    beforeId: string | null,
    throughId: string,
    limit: number
  ) => Effect.Effect<ReadonlyArray<StoreEvent>, HistoryUnavailable>
  readonly closedObject: (key: string) => Effect.Effect<ArchivedClosedObject | null, HistoryUnavailable>
  /** The closed objects the archive holds among `keys`. */
  readonly closedObjects: (keys: ReadonlyArray<string>) => Effect.Effect<ReadonlyMap<string, ArchivedClosedObject>, HistoryUnavailable>
  /**
   * Closed objects still in Redis (not retired) that closed before `closedBefore`, in (closedAt, key)
   * order after `after`, at most `limit`: what retirement looks at.
   */
  readonly retirable: (
    closedBefore: number,
    after: ClosedPosition | null,
    limit: number
  ) => Effect.Effect<ReadonlyArray<ArchivedClosedObject>, HistoryUnavailable>
  /**
   * How many transfer positions the archive holds per account (account_transfers), and the index
   * after the highest: equal when they are 0..n-1 with no gap. Accounts without any are absent.
   */
  readonly transferPositions: (
    accounts: ReadonlyArray<AccountRef>
  ) => Effect.Effect<ReadonlyMap<AccountRef, { readonly count: number; readonly next: number }>, HistoryUnavailable>
  /**
   * Transfer positions (account_transfers) whose transfer the archive does not hold, up to `limit`,
   * in (account, idx) order: none unless rows were removed behind the archiver's back, since it
   * records a position only after the batch holding its transfer committed (no foreign key checks
   * it since migration 0006). A history page would silently skip such a position. Reads both
   * tables whole: for the full verification pass.
   */
  readonly positionsWithoutTransfer: (
    limit: number
  ) => Effect.Effect<ReadonlyArray<{ readonly account: AccountRef; readonly idx: number; readonly transferId: string }>, HistoryUnavailable>
  /**
   * Archived transfers that disagree with the ledger entries they made, up to `limit`, in transfer id
   * order: each chained side (not a system account, not an account the archiver stopped for) must
   * have one entry naming the transfer, of -amount on the `from` side and +amount on the `to` side.
   * Entries are signed (their checksums chain); transfer rows are not, so this is what finds one
   * edited in the archive. Reads both tables whole: for the full verification pass.
   */
  readonly transfersDisagreeingWithEntries: (
    limit: number
  ) => Effect.Effect<ReadonlyArray<TransferDisagreement>, HistoryUnavailable>
  /**
   * Records the versions Redis holds closed objects at (where none is recorded yet), before
   * retirement removes them; refused when a newer archiver (higher token) has written.
   */
  readonly recordVersions: (
    fencingToken: number,
    rows: ReadonlyArray<{ readonly key: string; readonly version: number }>
  ) => Effect.Effect<FencedWrite, HistoryUnavailable>
  /** Marks closed objects as retired from Redis at `at`; refused when a newer archiver has written. */
  readonly markRetired: (fencingToken: number, keys: ReadonlyArray<string>, at: number) => Effect.Effect<FencedWrite, HistoryUnavailable>
  /** Retired pots (closed accounts Redis no longer lists) in key order, for verification. */
  readonly retiredPots: (
    cursor: string | null,
    limit: number
  ) => Effect.Effect<{ readonly items: ReadonlyArray<AccountRef>; readonly nextCursor: string | null }, HistoryUnavailable>
  /** Keeps heads as seen now (idempotent per account and seq). */
  readonly recordCheckpoints: (checkpoints: ReadonlyArray<HeadCheckpoint>) => Effect.Effect<void, HistoryUnavailable>
  /** The checkpoint with the highest seq of an account, if any. */
  readonly latestCheckpoint: (account: AccountRef) => Effect.Effect<HeadCheckpoint | null, HistoryUnavailable>
  /**
   * Runs `read` in one read-only REPEATABLE READ transaction: every statement it makes on the
   * client it is given sees the archive as one committed state (each archiver batch moves the
   * cursor and adds its rows in one transaction, so the rows are exactly those through the cursor
   * it reads). For reports that aggregate in SQL (src/economy/archiveEconomyQueries.ts); `read`
   * may do other work meanwhile (the transaction holds a pool connection while it runs).
   */
  readonly snapshot: <A, E, R>(
    read: (sql: SqlClient.SqlClient) => Effect.Effect<A, E | SqlError.SqlError, R>
  ) => Effect.Effect<A, Exclude<E, SqlError.SqlError> | HistoryUnavailable, R>
  /** Rows held, the last commit and the continuity stops (counts are exact: count(*) on each table). */
  readonly summary: () => Effect.Effect<ArchiveSummary, HistoryUnavailable>
  /** False for the stand-in of HISTORY_ARCHIVE=off, whose every call fails. */
  readonly enabled: boolean
  readonly ping: () => Effect.Effect<void, HistoryUnavailable>
}>()("balance/HistoryStore") {
  /** The history store on the PostgreSQL of the SqlClient in context; migrations run first. */
  static readonly fromSqlClient = Layer.effect(HistoryStore, Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    yield* migrate
    return makePgHistoryStore(sql)
  }))

  /** HISTORY_ARCHIVE=off: no history tier; `enabled` is false and every call says so (nothing calls it then). */
  static readonly disabled = Layer.succeed(HistoryStore, HistoryStore.of({
    state: () => off("state"),
    archiveId: () => off("archiveId"),
    heads: () => off("heads"),
    checksums: () => off("checksums"),
    stopped: () => off("stopped"),
    commit: () => off("commit"),
    entries: () => off("entries"),
    transfers: () => off("transfers"),
    recordPositions: () => off("recordPositions"),
    transfersBefore: () => off("transfersBefore"),
    eventsBefore: () => off("eventsBefore"),
    closedObject: () => off("closedObject"),
    closedObjects: () => off("closedObjects"),
    retirable: () => off("retirable"),
    transferPositions: () => off("transferPositions"),
    positionsWithoutTransfer: () => off("positionsWithoutTransfer"),
    transfersDisagreeingWithEntries: () => off("transfersDisagreeingWithEntries"),
    recordVersions: () => off("recordVersions"),
    markRetired: () => off("markRetired"),
    retiredPots: () => off("retiredPots"),
    recordCheckpoints: () => off("recordCheckpoints"),
    latestCheckpoint: () => off("latestCheckpoint"),
    summary: () => off("summary"),
    snapshot: () => off("snapshot"),
    enabled: false,
    ping: () => off("ping")
  }))

  /**
   * The history store on the PostgreSQL at `url` (a pool of `maxConnections`, `password` when the URL
   * has none); migrations run first.
   */
  static readonly layer = (url: string, maxConnections = 4, password?: Redacted.Redacted) =>
    Layer.effect(HistoryStore, Effect.gen(function*() {
      const sql = yield* PgClient.make({
        url: Redacted.make(url),
        ...(password === undefined ? {} : { password }),
        maxConnections,
        connectTimeout: "5 seconds",
        applicationName: "balance-service"
      }).pipe(Effect.mapError(unavailable("connect")))
      yield* Effect.provideService(migrate, SqlClient.SqlClient, sql)
      return makePgHistoryStore(sql)
    })).pipe(Layer.provide(Reactivity.layer))
}

const reasonOf = (e: unknown): string => {
  if (e instanceof Error) {
    const cause = (e as { cause?: unknown }).cause
    return cause instanceof Error && cause.message !== e.message ? `${e.message}: ${cause.message}` : e.message
  }
  return String(e)
}

const unavailable = (operation: string) => (e: unknown) => new HistoryUnavailable({ operation, reason: reasonOf(e) })

/**
 * Migrations at start. Two instances starting together both try; the Migrator's own table makes
 * the loser fail with Locked (or a duplicate key): it waits and tries again, then finds nothing to do.
 */
const migrate = Migrator.make({})({ loader: Migrator.fromRecord(historyMigrations), table: "history_migrations" }).pipe(
  Effect.tapError((e) => Effect.logWarning("history migrations did not run; trying again").pipe(Effect.annotateLogs({ error: reasonOf(e) }))),
  Effect.retry({ times: 5, schedule: undefined }),
  Effect.mapError(unavailable("migrate")),
  Effect.tap((applied) =>
    applied.length > 0
      ? Effect.logInfo("history migrations applied").pipe(Effect.annotateLogs({ migrations: applied.map(([id, name]) => `${id}_${name}`).join(",") }))
      : Effect.void
  )
)

/** Stream ids are `<ms>-<seq>`; the memory store's are the same shape. */
export const parseEventId = (id: string): { readonly ms: number; readonly seq: number } => {
  const [ms, seq] = id.split("-")
  return { ms: Number(ms), seq: Number(seq ?? 0) }
}

/** bigint columns arrive as BigInt; chips and times are safe integers by construction. */
const num = (v: unknown): number => (typeof v === "bigint" ? Number(v) : Number(v))

interface EntryRow {
  readonly account: string
  readonly seq: bigint
  readonly entry_id: string
  readonly transfer_id: string
  readonly type: string
  readonly amount: bigint
  readonly balance_before: bigint
  readonly balance_after: bigint
  readonly held_delta: bigint
  readonly held_after: bigint
  readonly parent: string
  readonly metadata: Record<string, string>
  readonly ts: bigint
  readonly previous_checksum: string
  readonly checksum: string
}

const entryFromRow = (r: EntryRow): LedgerEntry => ({
  entryId: r.entry_id,
  accountId: r.account,
  seq: num(r.seq),
  transferId: r.transfer_id,
  type: r.type as EntryType,
  amount: num(r.amount),
  balanceBefore: num(r.balance_before),
  balanceAfter: num(r.balance_after),
  heldDelta: num(r.held_delta),
  heldAfter: num(r.held_after),
  parent: r.parent,
  metadata: r.metadata,
  timestamp: num(r.ts),
  previousChecksum: r.previous_checksum,
  checksum: r.checksum
})

interface TransferRow {
  readonly transfer_id: string
  readonly type: string
  readonly from_account: string
  readonly to_account: string
  readonly amount: bigint
  readonly parent: string
  readonly metadata: Record<string, string>
  readonly ts: bigint
  readonly event_ms: bigint
  readonly event_seq: bigint
  readonly position: number
}

const transferFromRow = (r: TransferRow): Transfer => ({
  transferId: r.transfer_id,
  type: r.type as TransferType,
  from: r.from_account,
  to: r.to_account,
  amount: num(r.amount),
  parent: r.parent,
  metadata: r.metadata,
  timestamp: num(r.ts)
})

/** Transfers in stream order, one event per stream event id. */
export const groupTransfers = (rows: ReadonlyArray<{ readonly eventId: string; readonly transfer: Transfer }>): Array<StoreEvent> => {
  const events: Array<StoreEvent & { transfers: Array<Transfer> }> = []
  for (const { eventId, transfer } of rows) {
    const last = events[events.length - 1]
    if (last?.id === eventId) last.transfers.push(transfer)
    else events.push({ id: eventId, entries: [], transfers: [transfer] })
  }
  return events
}

const eventIdOf = (r: { readonly event_ms: bigint; readonly event_seq: bigint }) => `${num(r.event_ms)}-${num(r.event_seq)}`

interface ClosedRow {
  readonly object_key: string
  readonly state: StoredObject
  readonly closed_at: bigint
  readonly version: bigint | null
  readonly retired_at: bigint | null
}

const closedFromRow = (r: ClosedRow): ArchivedClosedObject => ({
  key: r.object_key,
  state: r.state,
  closedAt: num(r.closed_at),
  version: r.version === null ? null : num(r.version),
  retiredAt: r.retired_at === null ? null : num(r.retired_at)
})

const closedRow = (c: ClosedObject) => ({
  object_key: c.key,
  kind: c.state.kind,
  status: c.state.kind === "pot" || c.state.kind === "reservation" ? c.state.status : "",
  state: JSON.stringify(c.state),
  closed_at: c.closedAt,
  version: c.version ?? null
})

/** Rows per INSERT: PostgreSQL takes at most 65,535 parameters per statement (entries have 15 columns). */
const CHUNK = 2_000

const chunks = <A>(items: ReadonlyArray<A>): Array<readonly [A, ...Array<A>]> => {
  const out: Array<readonly [A, ...Array<A>]> = []
  for (let i = 0; i < items.length; i += CHUNK) out.push(items.slice(i, i + CHUNK) as unknown as readonly [A, ...Array<A>])
  return out
}

export const makePgHistoryStore = (sql: SqlClient.SqlClient): HistoryStore["Service"] => {
  /**
   * Rows as one array parameter per column, expanded by unnest: a batch is one statement with 15
   * parameters instead of 15 per row (PostgreSQL parses, plans and binds it far faster, and no
   * 65,535-parameter limit chunks it), measured with scripts/bench-archive.ts.
   */
  const column = <A, B>(rows: ReadonlyArray<A>, f: (a: A) => B): Array<B> => rows.map(f)
  // Numbers go as their decimal text (the driver failed to encode a number array holding
  // MAX_SAFE_INTEGER: "Failed to encode query"); PostgreSQL parses them into the cast's bigint[].

  const insertEntries = (entries: ReadonlyArray<LedgerEntry>) => sql`
    insert into ledger_entries (account, seq, entry_id, transfer_id, type, amount, balance_before, balance_after,
      held_delta, held_after, parent, metadata, ts, previous_checksum, checksum)
    select account, seq, entry_id, transfer_id, type, amount, balance_before, balance_after,
      held_delta, held_after, parent, metadata::jsonb, ts, previous_checksum, checksum
    from unnest(
      ${column(entries, (e) => e.accountId)}::text[], ${column(entries, (e) => String(e.seq))}::bigint[],
      ${column(entries, (e) => e.entryId)}::text[], ${column(entries, (e) => e.transferId)}::text[],
      ${column(entries, (e) => e.type)}::text[], ${column(entries, (e) => String(e.amount))}::bigint[],
      ${column(entries, (e) => String(e.balanceBefore))}::bigint[], ${column(entries, (e) => String(e.balanceAfter))}::bigint[],
      ${column(entries, (e) => String(e.heldDelta))}::bigint[], ${column(entries, (e) => String(e.heldAfter))}::bigint[],
      ${column(entries, (e) => e.parent)}::text[], ${column(entries, (e) => JSON.stringify(e.metadata))}::text[],
      ${column(entries, (e) => String(e.timestamp))}::bigint[], ${column(entries, (e) => e.previousChecksum)}::text[],
      ${column(entries, (e) => e.checksum)}::text[]
    ) as r(account, seq, entry_id, transfer_id, type, amount, balance_before, balance_after,
      held_delta, held_after, parent, metadata, ts, previous_checksum, checksum)
    on conflict (account, seq) do nothing`

  const insertCheckpoints = Effect.fnUntraced(function*(checkpoints: ReadonlyArray<HeadCheckpoint>) {
    for (const rows of chunks(checkpoints.map((c) => ({
      account: c.account, seq: c.seq, checksum: c.checksum, balance: c.balance, taken_at: c.takenAt, mac: c.mac
    })))) {
      yield* sql`insert into head_checkpoints ${sql.insert(rows)} on conflict (account, seq) do nothing`
    }
  })

  const insertTransfers = (transfers: ReadonlyArray<OrderedTransfer>) => {
    const events = transfers.map((t) => parseEventId(t.eventId))
    return sql`
      insert into transfers (transfer_id, type, from_account, to_account, amount, parent, metadata, ts, event_ms, event_seq, position)
      select transfer_id, type, from_account, to_account, amount, parent, metadata::jsonb, ts, event_ms, event_seq, position
      from unnest(
        ${column(transfers, (t) => t.transfer.transferId)}::text[], ${column(transfers, (t) => t.transfer.type)}::text[],
        ${column(transfers, (t) => t.transfer.from)}::text[], ${column(transfers, (t) => t.transfer.to)}::text[],
        ${column(transfers, (t) => String(t.transfer.amount))}::bigint[], ${column(transfers, (t) => t.transfer.parent)}::text[],
        ${column(transfers, (t) => JSON.stringify(t.transfer.metadata))}::text[], ${column(transfers, (t) => String(t.transfer.timestamp))}::bigint[],
        ${column(events, (e) => String(e.ms))}::bigint[], ${column(events, (e) => String(e.seq))}::bigint[],
        ${column(transfers, (t) => String(t.position))}::int[]
      ) as r(transfer_id, type, from_account, to_account, amount, parent, metadata, ts, event_ms, event_seq, position)
      on conflict (transfer_id) do nothing`
  }

  const state = Effect.fn("HistoryStore.state")(function*() {
    const rows = yield* sql<{ stream_cursor: string; fencing_token: bigint }>`
      select stream_cursor, fencing_token from archive_state where id = 1`
    const row = rows[0]
    return { cursor: row?.stream_cursor ?? "0", fencingToken: num(row?.fencing_token ?? 0) }
  }, Effect.mapError(unavailable("state")))

  const archiveId = Effect.fn("HistoryStore.archiveId")(function*() {
    const rows = yield* sql<{ archive_id: string }>`select archive_id from archive_state where id = 1`
    const row = rows[0]
    if (row === undefined) return yield* new HistoryUnavailable({ operation: "archiveId", reason: "archive_state has no row" })
    return row.archive_id
  }, Effect.mapError((e) => e instanceof HistoryUnavailable ? e : unavailable("archiveId")(e)))

  const heads = Effect.fn("HistoryStore.heads")(function*(accounts: ReadonlyArray<AccountRef>) {
    const result = new Map<AccountRef, ChainCursor>()
    if (accounts.length === 0) return result
    // One index probe per account (the primary key, backwards), not a scan of each chain.
    const rows = yield* sql<{ account: string; seq: bigint; checksum: string; balance_after: bigint; held_after: bigint }>`
      select e.account, e.seq, e.checksum, e.balance_after, e.held_after
      from unnest(${[...accounts]}::text[]) as a(account)
      cross join lateral (
        select account, seq, checksum, balance_after, held_after from ledger_entries
        where account = a.account order by seq desc limit 1
      ) e`
    for (const r of rows) {
      result.set(r.account, { seq: num(r.seq), checksum: r.checksum, balance: num(r.balance_after), held: num(r.held_after) })
    }
    return result
  }, Effect.mapError(unavailable("heads")))

  const checksums = Effect.fn("HistoryStore.checksums")(function*(
    at: ReadonlyArray<{ readonly account: AccountRef; readonly seq: number }>
  ) {
    const result = new Map<string, string>()
    if (at.length === 0) return result
    const rows = yield* sql<{ account: string; seq: bigint; checksum: string }>`
      select e.account, e.seq, e.checksum
      from unnest(${at.map((a) => a.account)}::text[], ${at.map((a) => a.seq)}::bigint[]) as k(account, seq)
      join ledger_entries e on e.account = k.account and e.seq = k.seq`
    for (const r of rows) result.set(`${r.account}#${num(r.seq)}`, r.checksum)
    return result
  }, Effect.mapError(unavailable("checksums")))

  const stopped = Effect.fn("HistoryStore.stopped")(function*(accounts: ReadonlyArray<AccountRef>) {
    if (accounts.length === 0) return new Set<AccountRef>()
    const rows = yield* sql<{ account: string }>`select account from archive_stops where account = any(${[...accounts]}::text[])`
    return new Set(rows.map((r) => r.account))
  }, Effect.mapError(unavailable("stopped")))

  const commit = Effect.fn("HistoryStore.commit")(function*(batch: ArchiveBatch) {
    const write = Effect.gen(function*() {
      // First, in the transaction: the row lock on archive_state serialises archivers, and the
      // token and cursor checks decide before anything is written.
      const moved = yield* sql<{ id: number }>`
        update archive_state
        set fencing_token = ${batch.fencingToken}, stream_cursor = ${batch.toCursor}, updated_at = now()
        where id = 1 and fencing_token <= ${batch.fencingToken} and stream_cursor = ${batch.fromCursor}
        returning id`
      if (moved.length === 0) {
        const current = yield* state()
        return current.fencingToken > batch.fencingToken
          ? { _tag: "Fenced", token: current.fencingToken } as const
          : { _tag: "CursorMoved", cursor: current.cursor } as const
      }
      if (batch.entries.length > 0) yield* insertEntries(batch.entries)
      if (batch.transfers.length > 0) yield* insertTransfers(batch.transfers)
      for (const rows of chunks(batch.closed.map(closedRow))) {
        yield* sql`insert into closed_objects ${sql.insert(rows)} on conflict (object_key) do nothing`
      }
      for (const rows of chunks(batch.stops.map((s) => ({ account: s.account, seq: s.seq, reason: s.reason })))) {
        yield* sql`insert into archive_stops ${sql.insert(rows)} on conflict (account) do nothing`
      }
      yield* insertCheckpoints(batch.checkpoints ?? [])
      return { _tag: "Committed" } as const
    })
    return yield* sql.withTransaction(write)
  }, Effect.mapError(unavailable("commit")))

  const entries = Effect.fn("HistoryStore.entries")(function*(account: AccountRef, afterSeq: number, limit: number) {
    if (limit <= 0) return []
    const rows = yield* sql<EntryRow>`
      select * from ledger_entries where account = ${account} and seq > ${Math.max(0, Math.floor(afterSeq))}
      order by seq limit ${Math.floor(limit)}`
    return rows.map(entryFromRow)
  }, Effect.mapError(unavailable("entries")))

  const transfers = Effect.fn("HistoryStore.transfers")(function*(account: AccountRef) {
    const rows = yield* sql<TransferRow>`
      select * from transfers where from_account = ${account} or to_account = ${account}
      order by event_ms, event_seq, position`
    return rows.map((r): OrderedTransfer => ({ transfer: transferFromRow(r), eventId: eventIdOf(r), position: r.position }))
  }, Effect.mapError(unavailable("transfers")))

  const recordPositions = Effect.fn("HistoryStore.recordPositions")(function*(
    rows: ReadonlyArray<{ readonly account: AccountRef; readonly idx: number; readonly transferId: string }>
  ) {
    if (rows.length === 0) return
    // Positions at or above the list's trimmed count are provisional until trim.lua checked them
    // (a skipped trim leaves them unconfirmed): the next attempt's answer replaces them.
    yield* sql`insert into account_transfers (account, idx, transfer_id)
      select * from unnest(${column(rows, (r) => r.account)}::text[], ${column(rows, (r) => String(r.idx))}::bigint[], ${column(rows, (r) => r.transferId)}::text[])
      on conflict (account, idx) do update set transfer_id = excluded.transfer_id`
  }, Effect.mapError(unavailable("recordPositions")))

  const transfersBefore = Effect.fn("HistoryStore.transfersBefore")(function*(account: AccountRef, beforeIdx: number, limit: number) {
    if (limit <= 0 || beforeIdx <= 0) return []
    const rows = yield* sql<TransferRow & { readonly idx: bigint }>`
      select a.idx, t.* from account_transfers a join transfers t using (transfer_id)
      where a.account = ${account} and a.idx < ${Math.floor(beforeIdx)}
      order by a.idx desc limit ${Math.floor(limit)}`
    return rows.map((r) => ({ idx: num(r.idx), transfer: transferFromRow(r) }))
  }, Effect.mapError(unavailable("transfersBefore")))

  const eventsBefore = Effect.fn("HistoryStore.eventsBefore")(function*(beforeId: string | null, throughId: string, limit: number) {
    if (limit <= 0) return []
    const through = parseEventId(throughId)
    const before = beforeId === null ? null : parseEventId(beforeId)
    const rows = yield* sql<TransferRow>`
      with ev as (
        select distinct event_ms, event_seq from transfers
        where (event_ms, event_seq) <= (${through.ms}, ${through.seq})
          ${before === null ? sql`` : sql`and (event_ms, event_seq) < (${before.ms}, ${before.seq})`}
        order by event_ms desc, event_seq desc limit ${Math.floor(limit)}
      )
      select t.* from transfers t join ev using (event_ms, event_seq)
      order by t.event_ms desc, t.event_seq desc, t.position`
    return groupTransfers(rows.map((r) => ({ eventId: eventIdOf(r), transfer: transferFromRow(r) })))
  }, Effect.mapError(unavailable("eventsBefore")))

  const closedObject = Effect.fn("HistoryStore.closedObject")(function*(key: string) {
    const rows = yield* sql<ClosedRow>`
      select object_key, state, closed_at, version, retired_at from closed_objects where object_key = ${key}`
    const r = rows[0]
    return r === undefined ? null : closedFromRow(r)
  }, Effect.mapError(unavailable("closedObject")))

  const closedObjects = Effect.fn("HistoryStore.closedObjects")(function*(keys: ReadonlyArray<string>) {
    const result = new Map<string, ArchivedClosedObject>()
    if (keys.length === 0) return result
    const rows = yield* sql<ClosedRow>`
      select object_key, state, closed_at, version, retired_at from closed_objects where object_key = any(${[...keys]}::text[])`
    for (const r of rows) result.set(r.object_key, closedFromRow(r))
    return result
  }, Effect.mapError(unavailable("closedObjects")))

  const retirable = Effect.fn("HistoryStore.retirable")(function*(closedBefore: number, after: ClosedPosition | null, limit: number) {
    if (limit <= 0) return []
    const rows = yield* sql<ClosedRow>`
      select object_key, state, closed_at, version, retired_at from closed_objects
      where retired_at is null and closed_at < ${closedBefore}
        ${after === null ? sql`` : sql`and (closed_at, object_key) > (${after.closedAt}, ${after.key})`}
      order by closed_at, object_key limit ${Math.floor(limit)}`
    return rows.map(closedFromRow)
  }, Effect.mapError(unavailable("retirable")))

  const transferPositions = Effect.fn("HistoryStore.transferPositions")(function*(accounts: ReadonlyArray<AccountRef>) {
    const result = new Map<AccountRef, { readonly count: number; readonly next: number }>()
    if (accounts.length === 0) return result
    const rows = yield* sql<{ account: string; n: bigint; top: bigint }>`
      select account, count(*) as n, max(idx) as top from account_transfers
      where account = any(${[...accounts]}::text[]) group by account`
    for (const r of rows) result.set(r.account, { count: num(r.n), next: num(r.top) + 1 })
    return result
  }, Effect.mapError(unavailable("transferPositions")))

  const positionsWithoutTransfer = Effect.fn("HistoryStore.positionsWithoutTransfer")(function*(limit: number) {
    const rows = yield* sql<{ account: string; idx: bigint; transfer_id: string }>`
      select a.account, a.idx, a.transfer_id from account_transfers a
      where not exists (select 1 from transfers t where t.transfer_id = a.transfer_id)
      order by a.account, a.idx limit ${Math.floor(limit)}`
    return rows.map((r) => ({ account: r.account, idx: num(r.idx), transferId: r.transfer_id }))
  }, Effect.mapError(unavailable("positionsWithoutTransfer")))

  const transfersDisagreeingWithEntries = Effect.fn("HistoryStore.transfersDisagreeingWithEntries")(function*(limit: number) {
    // One pass over each table, joined by hash: ledger_entries has no index on transfer_id (0006), and
    // a nested loop over its (account, seq) key would read an account's whole chain per transfer.
    const rows = yield* sql.withTransaction(Effect.andThen(sql`set local enable_nestloop = off`, sql<{ transfer_id: string; account: string; expected: bigint; recorded: bigint | null }>`
      select t.transfer_id, s.account, s.expected, e.amount as recorded
      from transfers t
      cross join lateral (values (t.from_account, -t.amount), (t.to_account, t.amount)) as s(account, expected)
      left join ledger_entries e on e.account = s.account and e.transfer_id = t.transfer_id
      where s.account <> all(${SYSTEM_ACCOUNTS.map(systemKey)}::text[])
        and not exists (select 1 from archive_stops st where st.account = s.account)
        and e.amount is distinct from s.expected
      order by t.transfer_id, s.account limit ${Math.floor(limit)}`))
    return rows.map((r): TransferDisagreement => ({
      transferId: r.transfer_id,
      account: r.account,
      expected: num(r.expected),
      recorded: r.recorded === null ? null : num(r.recorded)
    }))
  }, Effect.mapError(unavailable("transfersDisagreeingWithEntries")))

  /** Runs `write` in a transaction that first checks no newer archiver (higher token) has written. */
  const fenced = (fencingToken: number, write: Effect.Effect<unknown, SqlError.SqlError>) =>
    sql.withTransaction(Effect.gen(function*() {
      const rows = yield* sql<{ fencing_token: bigint }>`select fencing_token from archive_state where id = 1 for share`
      const token = num(rows[0]?.fencing_token ?? 0)
      if (token > fencingToken) return { _tag: "Fenced", token } as const
      yield* write
      return { _tag: "Written" } as const
    }))

  const recordVersions = Effect.fn("HistoryStore.recordVersions")(function*(
    fencingToken: number,
    rows: ReadonlyArray<{ readonly key: string; readonly version: number }>
  ) {
    if (rows.length === 0) return { _tag: "Written" } as const
    return yield* fenced(fencingToken, sql`
      update closed_objects c set version = r.version
      from unnest(${column(rows, (r) => r.key)}::text[], ${column(rows, (r) => String(r.version))}::bigint[]) as r(object_key, version)
      where c.object_key = r.object_key and c.version is null`)
  }, Effect.mapError(unavailable("recordVersions")))

  const markRetired = Effect.fn("HistoryStore.markRetired")(function*(fencingToken: number, keys: ReadonlyArray<string>, at: number) {
    if (keys.length === 0) return { _tag: "Written" } as const
    return yield* fenced(fencingToken, sql`
      update closed_objects set retired_at = ${at} where object_key = any(${[...keys]}::text[]) and retired_at is null`)
  }, Effect.mapError(unavailable("markRetired")))

  const retiredPots = Effect.fn("HistoryStore.retiredPots")(function*(cursor: string | null, limit: number) {
    if (limit <= 0) return { items: [], nextCursor: null }
    const n = Math.floor(limit)
    const rows = yield* sql<{ object_key: string }>`
      select object_key from closed_objects where retired_at is not null and kind = 'pot'
        ${cursor === null ? sql`` : sql`and object_key > ${cursor}`}
      order by object_key limit ${n + 1}`
    const items = rows.slice(0, n).map((r) => r.object_key)
    return { items, nextCursor: rows.length > n ? items[items.length - 1]! : null }
  }, Effect.mapError(unavailable("retiredPots")))

  const recordCheckpoints = Effect.fn("HistoryStore.recordCheckpoints")(function*(checkpoints: ReadonlyArray<HeadCheckpoint>) {
    yield* insertCheckpoints(checkpoints)
  }, Effect.mapError(unavailable("recordCheckpoints")))

  const latestCheckpoint = Effect.fn("HistoryStore.latestCheckpoint")(function*(account: AccountRef) {
    const rows = yield* sql<{ seq: bigint; checksum: string; balance: bigint; taken_at: bigint; mac: string | null }>`
      select seq, checksum, balance, taken_at, mac from head_checkpoints where account = ${account} order by seq desc limit 1`
    const r = rows[0]
    return r === undefined
      ? null
      : { account, seq: num(r.seq), checksum: r.checksum, balance: num(r.balance), takenAt: num(r.taken_at), mac: r.mac }
  }, Effect.mapError(unavailable("latestCheckpoint")))

  const summary = Effect.fn("HistoryStore.summary")(function*() {
    // The counts are kept by triggers (migration 0007): one row read, whatever the archive's size.
    const [counts] = yield* sql<{ cursor: string; updated_at: Date; entries: bigint; transfers: bigint }>`
      select stream_cursor as cursor, updated_at, archived_entries as entries, archived_transfers as transfers
      from archive_state where id = 1`
    const stops = yield* sql<{ account: string; seq: bigint; reason: string; stopped_at: Date }>`
      select account, seq, reason, stopped_at from archive_stops order by stopped_at, account`
    const cursor = counts?.cursor ?? "0"
    return {
      cursor,
      archivedEntries: num(counts?.entries ?? 0),
      archivedTransfers: num(counts?.transfers ?? 0),
      // The migration writes the row with cursor '0'; only a commit moves it.
      lastBatchAt: cursor === "0" || counts === undefined ? null : new Date(counts.updated_at).getTime(),
      stops: stops.map((r) => ({ account: r.account, seq: num(r.seq), reason: r.reason, stoppedAt: new Date(r.stopped_at).getTime() }))
    } satisfies ArchiveSummary
  }, Effect.mapError(unavailable("summary")))

  const snapshot = <A, E, R>(read: (sql: SqlClient.SqlClient) => Effect.Effect<A, E | SqlError.SqlError, R>) =>
    sql.withTransaction(read(sql)).pipe(
      Effect.provideService(SqlClient.BeginTransaction, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"),
      Effect.catchTag("SqlError", (e) => Effect.fail(unavailable("snapshot")(e))),
      Effect.withSpan("HistoryStore.snapshot")
    ) as Effect.Effect<A, Exclude<E, SqlError.SqlError> | HistoryUnavailable, R>

  const ping = Effect.fn("HistoryStore.ping")(function*() {
    yield* sql`select 1`
  }, Effect.mapError(unavailable("ping")))

  return HistoryStore.of({
    state,
    archiveId,
    heads,
    checksums,
    stopped,
    commit,
    entries,
    transfers,
    recordPositions,
    transfersBefore,
    eventsBefore,
    closedObject,
    closedObjects,
    retirable,
    transferPositions,
    positionsWithoutTransfer,
    transfersDisagreeingWithEntries,
    recordVersions,
    markRetired,
    retiredPots,
    recordCheckpoints,
    latestCheckpoint,
    summary,
    snapshot,
    enabled: true,
    ping
  })
}
