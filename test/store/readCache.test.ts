import { assert, layer } from "@effect/vitest"
import { Context, Effect, Fiber, Layer } from "effect"
import { Redis } from "ioredis"
import { walletKey, type WalletState } from "../../src/domain/accounts.ts"
import { Metrics } from "../../src/observability/Metrics.ts"
import { RedisStore } from "../../src/store/redis/RedisStore.ts"
import { Store } from "../../src/store/Store.ts"
import { eventuallyEffect } from "../support/eventually.ts"
import { TestRedis } from "../support/redisServer.ts"
import { planCommand, request, unique } from "./planFixtures.ts"

/**
 * READ_CACHE across instances: two RedisStores (each its own connections, cache and Prometheus
 * registry, as two service instances have) on one real redis-server. Every read on one after a
 * write acknowledged on the other must see that write, also while and after tracking is lost.
 */

interface Instance {
  readonly store: Store["Service"]
  readonly metrics: Metrics["Service"]
}

/** One "service instance": a store with its own Metrics, built in the test's scope. */
const instance = (url: string, keyPrefix: string, options: { readonly readCache?: boolean } = {}) =>
  Effect.gen(function*() {
    const context = yield* Layer.build(
      RedisStore.layer({ url, keyPrefix, commandTimeoutMs: 1000, retryAttempts: 3, eventsMaxLen: 1000, ...options }).pipe(
        Layer.provideMerge(Metrics.layer)
      )
    )
    return { store: Context.get(context, Store), metrics: Context.get(context, Metrics) } satisfies Instance
  })

const metricValue = (metrics: Metrics["Service"], name: string, labels: Record<string, string> = {}) =>
  Effect.promise(async () => {
    const metric = metrics.registry.getSingleMetric(name)
    if (!metric) return -1
    const { values } = await metric.get()
    const found = values.find((v) => Object.entries(labels).every(([k, want]) => String(v.labels[k]) === want))
    return found?.value ?? 0
  })

const hits = (i: Instance) => metricValue(i.metrics, "balance_read_cache_lookups_total", { result: "hit" })

/** Waits until the instance's cache answers (tracking established). */
const awaitLive = (i: Instance) =>
  eventuallyEffect("the read cache to be live", Effect.map(metricValue(i.metrics, "balance_read_cache_live"), (v) => v === 1))

const balanceOn = (i: Instance, accountId: string) =>
  Effect.map(i.store.load([walletKey(accountId)]), (s) => (s.objects.get(walletKey(accountId))?.value as WalletState | null)?.balance ?? null)

/** Plans on `i` and applies there until Applied (another instance may move the version meanwhile). */
const applyOn = (i: Instance, command: Parameters<typeof planCommand>[0]) =>
  Effect.gen(function*() {
    for (let attempt = 0; attempt < 20; attempt++) {
      const p = yield* planCommand(command).pipe(Effect.provideService(Store, i.store))
      const result = yield* i.store.apply(request(p))
      if (result._tag === "Applied") return
    }
    return yield* Effect.die(new Error(`${command.op} was never applied`))
  })

const deposit = (i: Instance, accountId: string, amount: number) =>
  applyOn(i, { op: "Deposit", accountId, amount, source: "test", idempotencyKey: unique("dep-") })


/** CLIENT KILL of every connection matching `pick` (a CLIENT LIST line); how many were killed. */
const killClients = (raw: Redis, pick: (line: string) => boolean) =>
  Effect.promise(async () => {
    const lines = String(await raw.client("LIST")).split("\n").filter((l) => l.trim() !== "" && pick(l))
    for (const line of lines) await raw.client("KILL", "ID", /\bid=(\d+)/.exec(line)![1]!)
    return lines.length
  })

