import { Effect } from "effect"
import type { ApplyRequest, CompactObject, RetireRequest, TrimRequest } from "../Store.ts"
import { StoreUnavailable } from "../StoreErrors.ts"
import { isNoScript, luaScripts, queueScript, runScript } from "./luaScripts.ts"
import type { RedisKeys } from "./redisKeys.ts"
import { reasonOf, type RedisSession } from "./redisSession.ts"
import type { RedisStoreOptions } from "./redisStoreOptions.ts"
import { makeApplyBatcher } from "./applyBatcher.ts"
import { type ScriptCall, scriptCall } from "./scriptLayout.ts"
import { applyPlanLayout } from "./scriptLayouts.ts"
import { applyBatchReplies, applyResult, compactResult, leaseAcquireResult, leaseReleaseResult, retireResult, trimResult } from "./scriptResults.ts"

/** Most plans per apply.lua call (group commit): a run of 64 game plans takes Redis well under a millisecond. */
export const APPLY_BATCH_MAX_PLANS = 64
/** Most KEYS and ARGV characters per apply.lua call: about 1 MB, so that one reply never holds the connection long. */
const APPLY_BATCH_MAX_CHARS = 1_000_000

/** The reply to one apply.lua call (one per plan inside) and, with REDIS_MIN_REPLICAS_ACK, WAIT's. */
interface BatchReply {
  readonly scriptReply: unknown
  readonly waitError: Error | null
  readonly acknowledged: number
}

/**
 * The store's writes on Redis: apply (group commit, with WAIT when replicas must acknowledge),
 * the archiver's lease, trim, the compaction of archived pots, the retirement of closed objects. `onApplyBatch` hears the number of plans of every apply.lua call.
 */
