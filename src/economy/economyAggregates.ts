import type { LedgerEntry } from "../domain/ledgerEntry.ts"
import { TRANSFER_TYPES, type Transfer, type TransferType } from "../domain/transfer.ts"
import type { StoreEvent } from "../store/Store.ts"
import {
  type BiggestMovers,
  type Bucket,
  BUCKET_MS,
  type Coverage,
  type Flows,
  type Mover,
  type RakeByTable,
  type ReservationOutcomes,
  type SupplyPoint,
  type SupplySeries,
  type TableRake,
  type TimeRange,
  type TypeFlow
} from "./EconomyHistory.ts"

/**
 * The economy reports as pure functions of ledger writes, in two steps: a tally (additive partial
 * sums: per bucket, type, table, account) and a finish (supply worked back from now, sort, limit,
 * rates). The live tail tallies Redis' writes; the archive tallies its rows in SQL
 * (archiveEconomyQueries.ts) into the same shapes and adds the tail's tally of the writes after its
 * cursor. The finish is shared, so every source answers with the same arithmetic.
 */

/** Chips issued and not burned, and chips held by players, at one instant. */
export interface SupplyNow {
  readonly supply: number
  readonly circulation: number
}

/** When a write happened: every entry and transfer of one apply carries the same planning time. */
export const eventTime = (e: StoreEvent): number | undefined => e.transfers[0]?.timestamp ?? e.entries[0]?.timestamp

export const mintedBy = (t: Transfer) => (t.from === "x:mint" ? t.amount : 0)
export const burnedBy = (t: Transfer) => (t.to === "x:burn" ? t.amount : 0)
export const rakedBy = (t: Transfer) => (t.to === "x:rake" ? t.amount : 0)

const inRange = (range: TimeRange, t: number) => t >= range.from && t < range.to

const transfersIn = (events: ReadonlyArray<StoreEvent>, range: TimeRange): Array<Transfer> =>
  events.flatMap((e) => {
    const t = eventTime(e)
    return t !== undefined && inRange(range, t) ? e.transfers : []
  })

const walletEntriesIn = (events: ReadonlyArray<StoreEvent>, range: TimeRange): Array<LedgerEntry> =>
  events.flatMap((e) => {
    const t = eventTime(e)
    return t !== undefined && inRange(range, t) ? e.entries.filter((x) => x.accountId.startsWith("w:")) : []
  })

/** Flows of transfers: the sums every supply bucket and the flows report are made of. */
export interface FlowTally {
  readonly minted: number
  readonly burned: number
  readonly raked: number
  readonly moved: number
  readonly transfers: number
}

export const NO_FLOW: FlowTally = { minted: 0, burned: 0, raked: 0, moved: 0, transfers: 0 }

export const addFlow = (a: FlowTally, b: FlowTally): FlowTally => ({
  minted: a.minted + b.minted,
  burned: a.burned + b.burned,
  raked: a.raked + b.raked,
  moved: a.moved + b.moved,
  transfers: a.transfers + b.transfers
})

const flowOf = (t: Transfer): FlowTally => ({ minted: mintedBy(t), burned: burnedBy(t), raked: rakedBy(t), moved: t.amount, transfers: 1 })

/** Whole UTC hours or days from the one holding `range.from`: bucket i is [first + i·size, first + (i+1)·size). */
export const bucketLayout = (range: TimeRange, bucket: Bucket) => {
  const size = BUCKET_MS[bucket]
  const first = Math.floor(range.from / size) * size
  return { size, first, count: Math.max(0, Math.ceil((range.to - first) / size)) }
}

/**
 * The flows of each bucket of a range (index as bucketLayout's; absent: none), and those of the
 * writes at or after `range.to` (`after`), which the supply now includes and the range's ends must not.
 */
export interface SupplyTally {
  readonly buckets: ReadonlyMap<number, FlowTally>
  readonly after: FlowTally
}

export const addSupply = (a: SupplyTally, b: SupplyTally): SupplyTally => {
  const buckets = new Map(a.buckets)
  for (const [i, f] of b.buckets) buckets.set(i, addFlow(buckets.get(i) ?? NO_FLOW, f))
  return { buckets, after: addFlow(a.after, b.after) }
}

export const supplyTally = (events: ReadonlyArray<StoreEvent>, range: TimeRange, bucket: Bucket): SupplyTally => {
  const { size, first } = bucketLayout(range, bucket)
  const buckets = new Map<number, FlowTally>()
  let after = NO_FLOW
  for (const e of events) {
    const t = eventTime(e)
    if (t === undefined || t < range.from) continue
    for (const tr of e.transfers) {
      if (t >= range.to) after = addFlow(after, flowOf(tr))
      else {
        const i = Math.floor((t - first) / size)
        buckets.set(i, addFlow(buckets.get(i) ?? NO_FLOW, flowOf(tr)))
      }
    }
  }
  return { buckets, after }
}

