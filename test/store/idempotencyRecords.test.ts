import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import { Redis } from "ioredis"
import type { Command } from "../../src/domain/commands.ts"
import { Ledger } from "../../src/ledger/Ledger.ts"
import { compactFingerprint, fingerprint } from "../../src/domain/fingerprint.ts"
import { redisKeys } from "../../src/store/redis/redisKeys.ts"
import { encodeStoredResponse } from "../../src/store/redis/storedResponse.ts"
import { RedisStore } from "../../src/store/redis/RedisStore.ts"
import { ledgerOn } from "../support/ledgerLayers.ts"
import { TestRedis } from "../support/redisServer.ts"

/**
 * The ledger on the test Redis under `prefix`, writing compact idempotency records or (`hashLedger`)
 * hashes as every earlier version did, and a plain client to look at what they stored.
 */
const onRedis = (prefix: string) =>
  Effect.gen(function*() {
    const server = yield* TestRedis
    const raw = yield* Effect.acquireRelease(Effect.sync(() => new Redis(server.url)), (r) => Effect.sync(() => r.disconnect()))
    const ledger = ledgerOn(RedisStore.layer({ url: server.url, keyPrefix: prefix, compactIdempotency: true }))
    const hashLedger = ledgerOn(RedisStore.layer({ url: server.url, keyPrefix: prefix, compactIdempotency: false }))
    return { raw, keys: redisKeys(prefix), ledger, hashLedger }
  })

layer(TestRedis.layer, { excludeTestServices: true })("Idempotency records in Redis", (it) => {
  it.effect("a buy-in's record is one string, fingerprint and compact response, at most half of what the hash records were (~216 against ~450 bytes for a UUID key)", () =>
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
      assert.strictEqual(yield* Effect.promise(() => raw.get(key)), `${compactFingerprint(fingerprint(reserve))}${encodeStoredResponse(result)}`)
      // The same record as the previous version stored it, under a key of the same length.
      const oldKey = key.replace("Reserve:", "Reserv0:")
      yield* Effect.promise(() => raw.hset(oldKey, "f", fingerprint(reserve), "r", JSON.stringify(result)))
      yield* Effect.promise(() => raw.pexpire(oldKey, 60_000))
      const now = Number(yield* Effect.promise(() => raw.memory("USAGE", key)))
      const before = Number(yield* Effect.promise(() => raw.memory("USAGE", oldKey)))
      assert.isAtMost(now, before * 0.5, `${now} bytes now, ${before} as a hash`)
    }))

  it.effect("records written as hashes (earlier versions, IDEMPOTENCY_RECORDS=hash) and compact ones answer replays and refuse other requests on either kind of instance", () =>
    Effect.gen(function*() {
      const { raw, keys, ledger, hashLedger } = yield* onRedis("mixed-records:")
      const deposit = (key: string, amount = 10): Command => ({ op: "Deposit", accountId: "olive", amount, source: "PROMO", idempotencyKey: key })
      const run = <A, E>(on: typeof ledger, f: (l: Ledger["Service"]) => Effect.Effect<A, E>) =>
        Ledger.use(f).pipe(Effect.provide(on))
      yield* run(hashLedger, (l) => l.execute({ op: "EnsureAccount", accountId: "olive", initialBalance: 0 }))
      const byHash = yield* run(hashLedger, (l) => l.execute(deposit("h-1")))
      const byCompact = yield* run(ledger, (l) => l.execute(deposit("c-1")))
      assert.strictEqual(yield* Effect.promise(() => raw.type(keys.idempotency("Deposit:h-1"))), "hash")
      assert.strictEqual(yield* Effect.promise(() => raw.type(keys.idempotency("Deposit:c-1"))), "string")
      for (const [on, key, first] of [[ledger, "h-1", byHash], [hashLedger, "c-1", byCompact], [ledger, "c-1", byCompact]] as const) {
        const again = yield* run(on, (l) => l.execute(deposit(key)))
        assert.isTrue(again.replayed, key)
        assert.deepStrictEqual(again.result, first.result)
        const reused = yield* Effect.flip(run(on, (l) => l.execute(deposit(key, 11))))
        assert.strictEqual((reused as { code?: string }).code, "IDEMPOTENCY_KEY_REUSED", key)
      }
      assert.strictEqual((yield* run(ledger, (l) => l.wallet("olive"))).value?.balance, 20, "nothing moved twice")
    }))

  it.effect("a compact record of an earlier version (\"<fingerprint>|<response JSON>\") still answers its replay and refuses another request", () =>
    Effect.gen(function*() {
      const { raw, keys, ledger } = yield* onRedis("earlier-compact:")
      const deposit = (amount: number): Command => ({ op: "Deposit", accountId: "pia", amount, source: "PROMO", idempotencyKey: "e-1" })
      const first = { transactionId: "7d0e3c1a-1111-4222-8333-944455556666", accountId: "pia", amount: 10, balance: 10, availableBalance: 10 }
      yield* Ledger.use((l) => l.execute({ op: "EnsureAccount", accountId: "pia", initialBalance: 0 })).pipe(Effect.provide(ledger))
      yield* Effect.promise(() =>
        raw.set(keys.idempotency("Deposit:e-1"), `${fingerprint(deposit(10)).slice(0, 32)}|${JSON.stringify(first)}`, "PX", 60_000)
      )
      const again = yield* Ledger.use((l) => l.execute(deposit(10))).pipe(Effect.provide(ledger))
      assert.isTrue(again.replayed)
      assert.deepStrictEqual(again.result, first)
      const reused = yield* Effect.flip(Ledger.use((l) => l.execute(deposit(11))).pipe(Effect.provide(ledger)))
      assert.strictEqual((reused as { code?: string }).code, "IDEMPOTENCY_KEY_REUSED")
      assert.strictEqual((yield* Ledger.use((l) => l.wallet("pia")).pipe(Effect.provide(ledger))).value?.balance, 0, "nothing moved")
    }))
})