export const makeRedisWrites = (
  { call, redis, redisNowMs, retrying }: RedisSession,
  keys: RedisKeys,
  options: RedisStoreOptions,
  onApplyBatch?: (plans: number) => void
) => {
  /**
   * REDIS_MIN_REPLICAS_ACK: apply.lua (a whole batch) and `WAIT n timeout` in one pipeline (both sent before
   * either reply is read: one round trip). WAIT on the same connection blocks until the
   * replicas acknowledged every write this connection made so far, so it covers the script's
   * write. Returns the script's reply and WAIT's (the number of replicas, or its error).
   *
   * Not a guarantee against loss: WAIT does not make Redis strongly consistent, it narrows
   * the window from "whatever the replicas had not received when the primary died" to corner
   * cases: a replica acknowledges having received a write, not having fsynced it (WAITAOF,
   * Redis 7.2+, would cover that); Sentinel promotes the best replica it can reach, which need
   * not be one that acknowledged (a partition, N smaller than the number of replicas); and a
   * write WAIT did not confirm is NOT undone: it stays on the primary, may or may not survive a
   * failover, and the caller gets StoreUnavailable. Retrying with the same idempotency key is
   * safe: Replayed (waited for again, below) or, for commands without a key, Conflict and a
   * re-plan in the ledger (which may then answer without another apply, hence without WAIT).
   * It does keep an isolated old primary from acknowledging anything once its replicas left it.
   *
   * Costs: the store has one connection and WAIT blocks it, so calls queued behind a WAIT wait
   * too (up to REDIS_REPLICAS_ACK_TIMEOUT_MS while replicas are missing). A Replayed answer on a
   * connection that did not make the original write (after a reconnect) is only checked against
   * this connection's own writes: it proves N replicas are attached and streaming, not that they
   * already hold the original write (normally they do, being milliseconds behind at most).
   */
  const scriptThenWait = async (applyCall: ScriptCall): Promise<BatchReply> => {
    const send = (by: "sha" | "source") =>
      queueScript(redis.pipeline(), luaScripts.apply, applyCall, by)
        .wait(options.minReplicasAck, options.replicasAckTimeoutMs)
        .exec()
    let replies = await send("sha")
    // First write on a new server (a failover, SCRIPT FLUSH): the script is not cached yet.
    // Redis' own error replies arrive as ReplyError; anything else in a pipeline slot is a reply.
    if (isNoScript(replies?.[0]?.[0])) replies = await send("source")
    const [scriptError, scriptReply] = replies?.[0] ?? [new Error("empty pipeline reply")]
    if (scriptError) throw scriptError
    const [waitError, acknowledged] = replies?.[1] ?? [new Error("no WAIT reply")]
    return { scriptReply: scriptReply as unknown, waitError: waitError ?? null, acknowledged: Number(acknowledged) }
  }

  /** One apply.lua call for a batch of plans, and WAIT after it when replicas must acknowledge. */
  const sendBatch = async (plans: ReadonlyArray<ScriptCall>): Promise<BatchReply> => {
    const batchCall = luaScripts.apply.call({ keys, eventsMaxLen: options.eventsMaxLen, transferLists: options.transferLists, plans })
    if (options.minReplicasAck === 0) {
      return { scriptReply: await runScript(redis, luaScripts.apply, batchCall), waitError: null, acknowledged: 0 }
    }
    return scriptThenWait(batchCall)
  }
  const batcher = makeApplyBatcher({
    send: sendBatch,
    maxPlans: options.applyBatchMaxPlans ?? APPLY_BATCH_MAX_PLANS,
    maxChars: APPLY_BATCH_MAX_CHARS,
    ...(options.applyBatchSchedule === undefined ? {} : { schedule: options.applyBatchSchedule }),
    ...(onApplyBatch === undefined ? {} : { onBatch: onApplyBatch })
  })

  // No span of its own: the ledger traces it as `Store.apply`.
  const apply = Effect.fnUntraced(function*(request: ApplyRequest) {
    // The script refuses to write once this attempt's deadline has passed by the Redis clock:
    // a write that ran after we gave up on it (and answered UNAVAILABLE) would be unacknowledged.
    const deadlineMs = redisNowMs() + options.commandTimeoutMs + options.deadlineSlackMs
    const planCall = scriptCall(applyPlanLayout, {
      request,
      keys,
      deadlineMs,
      compactIdempotency: options.compactIdempotency
    })
    // Each caller keeps its own deadline (call's timer); the batch shares one round trip.
    const { reply, index, size } = yield* call(
      "apply",
      () => batcher.submit(planCall),
      options.minReplicasAck === 0 ? 0 : options.replicasAckTimeoutMs
    )
    const { scriptReply, waitError, acknowledged } = reply
    const outcome = applyResult(request.plan.expected.map((e) => e.key), applyBatchReplies(size, scriptReply)[index])
    if (outcome._tag === "Late") {
      return yield* new StoreUnavailable({ operation: "apply", reason: "Redis ran the write after its deadline; nothing was written" })
    }
    if (options.minReplicasAck === 0) return outcome
    // Applied wrote just now; Replayed answers for an earlier write that may not have been
    // acknowledged by replicas yet (its first try may have failed right here), so both wait.
    // Nothing was written for the other outcomes: WAIT's answer does not matter.
    if ((outcome._tag === "Applied" || outcome._tag === "Replayed") && (waitError || !(acknowledged >= options.minReplicasAck))) {
      return yield* new StoreUnavailable({
        operation: "apply",
        reason: waitError
          ? `replicas did not acknowledge the write (WAIT failed: ${reasonOf(waitError)}); it may have been applied, retrying with the same idempotency key is safe`
          : `replicas did not acknowledge the write: ${acknowledged} of ${options.minReplicasAck} within ${options.replicasAckTimeoutMs} ms; it may have been applied, retrying with the same idempotency key is safe`
      })
    }
    return outcome
  }, retrying)

  const acquireArchiverLease = Effect.fn("RedisStore.acquireArchiverLease")(function*(owner: string, ttlMs: number) {
    const leaseCall = luaScripts.lease.call({ action: "acquire", owner, durationMs: ttlMs, keys })
    return leaseAcquireResult(yield* call("lease", () => runScript(redis, luaScripts.lease, leaseCall)))
  }, retrying)

  const releaseArchiverLease = Effect.fn("RedisStore.releaseArchiverLease")(function*(owner: string) {
    const leaseCall = luaScripts.lease.call({ action: "release", owner, durationMs: 0, keys })
    leaseReleaseResult(yield* call("lease", () => runScript(redis, luaScripts.lease, leaseCall)))
  }, retrying)

  const trimArchived = Effect.fn("RedisStore.trimArchived")(function*(request: TrimRequest) {
    const trimCall = luaScripts.trim.call({ request, keys })
    return trimResult(yield* call("trim", () => runScript(redis, luaScripts.trim, trimCall)))
  }, retrying)

  const compactArchived = Effect.fn("RedisStore.compactArchived")(function*(objects: ReadonlyArray<CompactObject>) {
    if (objects.length === 0) return { compacted: [], skipped: [] }
    const compactCall = luaScripts.compact.call({ objects, keys })
    return compactResult(objects.map((o) => o.key), yield* call("compact", () => runScript(redis, luaScripts.compact, compactCall)))
  }, retrying)

  const retireArchived = Effect.fn("RedisStore.retireArchived")(function*(request: RetireRequest) {
    if (request.objects.length === 0) return { _tag: "Retired", retired: [], absent: [], skipped: [] } as const
    const retireCall = luaScripts.retire.call({ request, keys })
    return retireResult(request.objects.map((o) => o.key), yield* call("retire", () => runScript(redis, luaScripts.retire, retireCall)))
  }, retrying)

  const awaitReplication = Effect.fn("RedisStore.awaitReplication")(function*() {
    if (options.minReplicasAck === 0) return
    const acknowledged = yield* call(
      "wait",
      () => redis.wait(options.minReplicasAck, options.replicasAckTimeoutMs),
      options.replicasAckTimeoutMs
    )
    if (!(acknowledged >= options.minReplicasAck)) {
      return yield* new StoreUnavailable({
        operation: "wait",
        reason: `replicas did not acknowledge earlier writes: ${acknowledged} of ${options.minReplicasAck} within ${options.replicasAckTimeoutMs} ms; retrying is safe`
      })
    }
  }, retrying)

  return {
    apply,
    acquireArchiverLease,
    releaseArchiverLease,
    trimArchived,
    compactArchived,
    retireArchived,
    awaitReplication
  }
}
