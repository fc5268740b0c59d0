import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, Layer, ManagedRuntime, Result, Schedule } from "effect"
import { ledgerStore } from "../../src/app/ServiceStore.ts"
import { walletKey } from "../../src/domain/accounts.ts"
import type { Command, Deposit, Reserve } from "../../src/domain/commands.ts"
import type { ResultByOp } from "../../src/domain/responses.ts"
import type { LedgerEntry } from "../../src/domain/ledgerEntry.ts"
import { Ledger } from "../../src/ledger/Ledger.ts"
import { LedgerVerifier } from "../../src/ledger/LedgerVerifier.ts"
import { ledgerOn } from "../support/ledgerLayers.ts"
import { eventually, PollAborted } from "../support/eventually.ts"
import { type SentinelCluster, startSentinelCluster } from "../support/sentinelCluster.ts"

/**
 * DESIGN 6 / issue 7: a primary, one replica, three sentinels on loopback; a
 * ledger on REDIS_SENTINELS with REDIS_MIN_REPLICAS_ACK=1 runs a workload;
 * the primary gets SIGKILL mid-workload; Sentinel promotes the replica and
 * the same ledger instance carries on (calls fail fast with
 * StoreUnavailable meanwhile). Afterwards every acknowledged command is
 * there exactly once and the verifier passes.
 *
 * With a single replica, WAIT 1 cannot succeed on the promoted primary until
 * a replica is back, so once the promotion is seen the killed node is
 * restarted (on its port and dir) as a replica of the new primary, as an
 * orchestrator would; the measured window includes that. Two more runs:
 * SENTINEL FAILOVER (the old primary stays up, is demoted by Sentinel ~8 s
 * later, and must not acknowledge anything meanwhile), and SIGKILL with two
 * replicas (one is left to acknowledge: the window is the failover alone).
 * Each prints its figures as one `[failover] ...` line.
 */

const WORKERS = ["alpha", "bravo", "charlie"] as const
const ACKS_PER_PHASE = 40 // per worker, before the kill and again after the recovery

interface Acked<C extends Command> {
  readonly command: C
  readonly result: ResultByOp[C["op"]]
  readonly at: number
}


interface Disruption {
  /** What happened when, in ms since the disruption started. */
  readonly marks: Record<string, number>
}

/**
 * Runs WORKERS against a fresh key prefix until each has ACKS_PER_PHASE acknowledged deposits,
 * calls `disrupt`, waits for ACKS_PER_PHASE more each, stops, and checks that every acknowledged
 * command is present exactly once with its original answer and that the verifier passes.
 * Acknowledged reservations must all be HELD, their amounts held on the wallet.
 */
