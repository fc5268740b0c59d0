import { Effect, Layer, Schedule } from "effect"
import { Redis } from "ioredis"
import type { AccountRef, SystemAccount } from "../../domain/accounts.ts"
import type { LedgerEntry } from "../../domain/ledgerEntry.ts"
import type { StatName } from "../../domain/plan.ts"
import type { Transfer } from "../../domain/transfer.ts"
import { AppConfig } from "../../config.ts"
import { type ApplyRequest, type Page, Store, type StoreEvent } from "../Store.ts"
import { StoreUnavailable } from "../StoreErrors.ts"
import { applyArgs } from "./applyArgs.ts"
import { defineScripts, type ScriptedRedis } from "./luaScripts.ts"
import { redisKeys } from "./redisKeys.ts"
import { applyResult, UnexpectedScriptReply, versionedPairs } from "./scriptResults.ts"

export interface RedisStoreOptions {
  readonly url: string
  readonly keyPrefix: string
  /** Deadline of one attempt of one store call. */
  readonly commandTimeoutMs: number
  /** Retries after the first attempt, on StoreUnavailable only. */
  readonly retryAttempts: number
  readonly eventsMaxLen: number
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

const connect = (options: RedisStoreOptions) =>
  Effect.tryPromise({
    try: async () => {
      const redis = new Redis(options.url, {
        lazyConnect: true,
        // A command issued while disconnected fails at once (StoreUnavailable, retried by us)
        // instead of waiting in a queue past its deadline.
        enableOfflineQueue: false,
        maxRetriesPerRequest: 1,
        // In-flight commands on a dropped connection fail rather than being resent behind our back.
        autoResendUnfulfilledCommands: false,
        commandTimeout: options.commandTimeoutMs,
        connectTimeout: Math.max(1000, options.commandTimeoutMs),
        retryStrategy: (times) => Math.min(50 * times, 1000)
      })
      // Failures surface per command as StoreUnavailable; without a listener ioredis logs them.
      redis.on("error", () => {})
      const scripted = defineScripts(redis)
      await redis.connect().catch((e: unknown) => {
        redis.disconnect()
        throw e
      })
      return scripted
    },
    catch: (cause) => new StoreUnavailable({ operation: "connect", reason: reasonOf(cause) })
  })

/** The Store port on Redis; the client lives as long as the surrounding scope. */
export const makeRedisStore = Effect.fnUntraced(function*(options: RedisStoreOptions) {
  const keys = redisKeys(options.keyPrefix)
  const retry = Schedule.exponential("25 millis").pipe(
    Schedule.jittered,
    Schedule.upTo({ times: options.retryAttempts }),
    Schedule.setInputType<StoreUnavailable>(),
    Schedule.while(({ input }) => input._tag === "StoreUnavailable")
  )
  const deadline = <A>(operation: string, effect: Effect.Effect<A, StoreUnavailable>) =>
    effect.pipe(
      Effect.timeoutOrElse({
        duration: options.commandTimeoutMs,
        orElse: () =>
          Effect.fail(new StoreUnavailable({ operation, reason: `no answer within ${options.commandTimeoutMs} ms` }))
      })
    )

  const redis: ScriptedRedis = yield* Effect.acquireRelease(
    deadline("connect", connect(options)).pipe(Effect.retry(retry)),
    (r) => Effect.promise(() => r.quit().then(() => undefined, () => r.disconnect()))
  )

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

  /** One Redis call: typed failure, deadline. Retries wrap whole store calls (below). */
  const call = <A>(operation: string, run: () => Promise<A>): Effect.Effect<A, StoreUnavailable> =>
    deadline(
      operation,
      Effect.tryPromise({ try: run, catch: (cause) => new StoreUnavailable({ operation, reason: reasonOf(cause) }) })
    )

  const load = Effect.fn("RedisStore.load")(function*(objectKeys: ReadonlyArray<string>, idempotencyKey?: string) {
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
  }, Effect.retry(retry))

  const apply = Effect.fn("RedisStore.apply")(function*(request: ApplyRequest) {
    const { keys: k, args } = applyArgs(request, keys, options.eventsMaxLen)
    const reply = yield* call("apply", () => redis.balanceApply(k.length, ...k, ...args))
    return applyResult(request.plan.expected.map((e) => e.key), reply)
  }, Effect.retry(retry))

  const entries = Effect.fn("RedisStore.entries")(function*(account: AccountRef, afterSeq: number, limit: number) {
    if (limit <= 0) return []
    const start = Math.max(0, Math.floor(afterSeq))
    const items = yield* call("entries", () => redis.lrange(keys.ledger(account), start, start + Math.floor(limit) - 1))
    return items.map((s) => JSON.parse(s) as LedgerEntry)
  }, Effect.retry(retry))

  const transfers = Effect.fn("RedisStore.transfers")(function*(
    account: AccountRef,
    cursor: string | null,
    limit: number
  ) {
    if (cursor !== null && !LIST_INDEX.test(cursor)) return { items: [], nextCursor: null } satisfies Page<Transfer>
    const reply = strings(
      yield* call("transfers", () =>
        redis.balanceTransfers(1, keys.transfers(account), cursor ?? "", String(Math.max(0, Math.floor(limit))))),
      "transfers.lua"
    )
    const start = Number(reply[0])
    const items = reply.slice(1).map((s) => JSON.parse(s ?? "null") as Transfer).reverse()
    return { items, nextCursor: start > 0 ? String(start) : null } satisfies Page<Transfer>
  }, Effect.retry(retry))

  const events = Effect.fn("RedisStore.events")(function*(cursor: string | null, limit: number) {
    if (limit <= 0 || (cursor !== null && !STREAM_ID.test(cursor))) {
      return { items: [], nextCursor: null } satisfies Page<StoreEvent>
    }
    const raw = yield* call("events", () =>
      redis.xrevrange(keys.events, cursor === null ? "+" : `(${cursor}`, "-", "COUNT", Math.floor(limit) + 1))
    const items = raw.slice(0, limit).map(parseEvent)
    const last = items[items.length - 1]
    return { items, nextCursor: last && raw.length > items.length ? last.id : null } satisfies Page<StoreEvent>
  }, Effect.retry(retry))

  const eventsAfter = Effect.fn("RedisStore.eventsAfter")(function*(afterId: string, limit: number) {
    if (limit <= 0 || !STREAM_ID.test(afterId)) return []
    const raw = yield* call("eventsAfter", () =>
      redis.xrange(keys.events, `(${afterId}`, "+", "COUNT", Math.floor(limit)))
    return raw.map(parseEvent)
  }, Effect.retry(retry))

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
  }, Effect.retry(retry))

