import { Effect } from "effect"
import type { SqlClient } from "effect/sql"
import type { TransferType } from "../domain/transfer.ts"
import type { Bucket, TimeRange } from "./EconomyHistory.ts"
import {
  bucketLayout,
  type FlowTally,
  type MoverTally,
  NO_FLOW,
  type ReservationTally,
  type SupplyTally,
  type TableTally,
  type TypeTally
} from "./economyAggregates.ts"

/**
 * The economy reports' aggregations over the archive (src/history/historyMigrations.ts: transfers,
 * ledger_entries), one SQL statement each, into the tallies of economyAggregates.ts: the caller
 * adds the live tail's tally of the writes after the cursor and finishes the report in TypeScript.
 * Run inside HistoryStore.snapshot, so that the rows are exactly those through the cursor it reads
 * (wallet entries carry no stream id; transfers are also bounded by the cursor explicitly).
 *
 * Every figure is the one economyAggregates computes from the same writes: a transfer counts in
 * the range when its `ts` (the apply's planning time) is in [from, to); minted is from 'x:mint',
 * burned to 'x:burn', raked to 'x:rake'. Sums of bigint are numeric in PostgreSQL and arrive as
 * strings: chips are safe integers, so Number() is exact.
 */

/** The archive's stream cursor, split: transfers of events at or before it. */
export interface ArchiveCut {
  readonly ms: number
  readonly seq: number
}

const num = (v: unknown): number => (v === null || v === undefined ? 0 : Number(v))

interface FlowRow {
  readonly minted: unknown
  readonly burned: unknown
  readonly raked: unknown
  readonly moved: unknown
  readonly transfers: unknown
}

const flowOfRow = (r: FlowRow): FlowTally => ({
  minted: num(r.minted),
  burned: num(r.burned),
  raked: num(r.raked),
  moved: num(r.moved),
  transfers: num(r.transfers)
})

/** The flow columns of a group of transfers. */
const flowColumns = (sql: SqlClient.SqlClient) =>
  sql`
    coalesce(sum(amount) filter (where from_account = 'x:mint'), 0) as minted,
    coalesce(sum(amount) filter (where to_account = 'x:burn'), 0) as burned,
    coalesce(sum(amount) filter (where to_account = 'x:rake'), 0) as raked,
    coalesce(sum(amount), 0) as moved,
    count(*) as transfers`

/** Transfers of the events through the cut. */
const throughCut = (sql: SqlClient.SqlClient, cut: ArchiveCut) => sql`(event_ms, event_seq) <= (${cut.ms}, ${cut.seq})`

/** The archive's cursor (in the snapshot: the rows through it are all the archive holds). */
export const archiveCursor = (sql: SqlClient.SqlClient) =>
  Effect.map(
    sql<{ stream_cursor: string }>`select stream_cursor from archive_state where id = 1`,
    (rows) => rows[0]?.stream_cursor ?? "0"
  )

const timeOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v))

/**
 * What the archive holds of the history, for `coverage`: its transfers through the cut, and the
 * times stamped on its first and last one in stream order (null when it holds none).
 */
export const archiveExtent = (sql: SqlClient.SqlClient, cut: ArchiveCut) =>
  Effect.map(
    sql<{ transfers: unknown; first_ts: unknown; last_ts: unknown }>`
      select (select count(*) from transfers where ${throughCut(sql, cut)}) as transfers,
        (select ts from transfers order by event_ms, event_seq, position limit 1) as first_ts,
        (select ts from transfers where ${throughCut(sql, cut)}
          order by event_ms desc, event_seq desc, position desc limit 1) as last_ts`,
    (rows) => ({
      transfers: num(rows[0]?.transfers),
      firstTransferAt: timeOrNull(rows[0]?.first_ts),
      lastTransferAt: timeOrNull(rows[0]?.last_ts)
    })
  )

/** Flows per bucket of the range (GROUP BY the bucket's index), and of the transfers at or after `to` (index -1). */
export const supplyTallyOf = (sql: SqlClient.SqlClient, cut: ArchiveCut, range: TimeRange, bucket: Bucket) => {
  const { size, first } = bucketLayout(range, bucket)
  return Effect.map(
    sql<FlowRow & { bucket: unknown }>`
      select case when ts >= ${range.to} then -1 else (ts - ${first}) / ${size} end as bucket, ${flowColumns(sql)}
      from transfers
      where ts >= ${range.from} and ${throughCut(sql, cut)}
      group by 1`,
    (rows): SupplyTally => {
      const buckets = new Map<number, FlowTally>()
      let after = NO_FLOW
      for (const r of rows) {
        if (num(r.bucket) === -1) after = flowOfRow(r)
        else buckets.set(num(r.bucket), flowOfRow(r))
      }
      return { buckets, after }
    }
  )
}

