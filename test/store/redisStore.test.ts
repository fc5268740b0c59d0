import { assert, layer } from "@effect/vitest"
import { ConfigProvider, Effect, Layer } from "effect"
import { walletKey, type WalletState } from "../../src/domain/accounts.ts"
import { redisKeys } from "../../src/store/redis/redisKeys.ts"
import { RedisStore, type RedisStoreOptions } from "../../src/store/redis/RedisStore.ts"
import { Store } from "../../src/store/Store.ts"
import { TestRedis } from "../support/redisServer.ts"
import { ensure, eventually, execApplied, planCommand, request } from "./planFixtures.ts"
import { storeConformance } from "./storeConformance.ts"
import { fingerprintOf } from "../support/fingerprints.ts"

const storeOn = (keyPrefix: string, options: Partial<RedisStoreOptions> = {}, transport: "tcp" | "socket" = "tcp") =>
  Layer.unwrap(
    Effect.gen(function*() {
      const server = yield* TestRedis
      return RedisStore.layer({
        url: transport === "tcp" ? server.url : server.socketUrl,
        keyPrefix,
        commandTimeoutMs: 1000,
        retryAttempts: 2,
        eventsMaxLen: 1000,
        ...options
      })
    })
  )

storeConformance("RedisStore", { shared: TestRedis.layer, freshStore: (ns) => storeOn(ns), clock: "live" })
// Compact records are the default; hashes are what a rollout next to earlier versions writes.
storeConformance("RedisStore with hash idempotency records (IDEMPOTENCY_RECORDS=hash)", {
  shared: TestRedis.layer,
  freshStore: (ns) => storeOn(ns, { compactIdempotency: false }),
  clock: "live"
})
// How `npm start` reaches its private redis-server.
storeConformance("RedisStore over a Unix socket", {
  shared: TestRedis.layer,
  freshStore: (ns) => storeOn(ns, {}, "socket"),
  clock: "live"
})


const balanceOf = (accountId: string) =>
  Effect.map(
    Store.use((s) => s.load([walletKey(accountId)])),
    (snap) => (snap.objects.get(walletKey(accountId))?.value as WalletState | null)?.balance ?? null
  )

layer(TestRedis.layer, { excludeTestServices: true })("RedisStore on a real redis-server", (it) => {
  it.effect("writes exactly the keys redisKeys documents", () =>
    Effect.gen(function*() {
      yield* execApplied(
        { op: "EnsureAccount", accountId: "alice", initialBalance: 5 },
        { idempotency: { key: "k1", fingerprint: fingerprintOf("f"), ttlMs: 60_000 } }
      )
      const raw = yield* TestRedis.rawClient
      const k = redisKeys("layout:")
      assert.deepStrictEqual((yield* Effect.promise(() => raw.keys("layout:*"))).sort(), [
        k.accounts, k.events, k.idempotency("k1"), k.ledger("w:alice"), k.object("w:alice"), k.stats, k.system,
        k.transfers("w:alice"), k.transfers("x:mint")
      ].sort())
      const hash = yield* Effect.promise(() => raw.hgetall(k.object("w:alice")))
      assert.strictEqual(hash.v, "1")
      assert.strictEqual((JSON.parse(hash.d!) as WalletState).balance, 5)
      assert.strictEqual(yield* Effect.promise(() => raw.type(k.events)), "stream")
      assert.isAbove(yield* Effect.promise(() => raw.pttl(k.idempotency("k1"))), 0)
    }).pipe(Effect.provide(storeOn("layout:"))))

  it.effect("RedisStore.layerConfig takes REDIS_URL and REDIS_KEY_PREFIX from config", () =>
    Effect.gen(function*() {
      const server = yield* TestRedis
      const program = Effect.gen(function*() {
        yield* Store.use((s) => s.ping())
        yield* ensure("cfg-user", 3)
      }).pipe(
        Effect.provide(RedisStore.layerConfig.pipe(Layer.provide(ConfigProvider.layer(ConfigProvider.fromUnknown({
          REDIS_URL: server.url,
          REDIS_KEY_PREFIX: "cfg:"
        })))))
      )
      yield* program
      const raw = yield* TestRedis.rawClient
      assert.strictEqual(yield* Effect.promise(() => raw.hget(redisKeys("cfg:").object("w:cfg-user"), "v")), "1")
    }))

  it.effect("a version changed behind the store's back is a conflict carrying the tampered state", () =>
    Effect.gen(function*() {
      yield* ensure("tam", 10)
      const stale = yield* planCommand({ op: "Deposit", accountId: "tam", amount: 1, source: "s", idempotencyKey: "d" })
      const raw = yield* TestRedis.rawClient
      yield* Effect.promise(() => raw.hset(redisKeys("tamper:").object(walletKey("tam")), "v", "99"))
      const result = yield* Store.use((s) => s.apply(request(stale)))
      assert.strictEqual(result._tag, "Conflict")
      if (result._tag === "Conflict") assert.strictEqual(result.current.get(walletKey("tam"))!.version, 99)
      assert.strictEqual(yield* balanceOf("tam"), 10)
    }).pipe(Effect.provide(storeOn("tamper:"))))

  it.effect("after SCRIPT FLUSH (NOSCRIPT) apply and load still work", () =>
    Effect.gen(function*() {
      yield* ensure("ns", 1)
      const raw = yield* TestRedis.rawClient
      assert.strictEqual(yield* Effect.promise(() => raw.script("FLUSH")), "OK")
      yield* execApplied({ op: "Deposit", accountId: "ns", amount: 2, source: "s", idempotencyKey: "d1" })
      yield* Effect.promise(() => raw.script("FLUSH"))
      assert.strictEqual(yield* balanceOf("ns"), 3)
      yield* Effect.promise(() => raw.script("FLUSH"))
      assert.strictEqual((yield* Store.use((s) => s.transfers("w:ns", null, 10))).items.length, 2)
    }).pipe(Effect.provide(storeOn("noscript:"))))

  it.effect("an acknowledged write survives kill -9 of redis-server (AOF fsync always)", () =>
    Effect.gen(function*() {
      const server = yield* TestRedis
      yield* ensure("durable", 42)
      yield* Effect.promise(server.kill9)
      yield* Effect.promise(server.restart)
      assert.strictEqual(yield* eventually(balanceOf("durable"), (b) => b === 42), 42)
    }).pipe(Effect.provide(storeOn("durable:"))))

  it.effect("StoreUnavailable (typed) while redis-server is down, recovery when it is back", () =>
    Effect.gen(function*() {
      const server = yield* TestRedis
      const store = yield* Store
      yield* ensure("outage", 1)
      const next = yield* planCommand({ op: "Deposit", accountId: "outage", amount: 1, source: "s", idempotencyKey: "o1" })
      yield* Effect.promise(server.stop)
      const started = Date.now()
      const pingError = yield* Effect.flip(store.ping())
      assert.strictEqual(pingError._tag, "StoreUnavailable")
      assert.strictEqual(pingError.operation, "ping")
      const applyError = yield* Effect.flip(store.apply(request(next)))
      assert.strictEqual(applyError._tag, "StoreUnavailable")
      assert.isBelow(Date.now() - started, 5_000, "fails fast instead of queueing")
      yield* Effect.promise(server.restart)
      yield* eventually(Effect.as(store.ping(), true), () => true)
      assert.strictEqual((yield* store.apply(request(next)))._tag, "Applied")
      assert.strictEqual(yield* balanceOf("outage"), 2)
    }).pipe(Effect.provide(storeOn("outage:", { commandTimeoutMs: 300, retryAttempts: 1 }))))
})
