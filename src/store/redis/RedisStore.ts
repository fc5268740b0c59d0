import { createHash } from "node:crypto"
import { Effect, Layer, Random } from "effect"
import { Redis } from "ioredis"
import type { AccountRef, SystemAccount } from "../../domain/accounts.ts"
import type { LedgerEntry } from "../../domain/ledgerEntry.ts"
import type { StatName } from "../../domain/plan.ts"
import type { Transfer } from "../../domain/transfer.ts"
import { AppConfig } from "../../config.ts"
import {
  type ApplyRequest,
  type ApplyResult,
  type EventPage,
  type LeaseHolder,
  type LeaseResult,
  type Page,
  Store,
  type StoreEvent,
  type TransferPage,
  type TrimRequest,
  type TrimResult
} from "../Store.ts"
import { StoreUnavailable } from "../StoreErrors.ts"
import { applyArgs } from "./applyArgs.ts"
import { defineScripts, readLuaScript, type ScriptedRedis } from "./luaScripts.ts"
import { type RedisConnection, redisClientOptions, redisConnectionFromConfig } from "./redisConnectionOptions.ts"
import { redisKeys } from "./redisKeys.ts"
import { applyResult, type ScriptOutcome, UnexpectedScriptReply, versionedPairs } from "./scriptResults.ts"

export interface RedisStoreOptions {
  /** Where Redis is (a URL, or a Sentinel group) and how to log in: redisConnectionOptions.ts. */
  readonly connection: RedisConnection
  readonly keyPrefix: string
  /** Deadline of one attempt of one store call. */
  readonly commandTimeoutMs: number
  /** Retries after the first attempt, on StoreUnavailable only. */
  readonly retryAttempts: number
  readonly eventsMaxLen: number
  /** After every write, WAIT for this many replicas to acknowledge it (0: do not wait). */
  readonly minReplicasAck: number
  /** WAIT's timeout; the apply's deadline grows by this much when minReplicasAck > 0. */
  readonly replicasAckTimeoutMs: number
  /** Extra allowance on apply.lua's deadline, beyond the measured clock offset (0: exact). */
  readonly deadlineSlackMs: number
  /** Write idempotency records as one compact string (both forms are always read): IDEMPOTENCY_RECORDS. */
  readonly compactIdempotency: boolean
}

const reasonOf = (cause: unknown): string => (cause instanceof Error ? cause.message : String(cause))

/** Stream ids and list indexes that a cursor may hold; anything else reads as "nothing there". */
const STREAM_ID = /^\d+(-\d+)?$/
const LIST_INDEX = /^\d+$/

const strings = (reply: unknown, what: string): ReadonlyArray<string | null> => {
  if (!Array.isArray(reply) || !reply.every((x) => x === null || typeof x === "string")) {
    throw new UnexpectedScriptReply(what, reply)
  }
  return reply
}

const parseEvent = ([id, fields]: [string, Array<string>]): StoreEvent => {
  const field = (name: string) => fields[fields.indexOf(name) + 1] ?? "[]"
  return {
    id,
    entries: JSON.parse(field("entries")) as Array<LedgerEntry>,
    transfers: JSON.parse(field("transfers")) as Array<Transfer>
  }
}

/** The stream id right after `id` (`<ms>-<seq + 1>`): XTRIM MINID keeps ids from it on. */
export const nextStreamId = (id: string): string => {
  const [ms, seq] = id.split("-")
  return `${ms}-${Number(seq ?? 0) + 1}`
}

/** Smallest byte string greater than every string starting with `prefix` (exclusive BYLEX bound). */
const prefixEnd = (prefix: string): Buffer | null => {
  const bytes = Buffer.from(prefix, "utf8")
  for (let i = bytes.length - 1; i >= 0; i--) {
    if (bytes[i]! < 0xff) {
      const end = Buffer.from(bytes.subarray(0, i + 1))
      end[i] = bytes[i]! + 1
      return end
    }
  }
  return null
}

