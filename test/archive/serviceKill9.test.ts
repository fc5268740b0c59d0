import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import type { AccountRef } from "../../src/domain/accounts.ts"
import { HistoryStore } from "../../src/history/HistoryStore.ts"
import { RedisStore } from "../../src/store/redis/RedisStore.ts"
import { Store } from "../../src/store/Store.ts"
import { type ChaosClient, chaosClient } from "../chaos/support/grpcClient.ts"
import { metricSum, parseMetrics, removeDir, type ServiceProcess, startService } from "../chaos/support/serviceProcess.ts"
import { assertBooksBalance, auditBooks, resendInFlight, startWorkload } from "../chaos/support/workload.ts"
import { eventually } from "../support/eventually.ts"
import { startTestPostgresServer, type TestPostgresServer } from "../support/postgresServer.ts"
import { startTestRedisServer, type TestRedisServer } from "../support/redisServer.ts"

/**
 * kill -9 of the service while it archives (HISTORY_ARCHIVE=on, the default):
 * a real redis-server and PostgreSQL started here, the service as a child
 * process under a running game, batches of 20 events every 100 ms so that the
 * kill lands between a commit and its trim, or inside either. A new process on
 * the same DATA_DIR takes the lease over (the dead one's expires) and goes on
 * from the archive's cursor. Then: no acknowledged command lost or applied
 * twice (the books, per-wallet entries, replays), every account's archived
 * chain is seq 1..n without a gap or a repeat and ends where Redis' chain goes
 * on, Redis trimmed nothing PostgreSQL does not hold, and a full verification
 * across both tiers is clean.
 */

let redis: TestRedisServer
let postgres: TestPostgresServer
let first: ServiceProcess | undefined
let second: ServiceProcess | undefined
const clients: Array<ChaosClient> = []

const env = (url: string) => ({
  DATABASE_URL: url,
  ARCHIVE_INTERVAL_MS: "100",
  ARCHIVE_BATCH_EVENTS: "20",
  // The new process takes over within a few seconds of the dead one's last renewal.
  ARCHIVE_LEASE_MS: "3000"
})

beforeAll(async () => {
  redis = await startTestRedisServer()
  postgres = await startTestPostgresServer()
  first = await startService({ redisUrl: redis.url, env: env(postgres.url) })
}, 90_000)

afterAll(async () => {
  for (const c of clients) c.close()
  await first?.kill9()
  await second?.terminate()
  await redis?.dispose()
  await postgres?.dispose()
  if (first) removeDir(first.dataDir)
})

const rowsArchived = async (service: ServiceProcess) => metricSum(parseMetrics(await service.metrics()), "balance_archive_rows_total")

/** Both tiers as the test reads them directly: the service's Redis (default key prefix) and the archive. */
const tiers = () =>
  Layer.mergeAll(
    RedisStore.layer({ url: redis.url, keyPrefix: "balance:", commandTimeoutMs: 5_000, retryAttempts: 2, eventsMaxLen: Number.MAX_SAFE_INTEGER }),
    HistoryStore.layer(postgres.url)
  )

/** Per account: Redis' head and trimmed-through seq, and the archive's seqs in order. */
const readTiers = () => Effect.gen(function*() {
  const store = yield* Store
  const history = yield* HistoryStore
  const accounts: Array<AccountRef> = [...(yield* store.accounts(null, 10_000)).items, ...(yield* store.closedAccounts(0, null, 10_000)).items]
  const heads = yield* history.heads(accounts)
  const out: Array<{ account: AccountRef; redisHead: number; trimmedThrough: number; archivedHead: number; archivedSeqs: Array<number> }> = []
  for (const account of accounts) {
    const { trimmedThrough } = yield* store.entryPage(account, 0, 1)
    const live = yield* store.load([account])
    const value = live.objects.get(account)?.value as { seq?: number } | undefined
    const archived = yield* history.entries(account, 0, 1_000_000)
    out.push({
      account,
      redisHead: value?.seq ?? 0,
      trimmedThrough,
      archivedHead: heads.get(account)?.seq ?? 0,
      archivedSeqs: archived.map((e) => e.seq)
    })
  }
  return out
}).pipe(Effect.provide(tiers()), Effect.scoped)

