import { Effect } from "effect"
import { SqlClient } from "effect/sql"

/**
 * The history store's schema, one migration per change, applied in id order
 * at start (effect/sql Migrator; applied ids are kept in `history_migrations`).
 * A migration never changes once released: add the next one.
 *
 * Amounts and balances are bigint (chips are safe integers), times are Unix
 * ms as bigint like everywhere else in the service, metadata and object
 * states are jsonb (the checksum's canonical encoding sorts metadata keys, so
 * jsonb's key order does not matter).
 */
const history0001 = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  // Every ledger entry ever written, exactly as signed; one hash chain per account.
  yield* sql`
    create table ledger_entries (
      account           text   not null,
      seq               bigint not null check (seq >= 1),
      entry_id          text   not null,
      transfer_id       text   not null,
      type              text   not null,
      amount            bigint not null,
      balance_before    bigint not null,
      balance_after     bigint not null,
      held_delta        bigint not null,
      held_after        bigint not null,
      parent            text   not null,
      metadata          jsonb  not null,
      ts                bigint not null,
      previous_checksum text   not null,
      checksum          text   not null,
      archived_at       timestamptz not null default now(),
      primary key (account, seq)
    )`
  yield* sql`create index ledger_entries_transfer on ledger_entries (transfer_id)`
  // Every transfer, in the order Redis applied them: (event_ms, event_seq) is the id of the
  // apply's event in the Redis stream, position its place in that apply.
  yield* sql`
    create table transfers (
      transfer_id  text   primary key,
      type         text   not null,
      from_account text   not null,
      to_account   text   not null,
      amount       bigint not null check (amount >= 0),
      parent       text   not null,
      metadata     jsonb  not null,
      ts           bigint not null,
      event_ms     bigint not null,
      event_seq    bigint not null,
      position     int    not null,
      archived_at  timestamptz not null default now()
    )`
  // Per-account pages newest first, and the global feed.
  yield* sql`create index transfers_from on transfers (from_account, event_ms desc, event_seq desc, position desc)`
  yield* sql`create index transfers_to on transfers (to_account, event_ms desc, event_seq desc, position desc)`
  yield* sql`create index transfers_order on transfers (event_ms, event_seq, position)`
  // Settled/cancelled pots and closed reservations, in their final state.
  yield* sql`
    create table closed_objects (
      object_key  text   primary key,
      kind        text   not null,
      status      text   not null,
      state       jsonb  not null,
      closed_at   bigint not null,
      archived_at timestamptz not null default now()
    )`
  yield* sql`create index closed_objects_closed_at on closed_objects (closed_at)`
  // Heads of the chains as they were at a time (HMAC-signed when LEDGER_HMAC_KEY is set), so that
  // a chain truncated in Redis with its head rewritten still disagrees with a past head.
  yield* sql`
    create table head_checkpoints (
      account  text   not null,
      seq      bigint not null,
      checksum text   not null,
      balance  bigint not null,
      taken_at bigint not null,
      mac      text,
      primary key (account, seq)
    )`
  // The archiver's position in the Redis event stream and the highest fencing token that wrote
  // here; one row. A batch commits only if its token is at least this one and the cursor is the
  // one it started from, in the same transaction as its rows.
  yield* sql`
    create table archive_state (
      id            int    primary key check (id = 1),
      fencing_token bigint not null,
      stream_cursor text   not null,
      updated_at    timestamptz not null default now()
    )`
  yield* sql`insert into archive_state (id, fencing_token, stream_cursor) values (1, 0, '0')`
  // Accounts whose Redis chain does not continue the archived one: the archiver copies and
  // trims nothing of them until an operator has looked (and deleted the row).
  yield* sql`
    create table archive_stops (
      account    text   primary key,
      seq        bigint not null,
      reason     text   not null,
      stopped_at timestamptz not null default now()
    )`
})

/**
 * Each account's transfers by their index in its Redis list (0 = its first transfer ever), so
 * that a page cursor (an index) means the same before and after the list was trimmed. Written
 * by the archiver before it trims a list; a transfer appears once per account it touches.
 */
const history0002 = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`
    create table account_transfers (
      account     text   not null,
      idx         bigint not null check (idx >= 0),
      transfer_id text   not null references transfers (transfer_id),
      primary key (account, idx)
    )`
})

/**
 * The economy reports (src/economy/archiveEconomyQueries.ts) aggregate transfers and wallet entries
 * by the time they were stamped, over a range: without these, every report reads both tables whole.
 */
const history0003 = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`create index transfers_ts on transfers (ts)`
  yield* sql`create index ledger_entries_ts on ledger_entries (ts)`
})

/**
 * The archive's identity: a random id, given once, that the Redis it archives remembers (the
 * store's claimArchiveId). An instance whose history store holds another id than the Redis it
 * starts on refuses to start (src/history/archiveIdentity.ts): two archives of one Redis would each
 * hold part of the history, and Redis would be trimmed on the strength of either.
 */
const history0004 = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`alter table archive_state add column archive_id text`
  yield* sql`update archive_state set archive_id = gen_random_uuid()::text where id = 1`
  yield* sql`alter table archive_state alter column archive_id set not null`
})

/**
 * Retirement (issue 14): closed objects leave Redis entirely once the archive holds them whole and
 * their retention passed (src/archive/Archiver.ts, retire.lua). `version` is the version Redis held
 * the object at (its reads answer it after Redis dropped it); `retired_at` (Unix ms) marks what
 * left Redis. Unretired rows are scanned by closed_at; retired pots are listed for verification.
 */
