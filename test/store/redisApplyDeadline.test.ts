import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { Effect, ManagedRuntime } from "effect"
import { Ledger } from "../../src/ledger/Ledger.ts"
import { RedisStore } from "../../src/store/redis/RedisStore.ts"
import { type ChaosRedis, startChaosRedis } from "../chaos/support/chaosRedis.ts"
import { ledgerOn } from "../support/ledgerLayers.ts"

let redis: ChaosRedis
beforeAll(async () => {
  redis = await startChaosRedis()
})
afterAll(() => redis.dispose())

describe("apply.lua deadline", () => {
  it("a write Redis only gets to run after the caller gave up (UNAVAILABLE) writes nothing; the retry applies it once", async () => {
    const rt = ManagedRuntime.make(ledgerOn(RedisStore.layer({ url: redis.url, keyPrefix: "deadline:", commandTimeoutMs: 300, retryAttempts: 1 })))
    try {
      const withdraw = { op: "Withdraw", accountId: "hung", amount: 30, reason: "desk", idempotencyKey: "w-1" } as const
      await rt.runPromise(Ledger.use((l) => l.execute({ op: "EnsureAccount", accountId: "hung", initialBalance: 100 })))
      redis.freeze()
      let answer: string
      try {
        answer = await rt.runPromise(Ledger.use((l) => l.execute(withdraw)).pipe(Effect.match({ onFailure: (e) => e._tag, onSuccess: () => "ok" })))
      } finally {
        redis.thaw()
      }
      assert.strictEqual(answer, "StoreUnavailable")
      // One connection runs its commands in order: once a fresh read answers, the buffered scripts have run (as LATE).
      const afterThaw = await rt.runPromise(Ledger.use((l) => l.wallet("hung")).pipe(Effect.retry({ times: 20 })))
      assert.isFalse(afterThaw.stale)
      assert.strictEqual(afterThaw.value!.balance, 100)
      const retried = await rt.runPromise(Ledger.use((l) => l.execute(withdraw)))
      assert.isFalse(retried.replayed)
      assert.strictEqual(retried.result.balance, 70)
      const replay = await rt.runPromise(Ledger.use((l) => l.execute(withdraw)))
      assert.isTrue(replay.replayed)
      assert.strictEqual((await rt.runPromise(Ledger.use((l) => l.wallet("hung")))).value!.balance, 70)
    } finally {
      await rt.dispose()
    }
  })
})