const workloadAround = async (
  c: SentinelCluster,
  keyPrefix: string,
  disrupt: (c: SentinelCluster) => Promise<Disruption>
) => {
  const env = {
    REDIS_SENTINELS: c.sentinelsEnv,
    REDIS_SENTINEL_NAME: c.masterName,
    REDIS_MIN_REPLICAS_ACK: "1",
    REDIS_REPLICAS_ACK_TIMEOUT_MS: "500",
    REDIS_COMMAND_TIMEOUT_MS: "1000",
    REDIS_KEY_PREFIX: keyPrefix
  }
  const rt = ManagedRuntime.make(
    ledgerOn(ledgerStore.pipe(Layer.provide(ConfigProvider.layer(ConfigProvider.fromUnknown(env)))))
  )
  const hardDeadline = Date.now() + 100_000
  const failures: Array<{ readonly at: number; readonly reason: string }> = []
  const successes: Array<number> = []
  const deposits: Array<Acked<Deposit>> = []
  const reserves: Array<Acked<Reserve>> = []
  let stopping = false

  /** Like a client: retries a command on StoreUnavailable (same idempotency key) until it is acknowledged. */
  const untilAcknowledged = <C extends Command>(command: C) =>
    eventually(`${command.op} ${"idempotencyKey" in command ? command.idempotencyKey : ""} acknowledged`, async () => {
      const outcome = await rt.runPromise(Ledger.use((l) => l.execute(command)).pipe(Effect.result))
      if (Result.isSuccess(outcome)) {
        successes.push(Date.now())
        return outcome.success
      }
      if (outcome.failure._tag !== "StoreUnavailable") {
        throw new PollAborted(`unexpected failure ${outcome.failure._tag}: ${outcome.failure.message}`)
      }
      failures.push({ at: Date.now(), reason: outcome.failure.message })
      return undefined
    }, { timeoutMs: Math.max(0, hardDeadline - Date.now()) })

  const worker = async (id: string) => {
    await untilAcknowledged({ op: "EnsureAccount", accountId: id, initialBalance: 0 })
    for (let i = 1; !stopping; i++) {
      const deposit: Deposit = {
        op: "Deposit",
        accountId: id,
        amount: (i % 97) + 1,
        source: "ADMIN",
        idempotencyKey: `${id}-dep-${i}`
      }
      const d = await untilAcknowledged(deposit)
      deposits.push({ command: deposit, result: d.result, at: Date.now() })
      if (i % 5 === 0) {
        const reserve: Reserve = {
          op: "Reserve",
          accountId: id,
          tableId: `table-${id}`,
          amount: 3,
          timeoutMs: 600_000,
          idempotencyKey: `${id}-res-${i}`
        }
        const r = await untilAcknowledged(reserve)
        reserves.push({ command: reserve, result: r.result, at: Date.now() })
        // Reserves alone exercise the held amounts; commits after replayed reserves are covered in replicaAck.test.ts.
      }
    }
  }

  try {
    let workerError: unknown
    const running = WORKERS.map((id) =>
      worker(id).catch((e: unknown) => {
        workerError ??= e
        stopping = true
      })
    )
    const acked = () => deposits.length + reserves.length
    const depositsBy = (id: string) => deposits.filter((d) => d.command.accountId === id).length
    /** Polls while the workload runs; a worker's failure ends the wait at once. */
    const waitFor = (what: string, probe: () => boolean, timeoutMs: number) =>
      eventually(what, async () => {
        if (workerError) throw new PollAborted(String(workerError))
        return probe()
      }, { timeoutMs, intervalMs: 20 }).catch((e: unknown) => {
        throw workerError ?? e
      })

    await waitFor("acknowledged deposits before the disruption", () => WORKERS.every((w) => depositsBy(w) >= ACKS_PER_PHASE), 30_000)
    const ackedBefore = acked()
    const disruptedAt = Date.now()
    const { marks } = await disrupt(c)
    const base = new Map(WORKERS.map((w) => [w, depositsBy(w)]))
    await waitFor(
      "acknowledged deposits after the failover",
      () => WORKERS.every((w) => depositsBy(w) >= base.get(w)! + ACKS_PER_PHASE),
      40_000
    )
    stopping = true
    await Promise.all(running)
    if (workerError) throw workerError

    // The unavailability window as clients see it: first failure after the disruption to the first success after it.
    // A disruption no client noticed did not test failover: the failure must have been seen, and the recovery after it.
    const firstFailure = failures.find((f) => f.at >= disruptedAt)
    assert.isDefined(firstFailure, "the workload saw the disruption (a StoreUnavailable after it)")
    const firstSuccessAfter = successes.find((t) => t > firstFailure!.at)
    assert.isDefined(firstSuccessAfter, "the workload recovered after the failure it saw")
    const windowMs = firstSuccessAfter! - firstFailure!.at
    const failuresInWindow = failures.filter((f) => f.at >= disruptedAt && f.at <= (firstSuccessAfter ?? 0))
    const reasons = [...new Set(failuresInWindow.map((f) => f.reason.replace(/\d+/g, "N")))].slice(0, 8)

    // Every acknowledged command is there, with its original answer, exactly once.
    // A replay waits for replicas too; right after a failover they may still be syncing: UNAVAILABLE is retried, as clients do.
    const replay = <C extends Command>(command: C) =>
      rt.runPromise(Ledger.use((l) => l.execute(command)).pipe(
        Effect.retry({ times: 50, schedule: Schedule.spaced("200 millis"), while: (e) => e._tag === "StoreUnavailable" })
      ))
    for (const d of deposits) {
      const again = await replay(d.command)
      assert.isTrue(again.replayed, `deposit ${d.command.idempotencyKey} replays`)
      assert.deepStrictEqual(again.result, d.result, `deposit ${d.command.idempotencyKey} answers as first acknowledged`)
    }
    for (const r of reserves) {
      const again = await replay(r.command)
      assert.isTrue(again.replayed, `reserve ${r.command.idempotencyKey} replays`)
      assert.deepStrictEqual(again.result, r.result)
    }

    let lost = 0
    let appliedTwice = 0
    for (const id of WORKERS) {
      const entries = await rt.runPromise(Ledger.use((l) => l.entries(walletKey(id), 0, 1_000_000)))
      const mine = deposits.filter((d) => d.command.accountId === id)
      const perKey = new Map<string, number>()
      for (const e of entries.filter((e: LedgerEntry) => e.type === "DEPOSIT")) {
        const key = e.metadata.idempotencyKey ?? ""
        perKey.set(key, (perKey.get(key) ?? 0) + 1)
      }
      lost += mine.filter((d) => !perKey.has(d.command.idempotencyKey)).length
      appliedTwice += [...perKey.values()].filter((n) => n > 1).length
      // Every deposit was retried until acknowledged, so the ledger holds exactly the acknowledged ones.
      assert.deepStrictEqual([...perKey.keys()].sort(), mine.map((d) => d.command.idempotencyKey).sort())
      const myReserves = reserves.filter((r) => r.command.accountId === id)
      assert.strictEqual(entries.filter((e) => e.type === "HOLD").length, myReserves.length)

      const wallet = await rt.runPromise(Ledger.use((l) => l.wallet(id)))
      assert.isFalse(wallet.stale)
      const deposited = mine.reduce((sum, d) => sum + d.command.amount, 0)
      assert.strictEqual(wallet.value!.balance, deposited, `balance of ${id}`)
      assert.strictEqual(wallet.value!.held, myReserves.reduce((sum, r) => sum + r.command.amount, 0), `held of ${id}`)
      for (const r of myReserves) {
        const reservation = await rt.runPromise(Ledger.use((l) => l.reservation(r.result.reservationId)))
        assert.strictEqual(reservation.value?.status, "HELD", `reservation ${r.command.idempotencyKey}`)
      }
    }
    assert.strictEqual(lost, 0, "acknowledged deposits lost")
    assert.strictEqual(appliedTwice, 0, "deposits applied twice")

    const report = await rt.runPromise(LedgerVerifier.use((v) => v.verifyAll()))
    assert.deepStrictEqual(report.findings, [])
    assert.isTrue(report.ok)

    return {
      acknowledged: { total: acked(), deposits: deposits.length, reserves: reserves.length },
      acknowledgedBeforeDisruption: ackedBefore,
      lost,
      appliedTwice,
      unavailabilityWindowMs: windowMs,
      disruptionToFirstFailureMs: firstFailure!.at - disruptedAt,
      disruptionToFirstSuccessAfterMs: firstSuccessAfter! - disruptedAt,
      marksMs: marks,
      failedCallsInWindow: failuresInWindow.length,
      failureReasons: reasons,
      verifier: { accounts: report.accountsChecked, entries: report.entriesChecked, findings: report.findings.length }
    }
  } finally {
    stopping = true
    await rt.dispose()
  }
}