const history0005 = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`alter table closed_objects add column version bigint`
  yield* sql`alter table closed_objects add column retired_at bigint`
  yield* sql`create index closed_objects_retirable on closed_objects (closed_at, object_key) where retired_at is null`
  yield* sql`create index closed_objects_retired_pots on closed_objects (object_key) where retired_at is not null and kind = 'pot'`
})

/**
 * Cheaper archive writes (issues 14, 18): every archived row paid for indexes that no query of the
 * service uses, and PostgreSQL's CPU per row is the largest cost of archiving on a small machine.
 *   - ledger_entries_transfer, transfers_from, transfers_to: no query reads entries by transfer id,
 *     and per-account transfer pages read account_transfers (HistoryStore.transfersBefore); dropped.
 *   - the economy reports' time ranges (0003): rows arrive in the order they were stamped, so a BRIN
 *     index (a few pages, one summary per 32 heap pages) finds a range as well as a b-tree that
 *     took an entry per row.
 *   - account_transfers' foreign key to transfers: a trigger and a key lookup per position. The
 *     archiver records positions only for transfers whose batch already committed (Archiver.trim,
 *     after the commit that moved the cursor past them), so the order of its writes holds what
 *     the key checked.
 * `node scripts/bench-archive.ts`, interleaved: PostgreSQL's CPU per archived row -17 % for the
 * indexes, a further -22..-27 % for the foreign key.
 */
const history0006 = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  // All three tables at once, first: taken one by one (each drop locks its table), a reader holding
  // transfers and waiting for ledger_entries (an economy report) would deadlock with this migration.
  yield* sql`lock table ledger_entries, transfers, account_transfers in access exclusive mode`
  yield* sql`drop index if exists ledger_entries_transfer`
  yield* sql`drop index if exists transfers_from`
  yield* sql`drop index if exists transfers_to`
  yield* sql`drop index if exists transfers_ts`
  yield* sql`drop index if exists ledger_entries_ts`
  yield* sql`alter table account_transfers drop constraint if exists account_transfers_transfer_id_fkey`
  yield* sql`create index transfers_ts on transfers using brin (ts) with (pages_per_range = 32)`
  yield* sql`create index ledger_entries_ts on ledger_entries using brin (ts) with (pages_per_range = 32)`
})

/**
 * The archive's row counts, kept in archive_state by statement triggers instead of counted: the
 * status (GET /api/admin/archive, the overview, the console, `balance-admin archive`) counted both
 * tables whole at every call, a sequential scan that grows with the archive (154 ms per call at
 * 460,000 entries, polled every 2 s by a dashboard: 8 % of a core). Triggers, not the archiver's
 * commit, so the counts stay exact whatever writes the tables: an instance of an earlier version
 * during a rolling update, an operator's delete or truncate. Transition tables hold only the rows a
 * statement really inserted (`on conflict do nothing` skips are not in them).
 */
const history0007 = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  // No insert between the count below and the triggers taking over: both tables held until commit.
  // archive_state first, in the order an archiver's commit takes them (it updates archive_state, then
  // inserts): taken the other way round, an archiver of an earlier version committing meanwhile and
  // this migration would deadlock.
  yield* sql`lock table archive_state in access exclusive mode`
  yield* sql`lock table ledger_entries, transfers in share row exclusive mode`
  yield* sql`
    alter table archive_state
      add column archived_entries bigint not null default 0,
      add column archived_transfers bigint not null default 0`
  yield* sql.unsafe(`
    create function archive_count_changed() returns trigger language plpgsql as $$
    declare
      delta bigint;
    begin
      if TG_OP = 'TRUNCATE' then
        delta := null;
      elsif TG_OP = 'INSERT' then
        select count(*) into delta from inserted_rows;
      else
        select -count(*) into delta from deleted_rows;
      end if;
      if delta = 0 then
        return null;
      end if;
      if TG_TABLE_NAME = 'ledger_entries' then
        update archive_state set archived_entries = coalesce(archived_entries + delta, 0) where id = 1;
      else
        update archive_state set archived_transfers = coalesce(archived_transfers + delta, 0) where id = 1;
      end if;
      return null;
    end
    $$`)
  for (const table of ["ledger_entries", "transfers"]) {
    yield* sql.unsafe(`create trigger ${table}_counted_insert after insert on ${table}
      referencing new table as inserted_rows for each statement execute function archive_count_changed()`)
    yield* sql.unsafe(`create trigger ${table}_counted_delete after delete on ${table}
      referencing old table as deleted_rows for each statement execute function archive_count_changed()`)
    yield* sql.unsafe(`create trigger ${table}_counted_truncate after truncate on ${table}
      for each statement execute function archive_count_changed()`)
  }
  yield* sql`
    update archive_state set
      archived_entries = (select count(*) from ledger_entries),
      archived_transfers = (select count(*) from transfers)
    where id = 1`
})

/** For the Migrator: `<id>_<name>` -> migration. */
export const historyMigrations = {
  "0001_history": history0001,
  "0002_account_transfers": history0002,
  "0003_economy_time_indexes": history0003,
  "0004_archive_id": history0004,
  "0005_retired_objects": history0005,
  "0006_fewer_indexes": history0006,
  "0007_archive_counts": history0007
}
