import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { TestClock } from "effect/testing"
import * as fc from "fast-check"
import { Archiver } from "../../src/archive/Archiver.ts"
import * as MemoryHistoryStore from "../../src/history/MemoryHistoryStore.ts"
import * as TieredStore from "../../src/history/TieredStore.ts"
import { LedgerVerifier } from "../../src/ledger/LedgerVerifier.ts"
import { MemoryStore } from "../../src/store/memory/MemoryStore.ts"
import { counterIds, propertyParameters, runSequence, sequenceArbitrary } from "../support/commandSequences.ts"
import { readEverything } from "../support/historyReads.ts"
import { ledgerOn, memoryLedger } from "../support/ledgerLayers.ts"

/** The memory ledger with an archiver that trims, over a memory history store; reads span both. */
const archivedLedger = (batchEvents: number, retentionMs?: number) => {
  const history = MemoryHistoryStore.layer
  return Archiver.layerWith({ batchEvents, trim: true, retentionMs }).pipe(
    Layer.provideMerge(ledgerOn(TieredStore.layer.pipe(Layer.provide(MemoryStore.layer), Layer.provide(history)), { newId: counterIds() })),
    Layer.provideMerge(history)
  )
}

/** The property: with archiving (and retirement after `retentionMs`, when given) every answer, book and page is the same. */
const sameAsWithoutArchiving = (runs: number, retentionMs?: number) => async () => {
    await fc.assert(
      fc.asyncProperty(
        sequenceArbitrary,
        fc.uniqueArray(fc.nat({ max: 60 }), { maxLength: 10 }),
        fc.integer({ min: 1, max: 7 }),
        async (steps, archiveAfter, batchEvents) => {
          const plain = await Effect.runPromise(
            Effect.gen(function*() {
              const trace = yield* runSequence(steps)
              return { trace, pages: yield* readEverything }
            }).pipe(Effect.provide(Layer.mergeAll(memoryLedger({ newId: counterIds() }), TestClock.layer())))
          )
          const archived = await Effect.runPromise(
            Effect.gen(function*() {
              const archiver = yield* Archiver
              const points = new Set(archiveAfter)
              const trace = yield* runSequence(steps, (i) => points.has(i) || i === steps.length ? archiver.drain() : Effect.void)
              const pages = yield* readEverything
              const report = yield* (yield* LedgerVerifier).verifyAll()
              return { trace, pages, report }
            }).pipe(Effect.provide(Layer.mergeAll(archivedLedger(batchEvents, retentionMs), TestClock.layer())))
          )
          assert.deepStrictEqual(archived.trace, plain.trace)
          assert.deepStrictEqual(archived.pages, plain.pages)
          assert.deepStrictEqual(archived.report.findings, [])
        }
      ),
      propertyParameters(runs)
    )
}

describe("archiving interleaved with random commands (memory store and history)", () => {
  it("gives the same answers, books, pages and a clean verification as no archiving (300 sequences)", sameAsWithoutArchiving(300))
  // Retention -1 ms: the TestClock stands still between steps, so objects closed at the current instant must count
  // too for every closed object to be retired at the drain after it was archived (all of them are, in these runs).
  it(
    "with closed objects retired from Redis as soon as they are archived: the same answers, refusals, replays, pages and verification (200 sequences)",
    sameAsWithoutArchiving(200, -1)
  )
})