/**
 * Supply and circulation at the end of each bucket, worked backwards from their values now: the
 * value at time t is the value now minus what every write at or after t added. The tally must hold
 * every write from `range.from` up to the instant `now` was read (later ones would be counted twice).
 * Buckets are whole UTC hours or days, clipped to the range.
 */
export const supplySeriesOf = (
  tally: SupplyTally,
  now: SupplyNow,
  range: TimeRange,
  bucket: Bucket,
  coverage: Coverage
): SupplySeries => {
  const { size, first, count } = bucketLayout(range, bucket)
  const points: Array<SupplyPoint> = []
  let supply = now.supply - (tally.after.minted - tally.after.burned)
  let circulation = now.circulation - (tally.after.minted - tally.after.burned - tally.after.raked)
  for (let i = count - 1; i >= 0; i--) {
    const start = Math.max(range.from, first + i * size)
    const end = Math.min(range.to, first + (i + 1) * size)
    const f = tally.buckets.get(i) ?? NO_FLOW
    if (coverage.historyFrom !== null && end <= coverage.historyFrom) break
    points.push({
      start,
      end,
      supply,
      circulation,
      minted: f.minted,
      burned: f.burned,
      raked: f.raked,
      moved: f.moved,
      transfers: f.transfers,
      partial: coverage.historyFrom !== null && start < coverage.historyFrom
    })
    supply -= f.minted - f.burned
    circulation -= f.minted - f.burned - f.raked
  }
  return { range, bucket, coverage, points: points.reverse() }
}

export const supplySeries = (
  events: ReadonlyArray<StoreEvent>,
  now: SupplyNow,
  range: TimeRange,
  bucket: Bucket,
  coverage: Coverage
): SupplySeries => supplySeriesOf(supplyTally(events, range, bucket), now, range, bucket, coverage)

/** Flows over a range by transfer type (the totals are the sum of the types'). */
export type TypeTally = ReadonlyMap<TransferType, FlowTally>

export const addTypes = (a: TypeTally, b: TypeTally): TypeTally => {
  const sum = new Map(a)
  for (const [type, f] of b) sum.set(type, addFlow(sum.get(type) ?? NO_FLOW, f))
  return sum
}

export const typeTally = (events: ReadonlyArray<StoreEvent>, range: TimeRange): TypeTally => {
  const byType = new Map<TransferType, FlowTally>()
  for (const t of transfersIn(events, range)) byType.set(t.type, addFlow(byType.get(t.type) ?? NO_FLOW, flowOf(t)))
  return byType
}

export const flowsOf = (tally: TypeTally, range: TimeRange, coverage: Coverage): Flows => {
  const byType = Object.fromEntries(TRANSFER_TYPES.map((t) => {
    const f = tally.get(t) ?? NO_FLOW
    return [t, { chips: f.moved, transfers: f.transfers }]
  })) as Record<TransferType, TypeFlow>
  const total = [...tally.values()].reduce(addFlow, NO_FLOW)
  return { range, coverage, ...total, byType }
}

export const flows = (events: ReadonlyArray<StoreEvent>, range: TimeRange, coverage: Coverage): Flows =>
  flowsOf(typeTally(events, range), range, coverage)

/** `p:<table>:<hand>` → table (ids are validated to exclude ':'). */
const tableOfPot = (ref: string): string | undefined => (ref.startsWith("p:") ? ref.split(":")[1] : undefined)

/**
 * Rake and settlements per table. `total` is the rake of every table; `tables` may hold only some
 * (the archive's query returns its leaders and the tables the tail touched): a pot settles in one
 * write, so a table's hands in two tallies never overlap and add up.
 */
export interface TableTally {
  readonly total: number
  readonly tables: ReadonlyMap<string, Omit<TableRake, "tableId">>
}

export const addTables = (a: TableTally, b: TableTally): TableTally => {
  const tables = new Map(a.tables)
  for (const [id, r] of b.tables) {
    const x = tables.get(id)
    tables.set(id, x === undefined ? r : { raked: x.raked + r.raked, handsSettled: x.handsSettled + r.handsSettled, potChips: x.potChips + r.potChips })
  }
  return { total: a.total + b.total, tables }
}

export const tableTally = (events: ReadonlyArray<StoreEvent>, range: TimeRange): TableTally => {
  const tables = new Map<string, { raked: number; hands: Set<string>; potChips: number }>()
  for (const t of transfersIn(events, range)) {
    if (t.type !== "RAKE" && t.type !== "PAYOUT") continue
    const table = tableOfPot(t.from)
    if (table === undefined) continue
    const row = tables.get(table) ?? { raked: 0, hands: new Set<string>(), potChips: 0 }
    if (t.type === "RAKE") row.raked += t.amount
    row.hands.add(t.from)
    row.potChips += t.amount
    tables.set(table, row)
  }
  return {
    total: [...tables.values()].reduce((s, r) => s + r.raked, 0),
    tables: new Map([...tables].map(([id, r]) => [id, { raked: r.raked, handsSettled: r.hands.size, potChips: r.potChips }]))
  }
}

