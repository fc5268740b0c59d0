import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { Effect, ManagedRuntime, Result } from "effect"
import { Redis } from "ioredis"
import { walletKey, type WalletState } from "../../src/domain/accounts.ts"
import type { Command, Deposit } from "../../src/domain/commands.ts"
import { Ledger } from "../../src/ledger/Ledger.ts"
import { redisKeys } from "../../src/store/redis/redisKeys.ts"
import { RedisStore } from "../../src/store/redis/RedisStore.ts"
import { ledgerOn } from "../support/ledgerLayers.ts"
import { type SentinelCluster, startSentinelCluster } from "../support/sentinelCluster.ts"

/** REDIS_MIN_REPLICAS_ACK on plain replication (no sentinels): WAIT after every write. */

let cluster: SentinelCluster | undefined
beforeAll(async () => {
  cluster = await startSentinelCluster({ replicas: 1, sentinels: 0 })
}, 60_000)
afterAll(async () => {
  await cluster?.dispose()
}, 30_000)

const deposit = (amount: number, key: string): Deposit => ({
  op: "Deposit",
  accountId: "acked",
  amount,
  source: "ADMIN",
  idempotencyKey: key
})

describe("REDIS_MIN_REPLICAS_ACK", () => {
  it("a write no replica acknowledges is StoreUnavailable but stays applied; its retry is Replayed once a replica is back", async () => {
    const [primary, replica] = cluster!.nodes
    const url = `redis://127.0.0.1:${primary!.port}`
    const rt = ManagedRuntime.make(ledgerOn(RedisStore.layer({
      url,
      keyPrefix: "ack:",
      minReplicasAck: 1,
      replicasAckTimeoutMs: 200,
      retryAttempts: 0
    })))
    const run = (command: Deposit) => rt.runPromise(Ledger.use((l) => l.execute(command)).pipe(Effect.result))
    try {
      await rt.runPromise(Ledger.use((l) => l.execute({ op: "EnsureAccount", accountId: "acked", initialBalance: 0 })))
      const first = await run(deposit(10, "ack-1"))
      assert.isTrue(Result.isSuccess(first) && !first.success.replayed, "acknowledged by the replica")

      await cluster!.kill9(replica!.port)
      const second = await run(deposit(5, "ack-2"))
      assert.isTrue(Result.isFailure(second))
      if (Result.isFailure(second)) {
        assert.strictEqual(second.failure._tag, "StoreUnavailable")
        assert.include(second.failure.message, "replicas did not acknowledge")
        assert.include(second.failure.message, "0 of 1")
      }
      // Not undone: the write is on the primary.
      const landed = await rt.runPromise(Ledger.use((l) => l.wallet("acked")))
      assert.strictEqual(landed.value!.balance, 15)
      // Retried while still alone: the replay is not acknowledged either.
      const retried = await run(deposit(5, "ack-2"))
      assert.isTrue(Result.isFailure(retried) && retried.failure._tag === "StoreUnavailable")

      await cluster!.restartAsReplicaOf(replica!.port, primary!.port)
      await cluster!.waitForReplicasOnline(primary!.port, 1, 30_000)
      const again = await run(deposit(5, "ack-2"))
      assert.isTrue(Result.isSuccess(again))
      if (Result.isSuccess(again)) {
        assert.isTrue(again.success.replayed, "the earlier, unacknowledged write answers")
        assert.strictEqual(again.success.result.balance, 15)
      }
      const wallet = await rt.runPromise(Ledger.use((l) => l.wallet("acked")))
      assert.strictEqual(wallet.value!.balance, 15, "applied once")
      // And the replica has it.
      const onReplica = new Redis(`redis://127.0.0.1:${replica!.port}`, { maxRetriesPerRequest: 1 })
      onReplica.on("error", () => {})
      try {
        const data = await onReplica.hget(redisKeys("ack:").object(walletKey("acked")), "d")
        assert.strictEqual((JSON.parse(data!) as WalletState).balance, 15)
      } finally {
        onReplica.disconnect()
      }
    } finally {
      await rt.dispose()
    }
  }, 60_000)

  it("asking for more replicas than exist refuses every write", async () => {
    const [primary] = cluster!.nodes
    await cluster!.waitForReplicasOnline(primary!.port, 1, 30_000)
    const rt = ManagedRuntime.make(ledgerOn(RedisStore.layer({
      url: `redis://127.0.0.1:${primary!.port}`,
      keyPrefix: "ack2:",
      minReplicasAck: 2,
      replicasAckTimeoutMs: 100,
      retryAttempts: 0
    })))
    try {
      const outcome = await rt.runPromise(
        Ledger.use((l) => l.execute({ op: "EnsureAccount", accountId: "x", initialBalance: 1 })).pipe(Effect.result)
      )
      assert.isTrue(Result.isFailure(outcome))
      if (Result.isFailure(outcome)) assert.include(outcome.failure.message, "1 of 2")
    } finally {
      await rt.dispose()
    }
  }, 30_000)

  /**
   * KNOWN GAPS in the ledger (src/ledger/Ledger.ts, not the store), found by the failover
   * workload and reported to the lead. These two tests pin TODAY's behaviour so it is
   * reproducible in seconds; when the ledger is fixed they fail on purpose: then assert the
   * wanted behaviour written in each comment instead.
   */
  const withLedger = async (prefix: string, body: (run: <C extends Command>(c: C) => ReturnType<typeof execute<C>>) => Promise<void>) => {
    const [primary, replica] = cluster!.nodes
    await cluster!.waitForReplicasOnline(primary!.port, 1, 30_000)
    const rt = ManagedRuntime.make(ledgerOn(RedisStore.layer({
      url: `redis://127.0.0.1:${primary!.port}`,
      keyPrefix: prefix,
      minReplicasAck: 1,
      replicasAckTimeoutMs: 200,
      retryAttempts: 0
    })))
    try {
      await body((command) => execute(rt, command))
    } finally {
      await rt.dispose()
      if (!replica!.alive()) await cluster!.restartAsReplicaOf(replica!.port, primary!.port)
    }
  }

  it("a Commit after a Reserve acknowledged only by its replay plans from fresh state, not from the stale cached wallet", async () => {
    const [primary, replica] = cluster!.nodes
    await withLedger("gap1:", async (run) => {
      await run({ op: "EnsureAccount", accountId: "g1", initialBalance: 100 }) // wallet cached, held 0
      const reserve = { op: "Reserve", accountId: "g1", tableId: "t", amount: 30, timeoutMs: 600_000, idempotencyKey: "g1-r" } as const
      await cluster!.kill9(replica!.port)
      assert.isTrue(Result.isFailure(await run(reserve)), "landed, not acknowledged (same as a reply lost to a timeout)")
      await cluster!.restartAsReplicaOf(replica!.port, primary!.port)
      await cluster!.waitForReplicasOnline(primary!.port, 1, 30_000)
      const replayed = await run(reserve)
      assert.isTrue(Result.isSuccess(replayed) && replayed.success.replayed)
      if (!Result.isSuccess(replayed)) return
      // The replay tells the ledger its cached wallet (held 0) missed a write: the commit reads fresh state.
      const commit = await run({ op: "Commit", reservationId: replayed.success.result.reservationId })
      assert.isTrue(Result.isSuccess(commit))
      if (Result.isSuccess(commit)) assert.strictEqual(commit.success.result.newBalance, 70)
    })
  }, 60_000)

  it("a Commit retried after an unacknowledged apply is not acknowledged until a replica has it (NoChange waits too)", async () => {
    const [, replica] = cluster!.nodes
    await withLedger("gap2:", async (run) => {
      await run({ op: "EnsureAccount", accountId: "g2", initialBalance: 100 })
      const reserved = await run({ op: "Reserve", accountId: "g2", tableId: "t", amount: 30, timeoutMs: 600_000, idempotencyKey: "g2-r" })
      if (!Result.isSuccess(reserved)) throw new Error("reserve not acknowledged")
      await cluster!.kill9(replica!.port)
      const commit = { op: "Commit", reservationId: reserved.success.result.reservationId } as const
      assert.isTrue(Result.isFailure(await run(commit)), "landed, not acknowledged")
      // Still no replica: the retry finds the commit done (Conflict, re-plan, NoChange) but must not
      // acknowledge it before a replica does.
      const retried = await run(commit)
      assert.isTrue(Result.isFailure(retried))
      if (Result.isFailure(retried)) assert.strictEqual(retried.failure._tag, "StoreUnavailable")
      await cluster!.restartAsReplicaOf(replica!.port, cluster!.nodes[0]!.port)
      await cluster!.waitForReplicasOnline(cluster!.nodes[0]!.port, 1, 30_000)
      const acknowledged = await run(commit)
      assert.isTrue(Result.isSuccess(acknowledged))
    })
  }, 60_000)
})

const execute = <C extends Command>(rt: ManagedRuntime.ManagedRuntime<Ledger, unknown>, command: C) =>
  rt.runPromise(Ledger.use((l) => l.execute(command)).pipe(Effect.result))