/** Flows of the range by transfer type. */
export const typeTallyOf = (sql: SqlClient.SqlClient, cut: ArchiveCut, range: TimeRange) =>
  Effect.map(
    sql<FlowRow & { type: string }>`
      select type, ${flowColumns(sql)}
      from transfers
      where ts >= ${range.from} and ts < ${range.to} and ${throughCut(sql, cut)}
      group by type`,
    (rows): TypeTally => new Map(rows.map((r) => [r.type as TransferType, flowOfRow(r)]))
  )

/**
 * Rake and settlements per table (the table is the second part of the pot's ref 'p:<table>:<hand>'),
 * the rake of every table in the range, and the rows of the leading `limit + tailTables.length`
 * tables plus `tailTables`. That is enough for the top `limit` after the tail is added: a table
 * outside the archive's leaders and untouched by the tail keeps its figures, and at least `limit`
 * untouched leaders still rank above it.
 */
export const tableTallyOf = (
  sql: SqlClient.SqlClient,
  cut: ArchiveCut,
  range: TimeRange,
  limit: number,
  tailTables: ReadonlyArray<string>
) =>
  Effect.map(
    sql<{ table_id: string; raked: unknown; hands: unknown; pot_chips: unknown; total: unknown }>`
      with per_table as (
        select split_part(from_account, ':', 2) as table_id,
          coalesce(sum(amount) filter (where type = 'RAKE'), 0) as raked,
          count(distinct from_account) as hands,
          sum(amount) as pot_chips
        from transfers
        where type in ('RAKE', 'PAYOUT') and from_account like 'p:%'
          and ts >= ${range.from} and ts < ${range.to} and ${throughCut(sql, cut)}
        group by 1
      ), ranked as (
        select *, sum(raked) over () as total,
          row_number() over (order by raked desc, pot_chips desc, table_id collate "C") as rank
        from per_table
      )
      select table_id, raked, hands, pot_chips, total from ranked
      where rank <= ${limit + tailTables.length} or table_id = any(${[...tailTables]}::text[])`,
    (rows): TableTally => ({
      total: num(rows[0]?.total),
      tables: new Map(rows.map((r) => [r.table_id, { raked: num(r.raked), handsSettled: num(r.hands), potChips: num(r.pot_chips) }]))
    })
  )

/** Wallet entries of reservations ('reservation:…' parents) in the range, counted by type. */
export const reservationTallyOf = (sql: SqlClient.SqlClient, range: TimeRange) =>
  Effect.map(
    sql<Record<"created" | "committed" | "released" | "expired" | "chips_held" | "chips_committed", unknown>>`
      select count(*) filter (where type = 'HOLD') as created,
        count(*) filter (where type = 'BUY_IN') as committed,
        count(*) filter (where type = 'RELEASE') as released,
        count(*) filter (where type = 'EXPIRE') as expired,
        coalesce(sum(held_delta) filter (where type = 'HOLD'), 0) as chips_held,
        coalesce(-sum(amount) filter (where type = 'BUY_IN'), 0) as chips_committed
      from ledger_entries
      where ts >= ${range.from} and ts < ${range.to} and account like 'w:%' and parent like 'reservation:%'`,
    (rows): ReservationTally => {
      const r = rows[0]
      return {
        created: num(r?.created),
        committed: num(r?.committed),
        released: num(r?.released),
        expired: num(r?.expired),
        chipsHeld: num(r?.chips_held),
        chipsCommitted: num(r?.chips_committed)
      }
    }
  )

/**
 * Net change and volume per wallet over the range (entries moving chips), for the leading
 * `limit + tailAccounts.length` wallets by |net|, then volume, then id, plus `tailAccounts` (ids
 * without the 'w:' prefix): enough for the top `limit` once the tail is added (see tableTallyOf).
 */
export const moverTallyOf = (sql: SqlClient.SqlClient, range: TimeRange, limit: number, tailAccounts: ReadonlyArray<string>) =>
  Effect.map(
    sql<{ account: string; net: unknown; credits: unknown; debits: unknown; entries: unknown }>`
      with per_wallet as (
        select account, sum(amount) as net,
          coalesce(sum(amount) filter (where amount > 0), 0) as credits,
          coalesce(-sum(amount) filter (where amount < 0), 0) as debits,
          count(*) as entries
        from ledger_entries
        where ts >= ${range.from} and ts < ${range.to} and account like 'w:%' and amount <> 0
        group by account
      ), ranked as (
        select *, row_number() over (order by abs(net) desc, credits + debits desc, account collate "C") as rank
        from per_wallet
      )
      select account, net, credits, debits, entries from ranked
      where rank <= ${limit + tailAccounts.length} or account = any(${tailAccounts.map((id) => `w:${id}`)}::text[])`,
    (rows): MoverTally =>
      new Map(rows.map((r) => [r.account.slice(2), { net: num(r.net), credits: num(r.credits), debits: num(r.debits), entries: num(r.entries) }]))
  )
