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
 * The economy reports as pure functions of a run of ledger writes: whatever store they come from
 * (the live tail in Redis, the archive), the arithmetic is this one.
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

/**
 * Supply and circulation at the end of each bucket, worked backwards from their values now: the
 * value at time t is the value now minus what every write at or after t added. `events` must hold
 * every write from `range.from` up to the instant `now` was read (later ones would be counted twice).
 * Buckets are whole UTC hours or days, clipped to the range.
 */
export const supplySeries = (
  events: ReadonlyArray<StoreEvent>,
  now: SupplyNow,
  range: TimeRange,
  bucket: Bucket,
  coverage: Coverage
): SupplySeries => {
  const size = BUCKET_MS[bucket]
  const first = Math.floor(range.from / size) * size
  const count = Math.max(0, Math.ceil((range.to - first) / size))
  const flows = Array.from({ length: count }, () => ({ minted: 0, burned: 0, raked: 0, moved: 0, transfers: 0 }))
  // Net issue (minted - burned) and net circulation change of the writes at or after `range.to`.
  let supplyAfter = 0
  let circulationAfter = 0
  for (const e of events) {
    const t = eventTime(e)
    if (t === undefined || t < range.from) continue
    for (const tr of e.transfers) {
      const m = mintedBy(tr), b = burnedBy(tr), r = rakedBy(tr)
      if (t >= range.to) {
        supplyAfter += m - b
        circulationAfter += m - b - r
        continue
      }
      const f = flows[Math.floor((t - first) / size)]!
      f.minted += m
      f.burned += b
      f.raked += r
      f.moved += tr.amount
      f.transfers += 1
    }
  }
  const points: Array<SupplyPoint> = []
  let supply = now.supply - supplyAfter
  let circulation = now.circulation - circulationAfter
  for (let i = count - 1; i >= 0; i--) {
    const start = Math.max(range.from, first + i * size)
    const end = Math.min(range.to, first + (i + 1) * size)
    const f = flows[i]!
    if (coverage.historyFrom !== null && end <= coverage.historyFrom) break
    points.push({
      start,
      end,
      supply,
      circulation,
      ...f,
      partial: coverage.historyFrom !== null && start < coverage.historyFrom
    })
    supply -= f.minted - f.burned
    circulation -= f.minted - f.burned - f.raked
  }
  return { range, bucket, coverage, points: points.reverse() }
}

export const flows = (events: ReadonlyArray<StoreEvent>, range: TimeRange, coverage: Coverage): Flows => {
  const byType = Object.fromEntries(TRANSFER_TYPES.map((t) => [t, { chips: 0, transfers: 0 }])) as Record<TransferType, TypeFlow>
  let minted = 0, burned = 0, raked = 0, moved = 0, transfers = 0
  for (const t of transfersIn(events, range)) {
    minted += mintedBy(t)
    burned += burnedBy(t)
    raked += rakedBy(t)
    moved += t.amount
    transfers += 1
    const f = byType[t.type]
    byType[t.type] = { chips: f.chips + t.amount, transfers: f.transfers + 1 }
  }
  return { range, coverage, minted, burned, raked, moved, transfers, byType }
}

/** `p:<table>:<hand>` → table (ids are validated to exclude ':'). */
const tableOfPot = (ref: string): string | undefined => (ref.startsWith("p:") ? ref.split(":")[1] : undefined)

export const rakeByTable = (events: ReadonlyArray<StoreEvent>, range: TimeRange, limit: number, coverage: Coverage): RakeByTable => {
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
  const rows: Array<TableRake> = [...tables].map(([tableId, r]) => ({ tableId, raked: r.raked, handsSettled: r.hands.size, potChips: r.potChips }))
  rows.sort((a, b) => b.raked - a.raked || b.potChips - a.potChips || (a.tableId < b.tableId ? -1 : 1))
  return { range, coverage, total: rows.reduce((s, r) => s + r.raked, 0), tables: rows.slice(0, limit) }
}

/** Reservations are wallet entries: HOLD opens one; BUY_IN (the commit), RELEASE or EXPIRE closes it. */
export const reservationOutcomes = (events: ReadonlyArray<StoreEvent>, range: TimeRange, coverage: Coverage): ReservationOutcomes => {
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
  const closed = committed + released + expired
  return {
    range,
    coverage,
    created,
    committed,
    released,
    expired,
    expiryRate: closed === 0 ? null : expired / closed,
    chipsHeld,
    chipsCommitted
  }
}

export const biggestMovers = (events: ReadonlyArray<StoreEvent>, range: TimeRange, limit: number, coverage: Coverage): BiggestMovers => {
  const movers = new Map<string, { net: number; credits: number; debits: number; entries: number }>()
  for (const e of walletEntriesIn(events, range)) {
    if (e.amount === 0) continue
    const m = movers.get(e.accountId) ?? { net: 0, credits: 0, debits: 0, entries: 0 }
    m.net += e.amount
    if (e.amount > 0) m.credits += e.amount
    else m.debits -= e.amount
    m.entries += 1
    movers.set(e.accountId, m)
  }
  const items: Array<Mover> = [...movers].map(([ref, m]) => ({ accountId: ref.slice(2), ...m }))
  items.sort((a, b) =>
    Math.abs(b.net) - Math.abs(a.net) || (b.credits + b.debits) - (a.credits + a.debits) || (a.accountId < b.accountId ? -1 : 1))
  return { range, coverage, items: items.slice(0, limit) }
}
