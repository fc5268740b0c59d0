import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { type ChaosRedis, startChaosRedis } from "./support/chaosRedis.ts"
import { type ChaosClient, chaosClient } from "./support/grpcClient.ts"
import { eventually } from "../support/eventually.ts"
import { startTestPostgresServer, type TestPostgresServer } from "../support/postgresServer.ts"
import { metric, metricSum, parseMetrics, removeDir, type ServiceProcess, startService } from "./support/serviceProcess.ts"
import { assertBooksBalance, auditBooks, debitsAnsweredFromKey, startWorkload, summarizeLatency, type Target, waitQueuesDrained } from "./support/workload.ts"

/**
 * Two instances of the service on one Redis, as behind a load balancer: every
 * call goes to the other instance than the one before, so each instance plans
 * from objects the other one changed since it cached them (its writes must be
 * refused by version and re-planned), and two cashier loops deposit into one
 * wallet through both at once. Redis is killed (-9) mid-load and restarted;
 * both instances queue credits meanwhile. Afterwards the books must equal the
 * acknowledged commands exactly, as for one instance, and both instances'
 * background jobs (expiry sweep, verification) must have found nothing wrong.
 * The archive is on (the default) and, as two instances must be deployed,
 * both archive to one PostgreSQL (DATABASE_URL): one archiver at a time by the
 * lease, history reads of either instance across the same two tiers.
 */

let redis: ChaosRedis
let postgres: TestPostgresServer
let services: Array<ServiceProcess> = []
let client: ChaosClient

beforeAll(async () => {
  redis = await startChaosRedis()
  postgres = await startTestPostgresServer()
  // Both verify every 2 s, so their passes overlap the load and each other.
  const env = { LEDGER_VERIFY_INTERVAL_MS: "2000", DATABASE_URL: postgres.url }
  services = await Promise.all([startService({ redisUrl: redis.url, env }), startService({ redisUrl: redis.url, env })])
  client = chaosClient(services.map((s) => s.grpcAddress))
}, 90_000)

afterAll(async () => {
  client?.close()
  await Promise.all(services.map((s) => s.terminate()))
  await redis?.dispose()
  await postgres?.dispose()
  for (const s of services) removeDir(s.dataDir)
})

const PLAYERS = 6

describe("two instances on one Redis, kill -9 of Redis under load", () => {
  it("every acknowledged command is present once, the books balance, neither verifier found anything", async () => {
    const [first, second] = services as [ServiceProcess, ServiceProcess]
    const target: Target = { client, service: first, peers: [second] }
    const verifiedPasses = () =>
      Promise.all(services.map(async (s) => metricSum(parseMetrics(await s.metrics()), "balance_ledger_verification_runs_total", { result: "ok" })))
    const passesBefore = await verifiedPasses()
    const w = await startWorkload(target, { prefix: "two", players: PLAYERS, maxRounds: 10_000, cashierPaceMs: 5, cashiers: 2, readerPaceMs: 50 })
    try {
      await eventually("four rounds per player", () => (w.rounds() >= PLAYERS * 4 ? true : undefined), { timeoutMs: 60_000 })
      await redis.kill9()
      const atKill = w.queuedAcks()
      await eventually("credits queued while Redis is away", () => (w.queuedAcks() > atKill + 4 ? true : undefined), { timeoutMs: 30_000 })
      await redis.restart()
      const roundsAtRestart = w.rounds()
      await eventually("four more rounds per player", () => (w.rounds() >= roundsAtRestart + PLAYERS * 4 ? true : undefined), { timeoutMs: 60_000 })
      // Both verifiers completed passes under load after the restart (the chains they read were moving).
      const passesAtRestart = await verifiedPasses()
      await eventually("a verification pass of each instance under load", async () =>
        (await verifiedPasses()).every((n, i) => n > passesAtRestart[i]! && n > passesBefore[i]!) ? true : undefined, { timeoutMs: 30_000 })
    } finally {
      await w.stop()
    }
    await waitQueuesDrained(target)

    assert.deepStrictEqual(w.stats.unexpected, [], "answers outside the contract")
    // A stale read is the last state *this* instance saw: a read during the outage that lands on the
    // instance which never touched that object has nothing to answer with. Anything else is a failure.
    assert.deepStrictEqual(w.stats.readFailures.filter((f) => !/^\w+: UNAVAILABLE /.test(f)), [], "reads must keep answering")
    const metrics = await Promise.all(services.map(async (s) => parseMetrics(await s.metrics())))
    // Each instance served part of the load and re-planned after the other's writes.
    for (const m of metrics) {
      assert.isAbove(metricSum(m, "balance_ledger_commands_total", { outcome: "ok" }), 100)
      assert.strictEqual(metric(m, "balance_credit_queue_total", { event: "dead_lettered" }), 0)
    }
    const conflicts = metrics.reduce((s, m) => s + metricSum(m, "balance_ledger_conflict_retries_total"), 0)
    assert.isAbove(conflicts, 0, "no write was ever refused by version: the instances did not share objects")
    const landed = await debitsAnsweredFromKey(target)

    const audit = await auditBooks(target, w.acks, w.accounts)
    console.log(
      `[chaos two-instances] acknowledged ${w.acks.length} (${w.queuedAcks()} queued while Redis was away), ` +
        `lost ${audit.lost}, duplicated ${audit.duplicated}, version conflicts re-planned ${conflicts}; ` +
        `keyed replays answered from stored keys ${audit.replays.replaysCounted}/${audit.replays.keyed}; ` +
        `UNAVAILABLE debits ${w.stats.unavailableDebits.length} (${summarizeLatency(w.stats.unavailableDebits.map((d) => d.ms))}; ${landed} had landed)`
    )
    assertBooksBalance(audit)

    // The background passes of both instances ran during the load and the outage and reported nothing.
    for (const s of services) {
      const m = parseMetrics(await s.metrics())
      assert.isAbove(metricSum(m, "balance_ledger_verification_runs_total", { result: "ok" }), 0)
      assert.strictEqual(metricSum(m, "balance_ledger_verification_runs_total", { result: "findings" }), 0)
      assert.strictEqual(metricSum(m, "balance_ledger_verification_failures_total"), 0)
    }
  }, 150_000)
})
