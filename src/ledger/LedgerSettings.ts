import { randomUUID } from "node:crypto"
import { ConfigProvider, Context, Effect, Layer } from "effect"
import type { LedgerRules } from "../domain/rules.ts"
import { AppConfig } from "../config.ts"

interface Settings {
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
}

/** The settings as config gives them. */
const fromConfig = Effect.gen(function*() {
  return {
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
  } satisfies Settings
})

/** The ledger's knobs, read once from config. Tests provide them directly with `LedgerSettings.layerWith`. */
export class LedgerSettings extends Context.Service<LedgerSettings, Settings>()("balance/LedgerSettings") {
  /** What config gives with no variable set: config.ts's defaults are the only ones. */
  static readonly defaults: Settings = Effect.runSync(
    fromConfig.pipe(Effect.provide(ConfigProvider.layer(ConfigProvider.fromUnknown({}))))
  )

  static readonly layer = Layer.effect(LedgerSettings, Effect.map(fromConfig, LedgerSettings.of))

  static readonly layerWith = (overrides: Partial<Settings> = {}) =>
    Layer.succeed(LedgerSettings, LedgerSettings.of({ ...LedgerSettings.defaults, ...overrides }))
}