const PLAYERS = 6

describe("kill -9 of the service in the middle of archiving", () => {
  it("a new process goes on: nothing lost, nothing twice in PostgreSQL, nothing trimmed that PostgreSQL did not commit, the chains verify", async () => {
    const service = first!
    const client = chaosClient(service.grpcAddress)
    clients.push(client)
    const w = await startWorkload({ client, service }, { prefix: "ak9", players: PLAYERS, maxRounds: 10_000, cashierPaceMs: 10, readerPaceMs: 50 })
    let halted = false
    let archivedAtKill = 0
    try {
      await eventually("a few rounds per player", () => (w.rounds() >= PLAYERS * 3 ? true : undefined), { timeoutMs: 90_000 })
      // Archiving under way: rows committed, and more coming (the game goes on).
      const started = await eventually("the archiver to have committed rows", async () => {
        const n = await rowsArchived(service)
        return n > 0 ? n : undefined
      }, { timeoutMs: 30_000 })
      archivedAtKill = await eventually("the archiver to commit more while the game runs", async () => {
        const n = await rowsArchived(service)
        return n > started ? n : undefined
      }, { timeoutMs: 30_000 })
      const halting = w.halt()
      halted = true
      await service.kill9()
      await halting
    } finally {
      if (!halted) await w.stop()
    }
    assert.deepStrictEqual(w.stats.unexpected, [], "answers outside the contract before the kill")

    // Right after the kill, before any restart: whatever Redis trimmed, PostgreSQL holds.
    for (const t of await Effect.runPromise(readTiers())) {
      assert.isAtMost(t.trimmedThrough, t.archivedHead, `${t.account}: trimmed beyond the archive at the kill`)
    }

    second = await startService({ redisUrl: redis.url, dataDir: service.dataDir, ports: service.ports, env: env(postgres.url) })
    const client2 = chaosClient(second.grpcAddress)
    clients.push(client2)
    const target = { client: client2, service: second }
    // The commands in flight at the kill, sent again with the same key (what a game does).
    const resolved = await resendInFlight(target, w)

    // The new process archives everything: each account's archived chain reaches Redis' head.
    const caughtUp = await eventually("the archive to catch up with Redis", async () => {
      const tiersNow = await Effect.runPromise(readTiers())
      return tiersNow.every((t) => t.archivedHead === t.redisHead) ? tiersNow : undefined
    }, { timeoutMs: 60_000, intervalMs: 500 })
    let trimmedAccounts = 0
    for (const t of caughtUp) {
      assert.deepStrictEqual(t.archivedSeqs, Array.from({ length: t.archivedHead }, (_, i) => i + 1), `${t.account}: archived seqs 1..n, none missing, none twice`)
      assert.isAtMost(t.trimmedThrough, t.archivedHead, `${t.account}: trimmed beyond the archive`)
      if (t.trimmedThrough > 0) trimmedAccounts += 1
    }
    assert.isAbove(trimmedAccounts, 0, "the archive trimmed Redis (the test exercised the trim)")

    const audit = await auditBooks(target, [...w.acks, ...resolved], w.accounts)
    console.log(
      `[archive kill -9] acknowledged ${w.acks.length}, in flight at the kill ${resolved.length}, rows archived by the killed process ${archivedAtKill}, ` +
        `accounts ${caughtUp.length} (trimmed in Redis: ${trimmedAccounts}), archived entries ${caughtUp.reduce((n, t) => n + t.archivedHead, 0)}; ` +
        `lost ${audit.lost}, duplicated ${audit.duplicated}`
    )
    // Books, entries per wallet, replays from stored keys, and a full verification across both tiers.
    assertBooksBalance(audit, "the model of acknowledged (and resolved in-flight) commands")
  }, 240_000)
})
