import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { type ChaosRedis, startChaosRedis } from "./support/chaosRedis.ts"
import { type ChaosClient, chaosClient, statusName } from "./support/grpcClient.ts"
import { eventually } from "../support/eventually.ts"
import { metric, parseMetrics, removeDir, type ServiceProcess, startService } from "./support/serviceProcess.ts"
import {
  auditBooks,
  debitsAnsweredFromKey,
  diffStates,
  observedState,
  replayInReference,
  startWorkload,
  summarizeLatency,
  waitQueueDrained,
  waitReady
} from "./support/workload.ts"

/**
 * DESIGN 6 against real processes: Redis hangs (SIGSTOP) while a game-like
 * client runs, then is found dead (SIGKILL of the frozen process: what it had
 * not answered is gone) and restarted on the same port and AOF dir.
 * During the outage reads answer stale, debits fail UNAVAILABLE, credits are
 * acknowledged as queued. Afterwards the queue drains and the books equal a
 * no-outage run of exactly the acknowledged commands on a second, fresh
 * service + Redis.
 */

let redis: ChaosRedis
let service: ServiceProcess
let client: ChaosClient
let referenceRedis: ChaosRedis
let reference: ServiceProcess
let referenceClient: ChaosClient

beforeAll(async () => {
  ;[redis, referenceRedis] = await Promise.all([startChaosRedis(), startChaosRedis()])
  ;[service, reference] = await Promise.all([startService({ redisUrl: redis.url }), startService({ redisUrl: referenceRedis.url })])
  client = chaosClient(service.grpcAddress)
  referenceClient = chaosClient(reference.grpcAddress)
}, 90_000)

afterAll(async () => {
  client?.close()
  referenceClient?.close()
  await Promise.all([service?.terminate(), reference?.terminate()])
  await Promise.all([redis?.dispose(), referenceRedis?.dispose()])
  if (service) removeDir(service.dataDir)
  if (reference) removeDir(reference.dataDir)
})

const PLAYERS = 6

