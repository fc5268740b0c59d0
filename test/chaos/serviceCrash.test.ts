import { readFileSync } from "node:fs"
import { join } from "node:path"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { type ChaosRedis, startChaosRedis } from "./support/chaosRedis.ts"
import { type ChaosClient, chaosClient } from "./support/grpcClient.ts"
import { eventually } from "../support/eventually.ts"
import { metric, parseMetrics, removeDir, type ServiceProcess, startService } from "./support/serviceProcess.ts"
import { assertBooksBalance, auditBooks, resendInFlight, startWorkload, waitQueueDrained } from "./support/workload.ts"

/**
 * DESIGN 6, "the queue survives a restart": Redis goes down under a running
 * workload, credits are acknowledged from the durable queue, and then the
 * service itself is killed with SIGKILL in the middle of it (no shutdown, no
 * flush beyond the fsync before each acknowledgement). Redis comes back, a
 * new service process starts on the same DATA_DIR and replays the journal.
 * Nothing acknowledged may be lost, nothing applied twice.
 */

let redis: ChaosRedis
let first: ServiceProcess | undefined
let second: ServiceProcess | undefined
const clients: Array<ChaosClient> = []

beforeAll(async () => {
  redis = await startChaosRedis()
  first = await startService({ redisUrl: redis.url })
}, 90_000)

afterAll(async () => {
  for (const c of clients) c.close()
  await first?.kill9()
  await second?.terminate()
  await redis?.dispose()
  if (first) removeDir(first.dataDir)
})

/** Commands in the journal file without a `done` line: what a restart must replay. */
const pendingInJournal = (dataDir: string) => {
  const pending = new Set<string>()
  for (const raw of readFileSync(join(dataDir, "credit-queue.jsonl"), "utf8").split("\n")) {
    if (raw.trim() === "") continue
    try {
      const line = JSON.parse(raw) as { t: string; id: string }
      if (line.t === "cmd") pending.add(line.id)
      else pending.delete(line.id)
    } catch {
      // a torn last line: never acknowledged
    }
  }
  return pending.size
}

const PLAYERS = 6

describe("kill -9 of the service with credits in its durable queue", () => {
  it("a new process on the same DATA_DIR replays the queue: no acknowledged command lost, none applied twice", async () => {
    const service = first!
    const client = chaosClient(service.grpcAddress)
    clients.push(client)
    const w = await startWorkload({ client, service }, { prefix: "crash", players: PLAYERS, maxRounds: 10_000, cashierPaceMs: 10, readerPaceMs: 50 })
    let halted = false
    try {
      await eventually("a round per player", () => (w.rounds() >= PLAYERS ? true : undefined), { timeoutMs: 60_000 })
      await redis.kill9()
      await eventually("40 credits acknowledged from the queue", () => (w.queuedAcks() >= 40 ? true : undefined), { timeoutMs: 60_000 })
      // Mid-stream: the cashier and the players are still sending when the process dies.
      const halting = w.halt()
      halted = true
      await service.kill9()
      await halting
    } finally {
      if (!halted) await w.stop()
    }
    const queued = w.queuedAcks()
    const journal = pendingInJournal(service.dataDir)
    const inFlightCredits = w.unknown.filter((u) => u.kind === "credit").length
    // Every queued acknowledgement was fsync'ed; an in-flight credit may have made it too.
    assert.isAtLeast(journal, queued)
    assert.isAtMost(journal, queued + inFlightCredits)
    assert.deepStrictEqual(w.stats.unexpected, [], "answers outside the contract before the crash")

    await redis.restart()
    second = await startService({ redisUrl: redis.url, dataDir: service.dataDir })
    const client2 = chaosClient(second.grpcAddress)
    clients.push(client2)
    const target = { client: client2, service: second }
    const restartLine = await second.waitForLog("the restart warning", (l) => l.message === "credit queue holds commands from before the restart", 30_000)
    assert.strictEqual(restartLine.pending, journal)
    await waitQueueDrained(second)
    const m = parseMetrics(await second.metrics())
    const replayed = metric(m, "balance_credit_queue_total", { event: "replayed" })
    const deadLettered = metric(m, "balance_credit_queue_total", { event: "dead_lettered" })
    assert.strictEqual(replayed, journal)
    assert.strictEqual(deadLettered, 0)

    // The commands that were in flight at the kill: the client does what a game does, sends them again with the same key.
    const resolved = await resendInFlight(target, w)

    const audit = await auditBooks(target, [...w.acks, ...resolved], w.accounts)
    console.log(
      `[chaos crash] acknowledged ${w.acks.length} (${queued} queued while Redis was down), outcome unknown at the kill ${resolved.length} ` +
        `(${inFlightCredits} credits in flight, the rest debits awaiting a retry after UNAVAILABLE; resolved by resending with the same key), journal pending at restart ${journal}, ` +
        `replayed by the new process ${replayed}, dead-lettered ${deadLettered}, lost ${audit.lost}, duplicated ${audit.duplicated}; ` +
        `replays of every key: ${audit.replays.replaysCounted}/${audit.replays.keyed} from stored keys`
    )
    assertBooksBalance(audit, "the model of acknowledged (and resolved in-flight) commands")
  }, 115_000)
})