/** Most raked first; ties by chips settled, then table id. */
export const compareTables = (a: TableRake, b: TableRake) =>
  b.raked - a.raked || b.potChips - a.potChips || (a.tableId < b.tableId ? -1 : a.tableId > b.tableId ? 1 : 0)

export const rakeByTableOf = (tally: TableTally, range: TimeRange, limit: number, coverage: Coverage): RakeByTable => {
  const rows: Array<TableRake> = [...tally.tables].map(([tableId, r]) => ({ tableId, ...r }))
  rows.sort(compareTables)
  return { range, coverage, total: tally.total, tables: rows.slice(0, limit) }
}

export const rakeByTable = (events: ReadonlyArray<StoreEvent>, range: TimeRange, limit: number, coverage: Coverage): RakeByTable =>
  rakeByTableOf(tableTally(events, range), range, limit, coverage)

export type ReservationTally = Omit<ReservationOutcomes, "range" | "coverage" | "expiryRate">

export const NO_RESERVATIONS: ReservationTally = { created: 0, committed: 0, released: 0, expired: 0, chipsHeld: 0, chipsCommitted: 0 }

export const addReservations = (a: ReservationTally, b: ReservationTally): ReservationTally => ({
  created: a.created + b.created,
  committed: a.committed + b.committed,
  released: a.released + b.released,
  expired: a.expired + b.expired,
  chipsHeld: a.chipsHeld + b.chipsHeld,
  chipsCommitted: a.chipsCommitted + b.chipsCommitted
})

/** Reservations are wallet entries: HOLD opens one; BUY_IN (the commit), RELEASE or EXPIRE closes it. */
export const reservationTally = (events: ReadonlyArray<StoreEvent>, range: TimeRange): ReservationTally => {
  let created = 0, committed = 0, released = 0, expired = 0, chipsHeld = 0, chipsCommitted = 0
  for (const e of walletEntriesIn(events, range)) {
    if (!e.parent.startsWith("reservation:")) continue
    if (e.type === "HOLD") {
      created += 1
      chipsHeld += e.heldDelta
    } else if (e.type === "BUY_IN") {
      committed += 1
      chipsCommitted -= e.amount
    } else if (e.type === "RELEASE") released += 1
    else if (e.type === "EXPIRE") expired += 1
  }
  return { created, committed, released, expired, chipsHeld, chipsCommitted }
}

export const reservationOutcomesOf = (tally: ReservationTally, range: TimeRange, coverage: Coverage): ReservationOutcomes => {
  const closed = tally.committed + tally.released + tally.expired
  return { range, coverage, ...tally, expiryRate: closed === 0 ? null : tally.expired / closed }
}

export const reservationOutcomes = (events: ReadonlyArray<StoreEvent>, range: TimeRange, coverage: Coverage): ReservationOutcomes =>
  reservationOutcomesOf(reservationTally(events, range), range, coverage)

/** Net change and volume per wallet (by account id); the archive's holds its leaders and the wallets the tail touched. */
export type MoverTally = ReadonlyMap<string, Omit<Mover, "accountId">>

export const addMovers = (a: MoverTally, b: MoverTally): MoverTally => {
  const sum = new Map(a)
  for (const [id, m] of b) {
    const x = sum.get(id)
    sum.set(id, x === undefined ? m : { net: x.net + m.net, credits: x.credits + m.credits, debits: x.debits + m.debits, entries: x.entries + m.entries })
  }
  return sum
}

export const moverTally = (events: ReadonlyArray<StoreEvent>, range: TimeRange): MoverTally => {
  const movers = new Map<string, { net: number; credits: number; debits: number; entries: number }>()
  for (const e of walletEntriesIn(events, range)) {
    if (e.amount === 0) continue
    const id = e.accountId.slice(2)
    const m = movers.get(id) ?? { net: 0, credits: 0, debits: 0, entries: 0 }
    m.net += e.amount
    if (e.amount > 0) m.credits += e.amount
    else m.debits -= e.amount
    m.entries += 1
    movers.set(id, m)
  }
  return movers
}

/** Largest |net| first; ties by volume (credits + debits), then id. */
export const compareMovers = (a: Mover, b: Mover) =>
  Math.abs(b.net) - Math.abs(a.net) || (b.credits + b.debits) - (a.credits + a.debits) ||
  (a.accountId < b.accountId ? -1 : a.accountId > b.accountId ? 1 : 0)

export const biggestMoversOf = (tally: MoverTally, range: TimeRange, limit: number, coverage: Coverage): BiggestMovers => {
  const items: Array<Mover> = [...tally].map(([accountId, m]) => ({ accountId, ...m }))
  items.sort(compareMovers)
  return { range, coverage, items: items.slice(0, limit) }
}

export const biggestMovers = (events: ReadonlyArray<StoreEvent>, range: TimeRange, limit: number, coverage: Coverage): BiggestMovers =>
  biggestMoversOf(moverTally(events, range), range, limit, coverage)