describe("Redis outage under a running workload", () => {
  it("stale reads, UNAVAILABLE debits, queued credits; after the restart the books equal a no-outage run of the acknowledged commands", async () => {
    const target = { client, service }
    const w = await startWorkload(target, { prefix: "out", players: PLAYERS, maxRounds: 10_000, cashierPaceMs: 20, readerPaceMs: 25 })
    const evidence = () => ({ queued: w.queuedAcks(), unavailable: w.stats.unavailableDebits.length, stale: w.stats.staleReads })
    try {
      await eventually("two rounds per player before the outage", () => (w.rounds() >= PLAYERS * 2 ? true : undefined), { timeoutMs: 60_000 })

      // Phase 1: Redis hangs. Connections stay open; nothing answers.
      const atFreeze = evidence()
      redis.freeze()
      await eventually("queued credits, UNAVAILABLE debits and stale reads while Redis hangs", () => {
        const e = evidence()
        return e.queued >= atFreeze.queued + 20 && e.unavailable >= atFreeze.unavailable + 3 && e.stale >= atFreeze.stale + 3 ? true : undefined
      }, { timeoutMs: 45_000 }).catch((e) => Promise.reject(new Error(`${e.message}: ${JSON.stringify({ atFreeze, now: evidence() })}`)))
      const frozen = evidence()
      // A debit that is invalid is still refused in-band while the store is away: validation needs no store.
      const invalid = await client.call("ReserveForBuyIn", { account_id: "out-p0", table_id: "out-bad", amount: "0", idempotency_key: "out-invalid" })
      assert.deepInclude(invalid.kind === "response" ? invalid.response : { status: statusName(invalid.code) }, { ok: false, error: "INVALID_AMOUNT" })

      // Phase 2: found dead. SIGKILL of the frozen process: commands it had buffered never run.
      await redis.kill9()
      await eventually("more queued credits and UNAVAILABLE debits while Redis is down", () => {
        const e = evidence()
        return e.queued >= frozen.queued + 20 && e.unavailable >= frozen.unavailable + 3 ? true : undefined
      }, { timeoutMs: 45_000 }).catch((e) => Promise.reject(new Error(`${e.message}: ${JSON.stringify({ frozen, now: evidence() })}`)))
      const atRestart = evidence()
      const roundsAtRestart = w.rounds()

      // Phase 3: back on the same port and AOF; the workload goes on for a while.
      await redis.restart()
      await eventually("two more rounds per player after the restart", () => (w.rounds() >= roundsAtRestart + PLAYERS * 2 ? true : undefined), {
        timeoutMs: 60_000
      })
      console.log(
        `[chaos outage] while Redis hung: +${frozen.queued - atFreeze.queued} queued, +${frozen.unavailable - atFreeze.unavailable} UNAVAILABLE, +${frozen.stale - atFreeze.stale} stale reads; ` +
          `while down: +${atRestart.queued - frozen.queued} queued, +${atRestart.unavailable - frozen.unavailable} UNAVAILABLE`
      )
    } finally {
      await w.stop()
    }

    await waitQueueDrained(service)
    const m = parseMetrics(await service.metrics())
    const queued = w.queuedAcks()
    const replayed = metric(m, "balance_credit_queue_total", { event: "replayed" })
    const deadLettered = metric(m, "balance_credit_queue_total", { event: "dead_lettered" })

    assert.deepStrictEqual(w.stats.unexpected, [], "answers outside the contract")
    assert.deepStrictEqual(w.stats.readFailures, [], "reads must keep answering")
    assert.isAbove(w.stats.staleReads, 0)
    assert.isAbove(w.stats.unavailableDebits.length, 0)
    assert.isAbove(queued, 0)
    assert.strictEqual(metric(m, "balance_credit_queue_total", { event: "queued" }), queued)
    assert.strictEqual(replayed, queued, "every queued credit was replayed")
    assert.strictEqual(deadLettered, 0)
    // Lines written inside a request carry its request id, over HTTP (the cashier's deposits) as over gRPC.
    const queuedLines = service.logs.filter((l) => l.message === "store unavailable: credit queued")
    assert.isAbove(queuedLines.length, 0)
    assert.deepStrictEqual(queuedLines.filter((l) => typeof l.requestId !== "string" || l.service !== "balance-service"), [])

    const landed = await debitsAnsweredFromKey(target)
    // The books: the model of the acknowledged commands, and a no-outage run of the same commands.
    const audit = await auditBooks(target, w.acks, w.accounts)
    assert.deepStrictEqual(audit.stateDiff, [], "real run vs model of the acknowledged commands")
    assert.deepStrictEqual(audit.entries, audit.expectedEntries, "ledger entries by type per wallet (a command applied twice would add one)")
    assert.strictEqual(audit.verified.status, 200)
    assert.isTrue(audit.verified.body.ok, JSON.stringify(audit.verified.body.findings))
    assert.deepStrictEqual(audit.replays.mismatches, [], "every acknowledged command replays from its stored key")
    assert.deepStrictEqual(audit.movedByReplays, [], "replays moved chips")

    const ref = await replayInReference({ client: referenceClient, service: reference }, w.acks)
    assert.deepStrictEqual(ref.failures, [], "every acknowledged command succeeds in the reference run")
    const referenceBooks = await observedState(referenceClient, audit.model)
    assert.deepStrictEqual(diffStates(referenceBooks, audit.observed), [], "real run vs reference run without an outage")

    const acknowledged = w.acks.length
    const lost = audit.lost
    console.log(
      `[chaos outage] acknowledged ${acknowledged} commands (${queued} queued), replayed from the queue ${replayed}, dead-lettered ${deadLettered}, lost ${lost}; ` +
        `UNAVAILABLE debits ${w.stats.unavailableDebits.length} (${summarizeLatency(w.stats.unavailableDebits.map((d) => d.ms))}; ` +
        `${landed} of them had landed and their retry answered the stored success); ` +
        `queued credits acknowledged in ${summarizeLatency(w.stats.queuedMs)}; reads ${w.stats.staleReads} stale / ${w.stats.freshReads} fresh; ` +
        `cash-outs retried after the queue drained ${w.stats.stackRetries}; rounds ${w.rounds()}; reference run: identical books`
    )
    assert.strictEqual(lost, 0)
    assert.strictEqual(audit.duplicated, 0)
  }, 115_000)

  /**
   * While Redis hangs, the service gives up on an apply at its deadline and answers
   * UNAVAILABLE, but the EVALSHA already sits in the hung server's socket buffer. apply.lua
   * carries that deadline (in Redis time) and writes nothing when it only gets to run later,
   * so a debit the caller was told failed does not take effect; its retry applies it once.
   */
  it("a withdrawal answered UNAVAILABLE while Redis hangs is not applied when Redis resumes; its retry applies it once", async () => {
    await client.must("EnsureAccount", { account_id: "hung-withdraw", initial_balance: "100" })
    const withdraw = { account_id: "hung-withdraw", amount: "30", idempotency_key: "hung-withdraw-1", reason: "cash desk" }
    redis.freeze()
    let answer
    try {
      answer = await client.call("Withdraw", withdraw)
    } finally {
      redis.thaw()
    }
    assert.strictEqual(answer.kind === "status" ? statusName(answer.code) : JSON.stringify(answer), "UNAVAILABLE")
    // Redis runs one connection's commands in order: once the service reads fresh state again, anything buffered has run.
    await waitReady(service)
    const fresh = () =>
      eventually("a fresh balance", async () => {
        const b = await client.must("GetBalance", { account_id: "hung-withdraw" })
        return b.stale ? undefined : b.balance as string
      }, { timeoutMs: 30_000 })
    const afterResume = await fresh()
    const retry = await client.must("Withdraw", withdraw)
    const afterRetry = await fresh()
    console.log(
      `[chaos outage] withdrawal of 30 from 100 answered UNAVAILABLE during a hang; balance after Redis resumed ${afterResume}; ` +
        `the retry with the same key answered ok=${retry.ok} balance ${retry.balance}; balance after the retry ${afterRetry}`
    )
    assert.strictEqual(afterResume, "100", "the late script wrote nothing")
    assert.isTrue(retry.ok)
    assert.strictEqual(retry.balance, "70")
    assert.strictEqual(afterRetry, "70", "the retry applied it once")
  }, 60_000)
})
