import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { type ChaosRedis, startChaosRedis } from "./support/chaosRedis.ts"
import { type ChaosClient, chaosClient } from "./support/grpcClient.ts"
import { eventually } from "../support/eventually.ts"
import { metric, parseMetrics, removeDir, type ServiceProcess, startService } from "./support/serviceProcess.ts"
import { assertBooksBalance, auditBooks, debitsAnsweredFromKey, startWorkload, summarizeLatency, waitQueueDrained } from "./support/workload.ts"

/**
 * DESIGN 2: Redis runs with AOF appendfsync always, so a write it
 * acknowledged survives kill -9. Redis is SIGKILLed while the service is
 * serving a workload, and restarted on the same port and dir: every command
 * the service acknowledged must be there (balances equal the sum of the
 * acknowledged effects, each acknowledged key replays its answer, nothing
 * applied twice), and the ledger verifies.
 */

let redis: ChaosRedis
let service: ServiceProcess
let client: ChaosClient

beforeAll(async () => {
  redis = await startChaosRedis()
  service = await startService({ redisUrl: redis.url })
  client = chaosClient(service.grpcAddress)
}, 90_000)

afterAll(async () => {
  client?.close()
  await service?.terminate()
  await redis?.dispose()
  if (service) removeDir(service.dataDir)
})

const PLAYERS = 6

describe("kill -9 of Redis (AOF always) under a running workload", () => {
  it("after the restart on the same dir every acknowledged command is present, none twice, the ledger verifies", async () => {
    const target = { client, service }
    const w = await startWorkload(target, { prefix: "k9", players: PLAYERS, maxRounds: 10_000, cashierPaceMs: 10, readerPaceMs: 50 })
    let ackedBeforeKill = 0
    try {
      await eventually("two rounds per player", () => (w.rounds() >= PLAYERS * 2 ? true : undefined), { timeoutMs: 60_000 })
      ackedBeforeKill = w.acks.length
      await redis.kill9()
      // Mid-workload: restart as soon as the clients have noticed (a supervisor restarting it).
      const atKill = { queued: w.queuedAcks(), unavailable: w.stats.unavailableDebits.length }
      await eventually("the clients to notice", () =>
        w.queuedAcks() > atKill.queued && w.stats.unavailableDebits.length > atKill.unavailable ? true : undefined, { timeoutMs: 30_000 })
      await redis.restart()
      const roundsAtRestart = w.rounds()
      await eventually("two more rounds per player", () => (w.rounds() >= roundsAtRestart + PLAYERS * 2 ? true : undefined), { timeoutMs: 60_000 })
    } finally {
      await w.stop()
    }
    await waitQueueDrained(service)
    const m = parseMetrics(await service.metrics())
    assert.deepStrictEqual(w.stats.unexpected, [], "answers outside the contract")
    assert.deepStrictEqual(w.stats.readFailures, [], "reads must keep answering")
    assert.strictEqual(metric(m, "balance_credit_queue_total", { event: "dead_lettered" }), 0)
    const landed = await debitsAnsweredFromKey(target)

    const audit = await auditBooks(target, w.acks, w.accounts)
    const acknowledged = w.acks.length
    const present = audit.replays.checked - audit.replays.mismatches.length + w.acks.filter((a) => a.method === "EnsureAccount").length
    console.log(
      `[chaos redis-kill9] acknowledged ${acknowledged} (${ackedBeforeKill} before the kill, ${w.queuedAcks()} queued while Redis was away), ` +
        `present ${present}, lost ${audit.lost}, duplicated ${audit.duplicated}; keyed replays answered from stored keys ${audit.replays.replaysCounted}/${audit.replays.keyed}; ` +
        `UNAVAILABLE debits ${w.stats.unavailableDebits.length} (${summarizeLatency(w.stats.unavailableDebits.map((d) => d.ms))}; ${landed} had landed, retried with the same key)`
    )
    assertBooksBalance(audit)
    assert.strictEqual(present, acknowledged)
  }, 115_000)
})