/** Extra time an apply may take when it also waits for replicas. */
const ackBudgetMs = (options: RedisStoreOptions) => (options.minReplicasAck > 0 ? options.replicasAckTimeoutMs : 0)

/** How long one connection attempt may take (with Sentinel: asking the sentinels included). */
const connectBudgetMs = (options: RedisStoreOptions) => Math.max(1000, options.commandTimeoutMs)

/**
 * One connection attempt, bounded by connectBudgetMs. ioredis reports why a connection failed
 * (WRONGPASS, a TLS certificate error, a sentinel that refused us) only as "error" events while
 * connect() itself says "Connection is closed": the last such event goes into the reason.
 */
const connect = (options: RedisStoreOptions) =>
  Effect.tryPromise({
    try: (signal) =>
      new Promise<ScriptedRedis>((resolve, reject) => {
        const budgetMs = connectBudgetMs(options)
        const { url, options: clientOptions } = redisClientOptions(options.connection, {
          // ioredis' own per-command timer must not cut a WAIT short; our deadlines (below) stay exact.
          commandTimeoutMs: options.commandTimeoutMs + ackBudgetMs(options),
          connectTimeoutMs: budgetMs
        })
        const redis = url === undefined ? new Redis(clientOptions) : new Redis(url, clientOptions)
        let lastError: Error | undefined
        // Failures surface per command as StoreUnavailable; without a listener ioredis logs them.
        redis.on("error", (e: Error) => void (lastError = e))
        redis.on("sentinelError", (e: Error) => void (lastError = e))
        const scripted = defineScripts(redis)
        let settled = false
        // An attempt that fails or is abandoned must not go on reconnecting in the background
        // (with Sentinel, connect() itself keeps asking the sentinels while none answers).
        const fail = (e: unknown) => {
          if (settled) return
          settled = true
          clearTimeout(timer)
          signal.removeEventListener("abort", onAbort)
          redis.disconnect()
          const why = reasonOf(e)
          reject(new Error(lastError && !why.includes(lastError.message) ? `${why.replace(/\.$/, "")} (${lastError.message})` : why))
        }
        const onAbort = () => fail(new Error("connection attempt abandoned"))
        const timer = setTimeout(() => fail(new Error(`no connection within ${budgetMs} ms`)), budgetMs)
        signal.addEventListener("abort", onAbort, { once: true })
        redis.connect().then(() => {
          if (settled) return
          settled = true
          clearTimeout(timer)
          signal.removeEventListener("abort", onAbort)
          resolve(scripted)
        }, fail)
      }),
    catch: (cause) => new StoreUnavailable({ operation: "connect", reason: reasonOf(cause) })
  })

const APPLY_LUA = readLuaScript("apply.lua")
const APPLY_SHA = createHash("sha1").update(APPLY_LUA).digest("hex")

/** Redis' own error replies arrive as ReplyError; anything else in a pipeline slot is a reply. */
const isNoScript = (e: unknown) => e instanceof Error && e.message.includes("NOSCRIPT")