describe("Redis Sentinel failover under a workload (REDIS_MIN_REPLICAS_ACK=1)", () => {
  let cluster: SentinelCluster | undefined
  beforeAll(async () => {
    cluster = await startSentinelCluster({ replicas: 1, sentinels: 3, downAfterMs: 1000, failoverTimeoutMs: 5000 })
  }, 60_000)
  afterAll(async () => {
    await cluster?.dispose()
  }, 30_000)

  it("SIGKILL of the primary: the ledger recovers by itself, no acknowledged command is lost or applied twice", async () => {
    const summary = await workloadAround(cluster!, "failover-kill:", async (c) => {
      const t0 = Date.now()
      const oldPrimary = await c.primaryPort()
      await c.kill9(oldPrimary)
      const newPrimary = await c.waitForNewPrimary(oldPrimary, 45_000)
      const promotionSeen = Date.now() - t0
      assert.notStrictEqual(newPrimary, oldPrimary)
      // One replica only: WAIT 1 needs a replica again, so bring the killed node back as one.
      await c.restartAsReplicaOf(oldPrimary, newPrimary)
      await c.waitForReplicasOnline(newPrimary, 1, 30_000)
      return { marks: { promotionSeen, replicaOnline: Date.now() - t0 } }
    })
    // The figures are reported, never asserted (speed is the bench's; loaded machines vary a lot).
    console.log(`[failover] SIGKILL of the primary: ${JSON.stringify(summary)}`)
  }, 120_000)

  it("SENTINEL FAILOVER (the old primary stays up and is demoted): the ledger follows, nothing written to the old primary is acknowledged", async () => {
    const c = cluster!
    // The SIGKILL test's failover can still be reconfiguring replicas: a forced failover would answer INPROG.
    await c.waitForFailoverSettled(30_000)
    const before = await c.primaryPort()
    await c.waitForReplicasOnline(before, 1, 30_000)
    const summary = await workloadAround(c, "failover-switch:", async (c) => {
      const t0 = Date.now()
      // INPROG again: a sentinel started a failover of its own since (a loaded machine can miss down-after-ms); retried.
      const started = await eventually("sentinel 0 to start the failover", () =>
        c.sentinelCall(0, "SENTINEL", "FAILOVER", c.masterName).catch((e: unknown) => {
          if (e instanceof Error && e.message.startsWith("INPROG")) return undefined
          throw new PollAborted(String(e))
        }), { timeoutMs: 30_000, intervalMs: 200 })
      assert.strictEqual(started, "OK")
      const newPrimary = await c.waitForNewPrimary(before, 45_000)
      const promotionSeen = Date.now() - t0
      // Sentinel turns the demoted primary into a replica of the new one by itself (after ~8 s).
      await c.waitForReplicasOnline(newPrimary, 1, 45_000)
      return { marks: { promotionSeen, oldPrimaryReplicating: Date.now() - t0 } }
    })
    console.log(`[failover] SENTINEL FAILOVER: ${JSON.stringify(summary)}`)
  }, 120_000)
})

describe("Redis Sentinel failover with two replicas (REDIS_MIN_REPLICAS_ACK=1)", () => {
  let twoReplicas: SentinelCluster | undefined
  beforeAll(async () => {
    twoReplicas = await startSentinelCluster({ replicas: 2, sentinels: 3, downAfterMs: 1000, failoverTimeoutMs: 5000 })
  }, 60_000)
  afterAll(async () => {
    await twoReplicas?.dispose()
  }, 30_000)

  it("SIGKILL of the primary: a replica is left to acknowledge, nothing is restarted, no acknowledged command is lost", async () => {
    const summary = await workloadAround(twoReplicas!, "failover-two:", async (c) => {
      const t0 = Date.now()
      const oldPrimary = await c.primaryPort()
      await c.kill9(oldPrimary)
      const newPrimary = await c.waitForNewPrimary(oldPrimary, 45_000)
      assert.notStrictEqual(newPrimary, oldPrimary)
      return { marks: { promotionSeen: Date.now() - t0 } }
    })
    console.log(`[failover] SIGKILL of the primary, two replicas: ${JSON.stringify(summary)}`)
  }, 120_000)
})
