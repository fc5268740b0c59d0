import { randomUUID } from "node:crypto"
import { Context, Effect, Layer } from "effect"
import type { LedgerRules } from "../domain/rules.ts"
import { AppConfig } from "../config.ts"

/** The ledger's knobs, read once from config. Tests provide them directly with `LedgerSettings.layerWith`. */
export class LedgerSettings extends Context.Service<LedgerSettings, {
  readonly rules: LedgerRules
  readonly hmacKey: string | undefined
  readonly idempotencyTtlMs: number
  readonly cacheMaxObjects: number
  readonly conflictRetries: number
  /**
   * How long a command may wait behind others on the same wallet or pot in this process before it
   * answers UNAVAILABLE (retry is safe): the store's whole budget for one call (deadline x attempts).
   */
  readonly keyWaitMs: number
  /** Transfer and reservation ids; tests swap in a counter for reproducible traces. */
  readonly newId: () => string
}>()("balance/LedgerSettings") {
  static readonly defaults: LedgerSettings["Service"] = {
    rules: { rake: { basisPoints: 0, capChips: 0, minPotChips: 0 }, reservationTimeoutMs: 30_000 },
    hmacKey: undefined,
    idempotencyTtlMs: 86_400_000,
    cacheMaxObjects: 100_000,
    conflictRetries: 100,
    keyWaitMs: 3_000,
    newId: randomUUID
  }

  static readonly layer = Layer.effect(
    LedgerSettings,
    Effect.gen(function*() {
      return LedgerSettings.of({
        rules: {
          rake: {
            basisPoints: yield* AppConfig.rakeBasisPoints,
            capChips: yield* AppConfig.rakeCapChips,
            minPotChips: yield* AppConfig.rakeMinPotChips
          },
          reservationTimeoutMs: yield* AppConfig.reservationTimeoutMs
        },
        hmacKey: yield* AppConfig.ledgerHmacKey,
        idempotencyTtlMs: yield* AppConfig.idempotencyTtlMs,
        cacheMaxObjects: yield* AppConfig.cacheMaxObjects,
        conflictRetries: yield* AppConfig.conflictRetries,
        keyWaitMs: (yield* AppConfig.redisCommandTimeoutMs) * ((yield* AppConfig.storeRetryAttempts) + 1),
        newId: randomUUID
      })
    })
  )

  static readonly layerWith = (overrides: Partial<LedgerSettings["Service"]> = {}) =>
    Layer.succeed(LedgerSettings, LedgerSettings.of({ ...LedgerSettings.defaults, ...overrides }))
}
