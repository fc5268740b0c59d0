import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import { Redis } from "ioredis"
import type { Command } from "../../src/domain/commands.ts"
import { Ledger } from "../../src/ledger/Ledger.ts"
import { fingerprint } from "../../src/ledger/fingerprint.ts"
import { redisKeys } from "../../src/store/redis/redisKeys.ts"
import { redisStoreLayer } from "../../src/store/redis/RedisStore.ts"
import { ledgerOn } from "../support/ledgerLayers.ts"
import { TestRedis } from "../support/redisServer.ts"

/** The ledger on the test Redis under `prefix`, and a plain client to look at what it stored. */
const onRedis = (prefix: string) =>
  Effect.gen(function*() {
    const server = yield* TestRedis
    const raw = yield* Effect.acquireRelease(Effect.sync(() => new Redis(server.url)), (r) => Effect.sync(() => r.disconnect()))
    const ledger = ledgerOn(redisStoreLayer({ url: server.url, keyPrefix: prefix }))
    return { raw, keys: redisKeys(prefix), ledger }
  })

layer(TestRedis.layer, { excludeTestServices: true })("Idempotency records in Redis", (it) => {
  it.effect("a buy-in's record is one string, fingerprint and response, at most 65 % of the hash records were (~265 against ~450 bytes for a UUID key)", () =>
    Effect.gen(function*() {
      const { raw, keys, ledger } = yield* onRedis("balance:")
      const reserve: Command = {
        op: "Reserve", accountId: "player-0042", tableId: "table-07", amount: 200, timeoutMs: 30_000,
        idempotencyKey: "3f1c2a9e-7b4d-4e21-9c55-0d8a6b7e1f20"
      }
      const result = yield* Effect.gen(function*() {
        const l = yield* Ledger
        yield* l.execute({ op: "EnsureAccount", accountId: "player-0042", initialBalance: 1_000 })
        return (yield* l.execute(reserve)).result
      }).pipe(Effect.provide(ledger))
      const key = keys.idempotency(`Reserve:${reserve.idempotencyKey}`)
      assert.strictEqual(yield* Effect.promise(() => raw.type(key)), "string")
      assert.strictEqual(yield* Effect.promise(() => raw.get(key)), `${fingerprint(reserve)}|${JSON.stringify(result)}`)
      // The same record as the previous version stored it, under a key of the same length.
      const oldKey = key.replace("Reserve:", "Reserv0:")
      yield* Effect.promise(() => raw.hset(oldKey, "f", `${fingerprint(reserve)}${"0".repeat(32)}`, "r", JSON.stringify(result)))
      yield* Effect.promise(() => raw.pexpire(oldKey, 60_000))
      const now = Number(yield* Effect.promise(() => raw.memory("USAGE", key)))
      const before = Number(yield* Effect.promise(() => raw.memory("USAGE", oldKey)))
      assert.isAtMost(now, before * 0.65, `${now} bytes now, ${before} as a hash`)
    }))

  it.effect("a record the previous version wrote (a hash with a 64-hex fingerprint) still answers replays and refuses another request", () =>
    Effect.gen(function*() {
      const { raw, keys, ledger } = yield* onRedis("old-records:")
      const deposit: Command = { op: "Deposit", accountId: "olive", amount: 10, source: "PROMO", idempotencyKey: "dep-1" }
      yield* Effect.gen(function*() {
        const l = yield* Ledger
        yield* l.execute({ op: "EnsureAccount", accountId: "olive", initialBalance: 0 })
        const first = yield* l.execute(deposit)
        // As the previous version stored it: HSET f <full SHA-256> r <response>.
        const key = keys.idempotency("Deposit:dep-1")
        const stored = (yield* Effect.promise(() => raw.get(key)))!
        const response = stored.slice(stored.indexOf("|") + 1)
        const fullFingerprint = `${fingerprint(deposit)}${"0".repeat(32)}`
        yield* Effect.promise(() => raw.del(key))
        yield* Effect.promise(() => raw.hset(key, "f", fullFingerprint, "r", response))
        yield* Effect.promise(() => raw.pexpire(key, 60_000))
        const again = yield* l.execute(deposit)
        assert.isTrue(again.replayed)
        assert.deepStrictEqual(again.result, first.result)
        const reused = yield* Effect.flip(l.execute({ ...deposit, amount: 11 }))
        assert.strictEqual((reused as { code?: string }).code, "IDEMPOTENCY_KEY_REUSED")
        assert.strictEqual((yield* l.wallet("olive")).value?.balance, 10, "nothing moved twice")
      }).pipe(Effect.provide(ledger))
    }))
})
