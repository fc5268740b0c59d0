import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect } from "effect"
import { AppConfig, historyArchiveDefault } from "../../src/config.ts"
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

  it.effect("HISTORY_ARCHIVE unset: on with the private Redis or with DATABASE_URL, off on a shared Redis without DATABASE_URL", () =>
    Effect.gen(function*() {
      const archive = (env: Record<string, string>) =>
        AppConfig.historyArchive.pipe(Effect.provide(ConfigProvider.layer(ConfigProvider.fromUnknown(env))))
      const db = { DATABASE_URL: "postgres://balance@pg:5432/balance" }
      const redisUrl = { REDIS_URL: "redis://redis:6379" }
      const sentinels = { REDIS_SENTINELS: "s1:26379,s2:26379" }
      // The service's own Redis: nobody else trims it.
      assert.strictEqual(yield* archive({}), "on")
      assert.strictEqual(yield* archive(db), "on")
      // A shared Redis: on only with the PostgreSQL every instance shares.
      assert.strictEqual(yield* archive(redisUrl), "off")
      assert.strictEqual(yield* archive(sentinels), "off")
      assert.strictEqual(yield* archive({ ...redisUrl, ...db }), "on")
      assert.strictEqual(yield* archive({ ...sentinels, ...db }), "on")
      // Empty values are unset, as everywhere in config.
      assert.strictEqual(yield* archive({ ...redisUrl, DATABASE_URL: "" }), "off")
      assert.strictEqual(yield* archive({ REDIS_URL: "", DATABASE_URL: "" }), "on")
      // An explicit value keeps its meaning (one instance on an external Redis with its private PostgreSQL).
      assert.strictEqual(yield* archive({ ...redisUrl, HISTORY_ARCHIVE: "on" }), "on")
      assert.strictEqual(yield* archive({ HISTORY_ARCHIVE: "off" }), "off")
      assert.strictEqual(yield* archive({ ...redisUrl, ...db, HISTORY_ARCHIVE: "off" }), "off")
      // A bad value still fails the start, naming the variable.
      const bad = yield* Effect.result(archive({ HISTORY_ARCHIVE: "yes" }))
      assert.isTrue(bad._tag === "Failure")
      assert.include(String(bad._tag === "Failure" ? bad.failure : ""), "HISTORY_ARCHIVE")
    }))

  it.effect("CLOSED_RETENTION_MS: by default IDEMPOTENCY_TTL_MS's default (a retry within the idempotency window meets the object in Redis); 0 allowed, negative refused", () =>
    Effect.gen(function*() {
      const read = (env: Record<string, string>) =>
        Effect.result(Effect.all([AppConfig.closedRetentionMs, AppConfig.idempotencyTtlMs])).pipe(
          Effect.provide(ConfigProvider.layer(ConfigProvider.fromUnknown(env)))
        )
      const defaults = yield* read({})
      assert.isTrue(defaults._tag === "Success" && defaults.success[0] === 86_400_000 && defaults.success[0] === defaults.success[1])
      const zero = yield* read({ CLOSED_RETENTION_MS: "0" })
      assert.isTrue(zero._tag === "Success" && zero.success[0] === 0)
      const negative = yield* read({ CLOSED_RETENTION_MS: "-1" })
      assert.include(String(negative._tag === "Failure" ? negative.failure : ""), "CLOSED_RETENTION_MS must not be negative")
    }))

  it("historyArchiveDefault: off exactly on a shared Redis without a shared database", () => {
    assert.strictEqual(historyArchiveDefault({ sharedRedis: false, sharedDatabase: false }), "on")
    assert.strictEqual(historyArchiveDefault({ sharedRedis: false, sharedDatabase: true }), "on")
    assert.strictEqual(historyArchiveDefault({ sharedRedis: true, sharedDatabase: true }), "on")
    assert.strictEqual(historyArchiveDefault({ sharedRedis: true, sharedDatabase: false }), "off")
  })

  it("the ledger's default settings are config's defaults (one list of them)", () => {
    const d = LedgerSettings.defaults
    assert.deepStrictEqual(d.rules, { rake: { basisPoints: 0, capChips: 0, minPotChips: 0 }, reservationTimeoutMs: 30_000 })
    assert.deepInclude(d, { hmacKey: undefined, idempotencyTtlMs: 86_400_000, cacheMaxObjects: 100_000, conflictRetries: 100, keyWaitMs: 3_000 })
  })
})
