import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { EconomyHistory } from "../../src/economy/EconomyHistory.ts"
import { LiveTailEconomyHistory } from "../../src/economy/LiveTailEconomyHistory.ts"
import { Ledger } from "../../src/ledger/Ledger.ts"
import { MemoryStore } from "../../src/store/memory/MemoryStore.ts"
import { Store } from "../../src/store/Store.ts"
import { ledgerCoreOn } from "../support/ledgerLayers.ts"

/** A memory store that counts the pages of writes read. */
const countingStore = () => {
  const inner = MemoryStore.make()
  let pages = 0
  const store = Store.of({ ...inner, events: (cursor, limit) => Effect.suspend(() => { pages++; return inner.events(cursor, limit) }) })
  return { layer: Layer.succeed(Store, store), pages: () => pages }
}

describe("LiveTailEconomyHistory", () => {
  it.live("the reports of one range asked for together read the writes once", () => {
    const counting = countingStore()
    return Effect.gen(function*() {
      const ledger = yield* Ledger
      for (let i = 0; i < 30; i++) yield* ledger.execute({ op: "EnsureAccount", accountId: `acct-${i}`, initialBalance: 10 })
      const history = yield* EconomyHistory
      const range = { from: 0, to: Date.now() + 60_000 }
      const before = counting.pages()
      const [series, flows] = yield* Effect.all([
        history.supplySeries(range, "day"),
        history.flows(range),
        history.rakeByTable(range, 10),
        history.reservationOutcomes(range),
        history.biggestMovers(range, 10)
      ], { concurrency: "unbounded" })
      assert.strictEqual(flows.minted, 300)
      assert.strictEqual(series.points.at(-1)?.supply, 300)
      // One walk: the newest write, then the older ones a page at a time (30 writes: one page).
      assert.strictEqual(counting.pages() - before, 2)
    }).pipe(Effect.provide(LiveTailEconomyHistory.pipe(Layer.provideMerge(ledgerCoreOn(counting.layer)))))
  })
})