  const dueReservations = Effect.fn("RedisStore.dueReservations")(function*(now: number, limit: number) {
    if (limit <= 0) return []
    return yield* call("dueReservations", () =>
      redis.zrangebyscore(keys.expiry, "-inf", String(now), "LIMIT", 0, Math.floor(limit)))
  }, Effect.retry(retry))

  const systemBalances = Effect.fn("RedisStore.systemBalances")(function*() {
    const [mint, burn, rake] = yield* call("systemBalances", () => redis.hmget(keys.system, "mint", "burn", "rake"))
    return { mint: Number(mint ?? 0), burn: Number(burn ?? 0), rake: Number(rake ?? 0) } satisfies Record<
      SystemAccount,
      number
    >
  }, Effect.retry(retry))

  const stats = Effect.fn("RedisStore.stats")(function*() {
    const all = yield* call("stats", () => redis.hgetall(keys.stats))
    return Object.fromEntries(Object.entries(all).map(([k, v]) => [k, Number(v)])) as Partial<Record<StatName, number>>
  }, Effect.retry(retry))

  const ping = Effect.fn("RedisStore.ping")(function*() {
    yield* call("ping", () => redis.ping())
  }, Effect.retry(retry))

  return Store.of({
    load,
    apply,
    entries,
    transfers,
    events,
    eventsAfter,
    accounts,
    dueReservations,
    systemBalances,
    stats,
    ping
  })
})

/** The store on an explicit Redis (tests, LocalRedisServer); unset options come from config. */
export const redisStoreLayer = (options: Partial<RedisStoreOptions> & { readonly url: string }) =>
  Layer.effect(
    Store,
    Effect.gen(function*() {
      return yield* makeRedisStore({
        url: options.url,
        keyPrefix: options.keyPrefix ?? (yield* AppConfig.redisKeyPrefix),
        commandTimeoutMs: options.commandTimeoutMs ?? (yield* AppConfig.redisCommandTimeoutMs),
        retryAttempts: options.retryAttempts ?? (yield* AppConfig.storeRetryAttempts),
        eventsMaxLen: options.eventsMaxLen ?? (yield* AppConfig.redisEventsMaxLen)
      })
    })
  )

/** The store on REDIS_URL (required here: main starts LocalRedisServer and passes its URL when unset). */
export const RedisStoreLayer = Layer.unwrap(
  Effect.gen(function*() {
    const url = yield* AppConfig.redisUrl
    if (url === undefined) {
      return Layer.effect(
        Store,
        Effect.fail(new StoreUnavailable({ operation: "connect", reason: "REDIS_URL is not set" }))
      )
    }
    return redisStoreLayer({ url })
  })
)
