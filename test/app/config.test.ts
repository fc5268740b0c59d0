import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect } from "effect"
import { AppConfig } from "../../src/config.ts"
import { MAX_RESERVATION_TIMEOUT_MS } from "../../src/domain/rules.ts"
import { LedgerSettings } from "../../src/ledger/LedgerSettings.ts"

describe("config", () => {
  it.effect("RESERVATION_TIMEOUT_MS may be any hold a buy-in may ask for, and no longer", () =>
    Effect.gen(function*() {
      const at = (value: string) =>
        Effect.result(AppConfig.reservationTimeoutMs).pipe(
          Effect.provide(ConfigProvider.layer(ConfigProvider.fromUnknown({ RESERVATION_TIMEOUT_MS: value })))
        )
      const atMax = yield* at(String(MAX_RESERVATION_TIMEOUT_MS))
      assert.isTrue(atMax._tag === "Success" && atMax.success === MAX_RESERVATION_TIMEOUT_MS)
      const beyond = yield* at(String(MAX_RESERVATION_TIMEOUT_MS + 1))
      assert.isTrue(beyond._tag === "Failure")
      assert.include(String(beyond._tag === "Failure" ? beyond.failure : ""), `RESERVATION_TIMEOUT_MS must be at most ${MAX_RESERVATION_TIMEOUT_MS}`)
    }))

  it("the ledger's default settings are config's defaults (one list of them)", () => {
    const d = LedgerSettings.defaults
    assert.deepStrictEqual(d.rules, { rake: { basisPoints: 0, capChips: 0, minPotChips: 0 }, reservationTimeoutMs: 30_000 })
    assert.deepInclude(d, { hmacKey: undefined, idempotencyTtlMs: 86_400_000, cacheMaxObjects: 100_000, conflictRetries: 100, keyWaitMs: 3_000 })
  })
})
