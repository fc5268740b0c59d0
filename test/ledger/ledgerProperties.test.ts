import { describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { TestClock } from "effect/testing"
import * as fc from "fast-check"
import { counterIds, propertyParameters, runSequence, sequenceArbitrary } from "../support/commandSequences.ts"
import { memoryLedger } from "../support/ledgerLayers.ts"

describe("ledger properties (memory store)", () => {
  it("random operation sequences answer what the reference model says (refusal codes included) and keep every invariant (1,000 sequences)", async () => {
    await fc.assert(
      fc.asyncProperty(sequenceArbitrary, (steps) =>
        Effect.runPromise(
          runSequence(steps).pipe(
            Effect.provide(Layer.mergeAll(memoryLedger({ newId: counterIds() }), TestClock.layer()))
          )
        ).then(() => undefined)
      ),
      propertyParameters(1000)
    )
  })

  it("with rake, answers and books still match the reference model and sum to zero (300 sequences)", async () => {
    await fc.assert(
      fc.asyncProperty(sequenceArbitrary, (steps) =>
        Effect.runPromise(
          runSequence(steps).pipe(
            Effect.provide(Layer.mergeAll(
              memoryLedger({
                newId: counterIds(),
                rules: { rake: { basisPoints: 500, capChips: 30, minPotChips: 20 }, reservationTimeoutMs: 30_000 }
              }),
              TestClock.layer()
            ))
          )
        ).then(() => undefined)
      ),
      propertyParameters(300)
    )
  })
})
