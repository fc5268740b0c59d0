import * as fc from "fast-check"
import { describe, expect, it } from "vitest"
import { BUCKET_MS, type Bucket, type Coverage } from "../../src/economy/EconomyHistory.ts"
import { flows, supplySeries } from "../../src/economy/economyAggregates.ts"
import type { Transfer, TransferType } from "../../src/domain/transfer.ts"
import type { StoreEvent } from "../../src/store/Store.ts"

const DAY = 86_400_000
const T0 = Date.UTC(2025, 0, 15)
const FULL: Coverage = { source: "live-tail", historyFrom: null, complete: true, archivedThrough: null, eventsScanned: 0 }

/** Which accounts each type moves between, as the planner writes them. */
const ENDS: Readonly<Record<TransferType, readonly [string, string]>> = {
  GRANT: ["x:mint", "w:a"],
  DEPOSIT: ["x:mint", "w:a"],
  WITHDRAW: ["w:a", "x:burn"],
  BUY_IN: ["w:a", "s:t1:a"],
  CONTRIBUTION: ["s:t1:a", "p:t1:h1"],
  RAKE: ["p:t1:h1", "x:rake"],
  PAYOUT: ["p:t1:h1", "s:t1:a"],
  REFUND: ["p:t1:h1", "s:t1:a"],
  CASH_OUT: ["s:t1:a", "w:a"]
}

const transferArb = fc.record({
  type: fc.constantFrom(...(Object.keys(ENDS) as Array<TransferType>)),
  amount: fc.integer({ min: 1, max: 1_000_000 })
})
const writeArb = fc.record({ at: fc.integer({ min: 0, max: 3 * DAY - 1 }), transfers: fc.array(transferArb, { minLength: 1, maxLength: 3 }) })

const toEvents = (writes: ReadonlyArray<{ at: number; transfers: ReadonlyArray<{ type: TransferType; amount: number }> }>): Array<StoreEvent> =>
  writes.map((w, i) => ({
    id: `${i + 1}-0`,
    entries: [],
    transfers: w.transfers.map((t, j): Transfer => ({
      transferId: `${i}-${j}`, type: t.type, from: ENDS[t.type][0] as Transfer["from"], to: ENDS[t.type][1] as Transfer["to"],
      amount: t.amount, parent: "transfer:x", metadata: {}, timestamp: T0 + w.at
    }))
  })).reverse()

/** The reference: every figure summed afresh from the writes, bucket by bucket. */
const model = (events: ReadonlyArray<StoreEvent>, before: { supply: number; circulation: number }, from: number, to: number, bucket: Bucket) => {
  const all = events.flatMap((e) => e.transfers)
  const sum = (f: (t: Transfer) => boolean, lo: number, hi: number) =>
    all.filter((t) => t.timestamp >= lo && t.timestamp < hi && f(t)).reduce((s, t) => s + t.amount, 0)
  const minted = (lo: number, hi: number) => sum((t) => t.from === "x:mint", lo, hi)
  const burned = (lo: number, hi: number) => sum((t) => t.to === "x:burn", lo, hi)
  const raked = (lo: number, hi: number) => sum((t) => t.to === "x:rake", lo, hi)
  const size = BUCKET_MS[bucket]
  const points = []
  for (let b = Math.floor(from / size) * size; b < to; b += size) {
    const start = Math.max(from, b), end = Math.min(to, b + size)
    points.push({
      start, end,
      supply: before.supply + minted(-Infinity, end) - burned(-Infinity, end),
      circulation: before.circulation + minted(-Infinity, end) - burned(-Infinity, end) - raked(-Infinity, end),
      minted: minted(start, end), burned: burned(start, end), raked: raked(start, end),
      moved: sum(() => true, start, end), transfers: all.filter((t) => t.timestamp >= start && t.timestamp < end).length,
      partial: false
    })
  }
  return points
}

describe("economy aggregates against a reference model", () => {
  it("supply and circulation at each bucket's end, worked back from now, equal the sums from the start (500 runs)", () => {
    fc.assert(
      fc.property(
        fc.array(writeArb, { maxLength: 60 }),
        fc.integer({ min: 0, max: 3 * DAY }), fc.integer({ min: 1, max: 3 * DAY }),
        fc.constantFrom<Bucket>("hour", "day"),
        fc.integer({ min: 0, max: 10_000_000 }), fc.integer({ min: 0, max: 100_000 }),
        (writes, a, length, bucket, supplyBefore, rakeBefore) => {
          const events = toEvents(writes)
          const before = { supply: supplyBefore, circulation: supplyBefore - rakeBefore }
          // "Now": after every write.
          const all = events.flatMap((e) => e.transfers)
          const now = {
            supply: before.supply + all.reduce((s, t) => s + (t.from === "x:mint" ? t.amount : 0) - (t.to === "x:burn" ? t.amount : 0), 0),
            circulation: before.circulation + all.reduce((s, t) => s + (t.from === "x:mint" ? t.amount : 0) - (t.to === "x:burn" || t.to === "x:rake" ? t.amount : 0), 0)
          }
          const from = T0 + a, to = Math.min(from + length, T0 + 3 * DAY + DAY)
          const series = supplySeries(events, now, { from, to }, bucket, FULL)
          expect(series.points).toEqual(model(events, before, from, to, bucket))
          const total = flows(events, { from, to }, FULL)
          expect([total.minted, total.burned, total.raked, total.moved, total.transfers]).toEqual(
            ["minted", "burned", "raked", "moved", "transfers"].map((k) => series.points.reduce((s, p) => s + (p as unknown as Record<string, number>)[k]!, 0))
          )
          expect(Object.values(total.byType).reduce((s, f) => s + f.chips, 0)).toBe(total.moved)
        }
      ),
      { numRuns: 500 }
    )
  })

  it("with history missing before some instant, buckets ending before it are left out and the one across it is partial", () => {
    const events = toEvents([{ at: 5 * 3_600_000, transfers: [{ type: "DEPOSIT", amount: 10 }] }, { at: 7 * 3_600_000, transfers: [{ type: "WITHDRAW", amount: 4 }] }])
    const coverage: Coverage = { source: "live-tail", historyFrom: T0 + 4.5 * 3_600_000, complete: false, archivedThrough: null, eventsScanned: 2 }
    const series = supplySeries(events, { supply: 106, circulation: 100 }, { from: T0, to: T0 + 8 * 3_600_000 }, "hour", coverage)
    expect(series.points.map((p) => [(p.start - T0) / 3_600_000, p.partial, p.supply])).toEqual([
      [4, true, 100], [5, false, 110], [6, false, 110], [7, false, 106]
    ])
  })

  it("a write at the range's start counts in it, one at its end counts after it", () => {
    const H = 3_600_000
    const events = toEvents([{ at: 2 * H, transfers: [{ type: "DEPOSIT", amount: 10 }] }, { at: 3 * H, transfers: [{ type: "DEPOSIT", amount: 5 }] }])
    const series = supplySeries(events, { supply: 15, circulation: 15 }, { from: T0 + 2 * H, to: T0 + 3 * H }, "hour", FULL)
    expect(series.points).toEqual([expect.objectContaining({ minted: 10, supply: 10, circulation: 10 })])
    expect(flows(events, { from: T0 + 2 * H, to: T0 + 3 * H }, FULL).minted).toBe(10)
  })
})