layer(TestRedis.layer, { excludeTestServices: true })("READ_CACHE: cached reads across instances", (it) => {
  it.effect("hundreds of rounds: a write acknowledged on one instance is read on the other right after", () =>
    Effect.gen(function*() {
      const server = yield* TestRedis
      const a = yield* instance(server.url, "fresh:")
      const b = yield* instance(server.url, "fresh:")
      yield* awaitLive(a)
      yield* awaitLive(b)
      const accounts = Array.from({ length: 6 }, (_, n) => `u${n}`)
      const expected = new Map<string, number>()
      for (const account of accounts) {
        yield* applyOn(a, { op: "EnsureAccount", accountId: account, initialBalance: 100 })
        expected.set(account, 100)
      }
      const stale: Array<string> = []
      for (let round = 0; round < 400; round++) {
        const account = accounts[Math.floor(Math.random() * accounts.length)]!
        const [writer, reader] = Math.random() < 0.5 ? [a, b] : [b, a]
        // Read twice first, so that the reader holds the object in its cache (the second is a hit).
        yield* balanceOn(reader, account)
        yield* balanceOn(reader, account)
        const amount = 1 + Math.floor(Math.random() * 5)
        yield* deposit(writer, account, amount)
        expected.set(account, expected.get(account)! + amount)
        const seen = yield* balanceOn(reader, account)
        if (seen !== expected.get(account)) stale.push(`round ${round} ${account}: read ${seen}, acknowledged ${expected.get(account)}`)
      }
      assert.deepStrictEqual(stale, [])
      // The cache really answered (the rounds above were not all served by Redis).
      assert.isAbove((yield* hits(a)) + (yield* hits(b)), 300)
    }).pipe(Effect.scoped), { timeout: 60_000 })

  it.effect("the barrier: the hits of one event-loop turn share one PING; while PINGs wait, each later turn sends its own (up to 4), the rest share the next", () =>
    Effect.gen(function*() {
      const server = yield* TestRedis
      const raw = yield* TestRedis.rawClient
      const a = yield* instance(server.url, "barrier:")
      yield* awaitLive(a)
      yield* applyOn(a, { op: "EnsureAccount", accountId: "p", initialBalance: 70 })
      yield* balanceOn(a, "p") // fills the cache: every read below is a hit
      const pings = Effect.promise(async () => Number(/cmdstat_ping:calls=(\d+)/.exec(await raw.info("commandstats"))?.[1] ?? 0))
      const nextTurn = Effect.promise(() => new Promise<void>((resolve) => setImmediate(resolve)))
      const hitsBefore = yield* hits(a)

      const before = yield* pings
      const sameTurn = yield* Effect.all(Array.from({ length: 10 }, () => balanceOn(a, "p")), { concurrency: "unbounded" })
      assert.deepStrictEqual(sameTurn, Array.from({ length: 10 }, () => 70))
      assert.strictEqual((yield* pings) - before, 1, "ten hits of one turn: one PING")

      // Redis holds every command back for a while: PINGs sent meanwhile stay in flight.
      const held = yield* pings
      yield* Effect.promise(() => raw.client("PAUSE", 500, "ALL"))
      const reads = []
      for (let turn = 0; turn < 6; turn++) {
        reads.push(yield* Effect.forkChild(balanceOn(a, "p")))
        yield* nextTurn
        yield* nextTurn
      }
      const answers = yield* Effect.forEach(reads, Fiber.join)
      assert.deepStrictEqual(answers, [70, 70, 70, 70, 70, 70])
      assert.strictEqual((yield* pings) - held, 5, "four turns pipelined their PINGs; the last two shared the one sent after the first PONG")
      assert.strictEqual((yield* hits(a)) - hitsBefore, 16, "every read above was a hit")
    }).pipe(Effect.scoped), { timeout: 30_000 })

  it.effect("concurrent readers on one instance while the other writes: no read older than the last acknowledged write", () =>
    Effect.gen(function*() {
      const server = yield* TestRedis
      const a = yield* instance(server.url, "concurrent:")
      const b = yield* instance(server.url, "concurrent:")
      yield* awaitLive(b)
      yield* applyOn(a, { op: "EnsureAccount", accountId: "c", initialBalance: 0 })
      let acknowledged = 0
      let done = false
      const stale: Array<string> = []
      const reader = Effect.gen(function*() {
        while (!done) {
          const floor = acknowledged // acknowledged before this read started
          const seen = (yield* balanceOn(b, "c")) ?? -1
          if (seen < floor) stale.push(`read ${seen} after ${floor} was acknowledged`)
        }
      })
      const writer = Effect.gen(function*() {
        for (let n = 1; n <= 150; n++) {
          yield* deposit(a, "c", 1)
          acknowledged = n
        }
        done = true
      })
      yield* Effect.all([writer, reader, reader, reader, reader], { concurrency: "unbounded" })
      assert.deepStrictEqual(stale, [])
      assert.isAbove(yield* hits(b), 0)
    }).pipe(Effect.scoped), { timeout: 60_000 })

  it.effect("the invalidation connection killed: the next read after another client's write is fresh, and the cache comes back", () =>
    Effect.gen(function*() {
      const server = yield* TestRedis
      const a = yield* instance(server.url, "killsub:")
      const b = yield* instance(server.url, "killsub:")
      const raw = yield* TestRedis.rawClient
      yield* awaitLive(b)
      yield* applyOn(a, { op: "EnsureAccount", accountId: "k", initialBalance: 10 })
      let expected = 10
      for (let round = 0; round < 20; round++) {
        assert.strictEqual(yield* balanceOn(b, "k"), expected)
        assert.strictEqual(yield* balanceOn(b, "k"), expected) // cached
        // Both instances' invalidation connections (the RESP2 subscribers), then a write at once.
        assert.isAtLeast(yield* killClients(raw, (l) => l.includes("name=balance-invalidations-")), 2)
        yield* deposit(a, "k", 1)
        expected += 1
        assert.strictEqual(yield* balanceOn(b, "k"), expected)
        yield* awaitLive(b)
      }
      const before = yield* hits(b)
      assert.strictEqual(yield* balanceOn(b, "k"), expected)
      assert.strictEqual(yield* balanceOn(b, "k"), expected)
      assert.isAbove(yield* hits(b), before) // live again, and answering
    }).pipe(Effect.scoped), { timeout: 60_000 })

  it.effect("the tracked (main) connection killed: tracking is gone with it, the next read is fresh", () =>
    Effect.gen(function*() {
      const server = yield* TestRedis
      const a = yield* instance(server.url, "killmain:")
      const b = yield* instance(server.url, "killmain:")
      const raw = yield* TestRedis.rawClient
      yield* awaitLive(b)
      yield* applyOn(a, { op: "EnsureAccount", accountId: "m", initialBalance: 10 })
      let expected = 10
      for (let round = 0; round < 10; round++) {
        yield* balanceOn(b, "m")
        assert.strictEqual(yield* balanceOn(b, "m"), expected)
        // Connections with tracking on (flags contain t): B's and A's store connections.
        assert.isAtLeast(yield* killClients(raw, (l) => / flags=\S*t\S* /.test(l)), 1)
        yield* deposit(a, "m", 1)
        expected += 1
        assert.strictEqual(yield* balanceOn(b, "m"), expected)
        yield* awaitLive(b)
      }
    }).pipe(Effect.scoped), { timeout: 60_000 })

  it.effect("a write behind the stores' backs (another client) and FLUSHALL invalidate too", () =>
    Effect.gen(function*() {
      const server = yield* TestRedis
      const b = yield* instance(server.url, "behind:")
      const raw = yield* TestRedis.rawClient
      yield* awaitLive(b)
      yield* applyOn(b, { op: "EnsureAccount", accountId: "h", initialBalance: 7 })
      assert.strictEqual(yield* balanceOn(b, "h"), 7)
      assert.strictEqual(yield* balanceOn(b, "h"), 7)
      const key = "behind:obj:w:h"
      const stored = yield* Effect.promise(() => raw.hgetall(key))
      const wallet = JSON.parse(stored.d!) as WalletState
      yield* Effect.promise(() => raw.hset(key, "v", String(Number(stored.v) + 1), "d", JSON.stringify({ ...wallet, balance: 8 })))
      assert.strictEqual(yield* balanceOn(b, "h"), 8)
      assert.strictEqual(yield* balanceOn(b, "h"), 8)
      const flushesBefore = yield* metricValue(b.metrics, "balance_read_cache_flushes_total")
      yield* Effect.promise(() => raw.flushall())
      assert.strictEqual(yield* balanceOn(b, "h"), null)
      assert.isAbove(yield* metricValue(b.metrics, "balance_read_cache_flushes_total"), flushesBefore)
    }).pipe(Effect.scoped))

  it.effect("redis-server killed and restarted: no read answers from before the restart once a write is acknowledged", () =>
    Effect.gen(function*() {
      const server = yield* TestRedis
      const a = yield* instance(server.url, "restart:")
      const b = yield* instance(server.url, "restart:")
      yield* awaitLive(b)
      yield* applyOn(a, { op: "EnsureAccount", accountId: "r", initialBalance: 1 })
      assert.strictEqual(yield* balanceOn(b, "r"), 1)
      assert.strictEqual(yield* balanceOn(b, "r"), 1)
      yield* Effect.promise(() => server.kill9())
      yield* Effect.promise(() => server.restart())
      yield* eventuallyEffect("a write after the restart", Effect.as(deposit(a, "r", 1), true))
      assert.strictEqual(yield* balanceOn(b, "r"), 2)
      yield* awaitLive(b)
      assert.strictEqual(yield* balanceOn(b, "r"), 2)
      assert.strictEqual(yield* balanceOn(b, "r"), 2)
    }).pipe(Effect.scoped), { timeout: 60_000 })

  it.effect("READ_CACHE=off: every load goes to Redis, nothing is counted as a hit", () =>
    Effect.gen(function*() {
      const server = yield* TestRedis
      const b = yield* instance(server.url, "off:", { readCache: false })
      yield* applyOn(b, { op: "EnsureAccount", accountId: "o", initialBalance: 3 })
      for (let n = 0; n < 5; n++) assert.strictEqual(yield* balanceOn(b, "o"), 3)
      assert.strictEqual(yield* hits(b), -1) // not even registered
      const raw = yield* TestRedis.rawClient
      const tracking = String(yield* Effect.promise(() => raw.client("LIST"))).split("\n").filter((l) => / flags=\S*t\S* /.test(l))
      assert.deepStrictEqual(tracking, [])
    }).pipe(Effect.scoped))
})