/** The Store port on Redis; the client lives as long as the surrounding scope. */
export const makeRedisStore = Effect.fnUntraced(function*(options: RedisStoreOptions) {
  const keys = redisKeys(options.keyPrefix)
  /**
   * A store call again after StoreUnavailable: up to `retryAttempts` more tries, 25 ms doubling,
   * jittered (x0.8-1.2). Hand-rolled because `Effect.retry(schedule)` builds a schedule driver and
   * a new context for every call, success or not, and this wraps every request.
   */
  const retrying = <A>(effect: Effect.Effect<A, StoreUnavailable>): Effect.Effect<A, StoreUnavailable> => {
    const attempt = (n: number): Effect.Effect<A, StoreUnavailable> =>
      n >= options.retryAttempts ? effect : Effect.catchTag(effect, "StoreUnavailable", () =>
        Random.next.pipe(
          Effect.flatMap((r) => Effect.sleep(Math.round(25 * 2 ** n * (0.8 + 0.4 * r)))),
          Effect.andThen(attempt(n + 1))
        ))
    return attempt(0)
  }

  const redis: ScriptedRedis = yield* Effect.acquireRelease(
    // connect() bounds itself (and says why it failed); this deadline is only a backstop.
    connect(options).pipe(
      Effect.timeoutOrElse({
        duration: connectBudgetMs(options) + 1000,
        orElse: () => Effect.fail(new StoreUnavailable({ operation: "connect", reason: "no connection in time" }))
      }),
      retrying
    ),
    (r) => Effect.promise(() => r.quit().then(() => undefined, () => r.disconnect()))
  )

  /**
   * Redis clock minus ours, so that apply deadlines are stated in Redis time (apply.lua reads
   * TIME). Measured at connect and after every reconnect (a failover may change the server).
   */
  let clockOffsetMs = 0
  const measureClockOffset = async () => {
    const sent = Date.now()
    const [seconds, micros] = await redis.time()
    const received = Date.now()
    clockOffsetMs = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000) - Math.round((sent + received) / 2)
  }
  yield* Effect.promise(() => measureClockOffset().catch(() => undefined))
  redis.on("ready", () => void measureClockOffset().catch(() => undefined))

  // An evicted key is lost money (DESIGN 2); managed Redis may hide CONFIG, so this can only warn.
  yield* Effect.tryPromise(() => redis.config("GET", "maxmemory-policy")).pipe(
    Effect.flatMap((reply) => {
      const policy = Array.isArray(reply) ? String(reply[1]) : "unknown"
      return policy === "noeviction"
        ? Effect.void
        : Effect.logWarning("Redis maxmemory-policy is not noeviction: keys may be evicted").pipe(
          Effect.annotateLogs({ policy })
        )
    }),
    Effect.catch(() => Effect.logDebug("could not read Redis maxmemory-policy"))
  )

  /**
   * One Redis call: typed failure, deadline. Retries wrap whole store calls (below). The deadline
   * is a plain timer next to the promise, not `Effect.timeout`: that races two forked fibers and
   * a sleep per call, which the game profile showed on every request.
   */
  const call = <A>(operation: string, run: () => Promise<A>, extraMs = 0): Effect.Effect<A, StoreUnavailable> =>
    Effect.callback<A, StoreUnavailable>((resume) => {
      const budgetMs = options.commandTimeoutMs + extraMs
      let settled = false
      const settle = (effect: Effect.Effect<A, StoreUnavailable>) => {
        if (settled) return
        settled = true
        clearTimeout(timer)
        resume(effect)
      }
      const timer = setTimeout(
        () => settle(Effect.fail(new StoreUnavailable({ operation, reason: `no answer within ${budgetMs} ms` }))),
        budgetMs
      )
      const failed = (cause: unknown) => settle(Effect.fail(new StoreUnavailable({ operation, reason: reasonOf(cause) })))
      try {
        run().then((a) => settle(Effect.succeed(a)), failed)
      } catch (cause) {
        failed(cause)
      }
      return Effect.sync(() => {
        settled = true
        clearTimeout(timer)
      })
    })

  /**
   * REDIS_MIN_REPLICAS_ACK: apply.lua and `WAIT n timeout` in one pipeline (both sent before
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
  const scriptThenWait = async (numKeys: number, keysThenArgs: ReadonlyArray<string>) => {
    const send = (script: "evalsha" | "eval") => {
      const pipeline = redis.pipeline()
      if (script === "evalsha") pipeline.evalsha(APPLY_SHA, numKeys, ...keysThenArgs)
      else pipeline.eval(APPLY_LUA, numKeys, ...keysThenArgs)
      pipeline.wait(options.minReplicasAck, options.replicasAckTimeoutMs)
      return pipeline.exec()
    }
    let replies = await send("evalsha")
    // First write on a new connection (a failover, SCRIPT FLUSH): the script is not cached yet.
    if (isNoScript(replies?.[0]?.[0])) replies = await send("eval")
    const [scriptError, scriptReply] = replies?.[0] ?? [new Error("empty pipeline reply")]
    if (scriptError) throw scriptError
    const [waitError, acknowledged] = replies?.[1] ?? [new Error("no WAIT reply")]
    return { scriptReply: scriptReply as unknown, waitError, acknowledged: Number(acknowledged) }
  }

  // load and apply carry no span of their own: the ledger traces each as `Store.load` / `Store.apply`.
  const load = Effect.fnUntraced(function*(objectKeys: ReadonlyArray<string>, idempotencyKey?: string) {
    const k = objectKeys.map(keys.object)
    if (idempotencyKey !== undefined) k.push(keys.idempotency(idempotencyKey))
    const reply = strings(
      yield* call("load", () => redis.balanceLoad(k.length, ...k, idempotencyKey !== undefined ? "1" : "0")),
      "load.lua"
    )
    return {
      objects: versionedPairs(objectKeys, reply, 3),
      idempotency: reply[0] === "1" ? { fingerprint: reply[1] ?? "", response: reply[2] ?? "" } : null
    }
  }, retrying)

  const apply = Effect.fnUntraced(function*(request: ApplyRequest) {
    // The script refuses to write once this attempt's deadline has passed by the Redis clock:
    // a write that ran after we gave up on it (and answered UNAVAILABLE) would be unacknowledged.
    const deadlineMs = Date.now() + clockOffsetMs + options.commandTimeoutMs + options.deadlineSlackMs
    const { keys: k, args } = applyArgs(request, keys, options.eventsMaxLen, deadlineMs, options.compactIdempotency)
    const expectedKeys = request.plan.expected.map((e) => e.key)
    const onTime = (outcome: ScriptOutcome): Effect.Effect<ApplyResult, StoreUnavailable> =>
      outcome._tag === "Late"
        ? Effect.fail(new StoreUnavailable({ operation: "apply", reason: "Redis ran the write after its deadline; nothing was written" }))
        : Effect.succeed(outcome)
    if (options.minReplicasAck === 0) {
      const reply = yield* call("apply", () => redis.balanceApply(k.length, ...k, ...args))
      return yield* onTime(applyResult(expectedKeys, reply))
    }
    const { scriptReply, waitError, acknowledged } = yield* call(
      "apply",
      () => scriptThenWait(k.length, [...k, ...args]),
      options.replicasAckTimeoutMs
    )
    const result = yield* onTime(applyResult(expectedKeys, scriptReply))
    // Applied wrote just now; Replayed answers for an earlier write that may not have been
    // acknowledged by replicas yet (its first try may have failed right here), so both wait.
    // Nothing was written for the other outcomes: WAIT's answer does not matter.
    if ((result._tag === "Applied" || result._tag === "Replayed") && (waitError || !(acknowledged >= options.minReplicasAck))) {
      return yield* new StoreUnavailable({
        operation: "apply",
        reason: waitError
          ? `replicas did not acknowledge the write (WAIT failed: ${reasonOf(waitError)}); it may have been applied, retrying with the same idempotency key is safe`
          : `replicas did not acknowledge the write: ${acknowledged} of ${options.minReplicasAck} within ${options.replicasAckTimeoutMs} ms; it may have been applied, retrying with the same idempotency key is safe`
      })
    }
    return result
  }, retrying)

  const entryPage = Effect.fn("RedisStore.entryPage")(function*(account: AccountRef, afterSeq: number, limit: number) {
    if (limit <= 0) return { entries: [], trimmedThrough: 0 }
    const reply = strings(
      yield* call("entries", () =>
        redis.balanceLedger(2, keys.ledger(account), keys.trimmed, String(Math.max(0, Math.floor(afterSeq))), String(Math.floor(limit)), account)),
      "ledger.lua"
    )
    return { entries: reply.slice(1).map((s) => JSON.parse(s ?? "null") as LedgerEntry), trimmedThrough: Number(reply[0]) }
  }, retrying)

  const entries = (account: AccountRef, afterSeq: number, limit: number) =>
    Effect.map(entryPage(account, afterSeq, limit), (page) => page.entries)

  const transfers = Effect.fn("RedisStore.transfers")(function*(
    account: AccountRef,
    cursor: string | null,
    limit: number
  ) {
    if (cursor !== null && !LIST_INDEX.test(cursor)) return { items: [], nextCursor: null, floor: 0 } satisfies TransferPage
    const reply = strings(
      yield* call("transfers", () =>
        redis.balanceTransfers(2, keys.transfers(account), keys.trimmed, cursor ?? "", String(Math.max(0, Math.floor(limit))), account)),
      "transfers.lua"
    )
    const start = Number(reply[0])
    const items = reply.slice(2).map((s) => JSON.parse(s ?? "null") as Transfer).reverse()
    return { items, nextCursor: start > 0 ? String(start) : null, floor: Number(reply[1]) } satisfies TransferPage
  }, retrying)

  const events = Effect.fn("RedisStore.events")(function*(cursor: string | null, limit: number) {
    if (limit <= 0 || (cursor !== null && !STREAM_ID.test(cursor))) {
      return { items: [], nextCursor: null, trimmedThrough: "0" } satisfies EventPage
    }
    // One MULTI: the page and the trim cursor it is bounded by belong together.
    const [page, trimmedThrough] = yield* call("events", async () => {
      const replies = await redis.multi()
        .xrevrange(keys.events, cursor === null ? "+" : `(${cursor}`, "-", "COUNT", Math.floor(limit) + 1)
        .hget(keys.trimmed, "cursor")
        .exec()
      const [pageError, raw] = replies?.[0] ?? [new Error("empty MULTI reply")]
      if (pageError) throw pageError
      return [raw as Array<[string, Array<string>]>, String(replies?.[1]?.[1] ?? "0")] as const
    })
    const items = page.slice(0, limit).map(parseEvent)
    const last = items[items.length - 1]
    return { items, nextCursor: last && page.length > items.length ? last.id : null, trimmedThrough } satisfies EventPage
  }, retrying)

  const eventsAfter = Effect.fn("RedisStore.eventsAfter")(function*(afterId: string, limit: number) {
    if (limit <= 0 || !STREAM_ID.test(afterId)) return []
    const raw = yield* call("eventsAfter", () =>
      redis.xrange(keys.events, `(${afterId}`, "+", "COUNT", Math.floor(limit)))
    return raw.map(parseEvent)
  }, retrying)

  const accounts = Effect.fn("RedisStore.accounts")(function*(cursor: string | null, limit: number, prefix?: string) {
    if (limit <= 0) return { items: [], nextCursor: null } satisfies Page<AccountRef>
    const p = prefix ?? ""
    const min = cursor !== null && cursor >= p ? `(${cursor}` : p === "" ? "-" : `[${p}`
    const end = p === "" ? null : prefixEnd(p)
    const max = end === null ? "+" : Buffer.concat([Buffer.from("("), end])
    const n = Math.floor(limit)
    const found = yield* call("accounts", () => redis.zrangeBuffer(keys.accounts, min, max, "BYLEX", "LIMIT", 0, n + 1))
    const items = found.slice(0, n).map((b) => b.toString("utf8"))
    return { items, nextCursor: found.length > n ? items[items.length - 1]! : null } satisfies Page<AccountRef>
  }, retrying)

  const closedAccounts = Effect.fn("RedisStore.closedAccounts")(function*(since: number, cursor: string | null, limit: number) {
    if (limit <= 0) return { items: [], nextCursor: null } satisfies Page<AccountRef>
    const offset = cursor === null ? 0 : Number(cursor)
    const n = Math.floor(limit)
    const found = yield* call("closedAccounts", () =>
      redis.zrangebyscoreBuffer(keys.closed, Number.isFinite(since) ? String(since) : "-inf", "+inf", "LIMIT", offset, n + 1)
    )
    const items = found.slice(0, n).map((b) => b.toString("utf8"))
    return { items, nextCursor: found.length > n ? String(offset + n) : null } satisfies Page<AccountRef>
  }, retrying)

  const dueReservations = Effect.fn("RedisStore.dueReservations")(function*(now: number, limit: number) {
    if (limit <= 0) return []
    return yield* call("dueReservations", () =>
      redis.zrangebyscore(keys.expiry, "-inf", String(now), "LIMIT", 0, Math.floor(limit)))
  }, retrying)

  const systemBalances = Effect.fn("RedisStore.systemBalances")(function*() {
    const [mint, burn, rake] = yield* call("systemBalances", () => redis.hmget(keys.system, "mint", "burn", "rake"))
    return { mint: Number(mint ?? 0), burn: Number(burn ?? 0), rake: Number(rake ?? 0) } satisfies Record<
      SystemAccount,
      number
    >
  }, retrying)

  const stats = Effect.fn("RedisStore.stats")(function*() {
    const all = yield* call("stats", () => redis.hgetall(keys.stats))
    return Object.fromEntries(Object.entries(all).map(([k, v]) => [k, Number(v)])) as Partial<Record<StatName, number>>
  }, retrying)

  const ping = Effect.fn("RedisStore.ping")(function*() {
    yield* call("ping", () => redis.ping())
  }, retrying)

  const serverMemory = Effect.fn("RedisStore.serverMemory")(function*() {
    const info = yield* call("info", () => redis.info("memory"))
    const used = /^used_memory:(\d+)/m.exec(info)?.[1]
    if (used === undefined) return yield* new StoreUnavailable({ operation: "info", reason: "INFO memory has no used_memory" })
    return { usedBytes: Number(used), maxBytes: Number(/^maxmemory:(\d+)/m.exec(info)?.[1] ?? 0) }
  })

  const acquireArchiverLease = Effect.fn("RedisStore.acquireArchiverLease")(function*(owner: string, ttlMs: number) {
    const reply = strings(
      yield* call("lease", () =>
        redis.balanceLease(2, keys.archiverLease, keys.archiverToken, "acquire", owner, String(Math.max(1, Math.floor(ttlMs))))),
      "lease.lua"
    )
    if ((reply[0] === "ACQUIRED" || reply[0] === "RENEWED") && reply[1] != null) {
      return { _tag: "Held", token: Number(reply[1]) } satisfies LeaseResult
    }
    if (reply[0] === "HELD") return { _tag: "HeldByOther", owner: reply[1] ?? "" } satisfies LeaseResult
    throw new UnexpectedScriptReply("lease.lua", reply)
  }, retrying)

  const archiverLease = Effect.fn("RedisStore.archiverLease")(function*() {
    // lease.lua's value: "<owner> <token>"; the key expires with the lease.
    const value = yield* call("lease", () => redis.get(keys.archiverLease))
    if (value === null) return null
    const sep = value.indexOf(" ")
    return { owner: value.slice(0, sep), token: Number(value.slice(sep + 1)) } satisfies LeaseHolder
  }, retrying)

  const releaseArchiverLease = Effect.fn("RedisStore.releaseArchiverLease")(function*(owner: string) {
    yield* call("lease", () => redis.balanceLease(2, keys.archiverLease, keys.archiverToken, "release", owner))
  }, retrying)

  const trimState = Effect.fn("RedisStore.trimState")(function*(accounts: ReadonlyArray<AccountRef>) {
    const reply = yield* call("trimState", () => redis.hmget(keys.trimmed, "cursor", ...accounts.map((a) => `t:${a}`)))
    return {
      cursor: reply[0] ?? "0",
      transfersBase: new Map(accounts.map((a, i) => [a, Number(reply[i + 1] ?? 0)]))
    }
  }, retrying)

  const trimArchived = Effect.fn("RedisStore.trimArchived")(function*(request: TrimRequest) {
    const k = [keys.trimmed, keys.events]
    const args = [request.fromEventId, request.throughEventId, nextStreamId(request.throughEventId), String(request.accounts.length)]
    for (const a of request.accounts) {
      k.push(keys.ledger(a.account), keys.transfers(a.account))
      args.push(a.account, String(a.entriesThroughSeq), a.entriesThroughChecksum, String(a.transfersBase), String(a.transferIds.length), ...a.transferIds)
    }
    const reply = strings(yield* call("trim", () => redis.balanceTrim(k.length, ...k, ...args)), "trim.lua")
    if (reply[0] === "CURSOR_MOVED") return { _tag: "CursorMoved", cursor: reply[1] ?? "0" } satisfies TrimResult
    if (reply[0] !== "TRIMMED") throw new UnexpectedScriptReply("trim.lua", reply)
    return {
      _tag: "Trimmed",
      entries: Number(reply[1]),
      transfers: Number(reply[2]),
      events: Number(reply[3]),
      skipped: reply.slice(4).map((x) => x ?? "")
    } satisfies TrimResult
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

  return Store.of({
    load,
    apply,
    entries,
    entryPage,
    transfers,
    events,
    eventsAfter,
    accounts,
    closedAccounts,
    dueReservations,
    systemBalances,
    stats,
    ping,
    serverMemory,
    acquireArchiverLease,
    releaseArchiverLease,
    archiverLease,
    trimState,
    trimArchived,
    awaitReplication
  })
})

/** The store on an explicit Redis (tests, LocalRedisServer, StoreLayer); unset options come from config. */
export const redisStoreLayer = (
  options:
    & Partial<Omit<RedisStoreOptions, "connection">>
    & ({ readonly url: string } | { readonly connection: RedisConnection })
) =>
  Layer.effect(
    Store,
    Effect.gen(function*() {
      return yield* makeRedisStore({
        connection: "connection" in options ? options.connection : { _tag: "Url", url: options.url },
        keyPrefix: options.keyPrefix ?? (yield* AppConfig.redisKeyPrefix),
        commandTimeoutMs: options.commandTimeoutMs ?? (yield* AppConfig.redisCommandTimeoutMs),
        retryAttempts: options.retryAttempts ?? (yield* AppConfig.storeRetryAttempts),
        eventsMaxLen: options.eventsMaxLen ?? (yield* AppConfig.redisEventsMaxLen),
        minReplicasAck: options.minReplicasAck ?? (yield* AppConfig.redisMinReplicasAck),
        replicasAckTimeoutMs: options.replicasAckTimeoutMs ?? (yield* AppConfig.redisReplicasAckTimeoutMs),
        deadlineSlackMs: options.deadlineSlackMs ?? (yield* AppConfig.redisDeadlineSlackMs),
        compactIdempotency: options.compactIdempotency ?? ((yield* AppConfig.idempotencyRecords) === "compact")
      })
    })
  )

/**
 * The store on REDIS_SENTINELS or REDIS_URL (with REDIS_PASSWORD, REDIS_TLS...); one of them is
 * required here: main starts LocalRedisServer and passes its URL when neither is set.
 */
export const RedisStoreLayer = Layer.unwrap(
  Effect.gen(function*() {
    const connection = yield* redisConnectionFromConfig
    if (connection === undefined) {
      return Layer.effect(
        Store,
        Effect.fail(new StoreUnavailable({ operation: "connect", reason: "REDIS_URL is not set (nor REDIS_SENTINELS)" }))
      )
    }
    return redisStoreLayer({ connection })
  })
)
