import { Effect } from "effect"
import type { AccountRef, SystemAccount, Versioned } from "../../domain/accounts.ts"
import type { LedgerEntry } from "../../domain/ledgerEntry.ts"
import type { StatName } from "../../domain/plan.ts"
import type { Transfer } from "../../domain/transfer.ts"
import type { EventPage, LeaseHolder, Page, Snapshot, StoreEvent, TransferPage } from "../Store.ts"
import { StoreUnavailable } from "../StoreErrors.ts"
import { luaScripts, runScript } from "./luaScripts.ts"
import type { RedisKeys } from "./redisKeys.ts"
import type { RedisSession } from "./redisSession.ts"
import { eventOutlinesResult, eventsPageResult, ledgerPageResult, loadResult, transferPageResult, versionedFrom } from "./scriptResults.ts"
import type { TrackedCache } from "./trackedCache.ts"

/** Stream ids and list indexes that a cursor may hold; anything else reads as "nothing there". */
const STREAM_ID = /^\d+(-\d+)?$/
const LIST_INDEX = /^\d+$/

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

/** READ_CACHE: the cache, and the barrier a hit waits for (invalidationTracking.ts). */
export interface ReadCache {
  readonly cache: TrackedCache
  readonly barrier: (resume: (ok: boolean) => void) => void
}

const snapshotOf = (objectKey: string, object: Versioned): Snapshot => ({
  objects: new Map([[objectKey, object]]),
  idempotency: null
})

/**
 * The store's reads on Redis: each one call (a script, or a MULTI where parts belong together),
 * retried whole. With `cache` (READ_CACHE=on), single-object loads are served from it.
 */
export const makeRedisReads = ({ call, redis, retrying }: RedisSession, keys: RedisKeys, cache?: ReadCache) => {
  const loadFromRedis = Effect.fnUntraced(function*(objectKeys: ReadonlyArray<string>, idempotencyKey?: string) {
    const loadCall = luaScripts.load.call({ objectKeys, idempotencyKey, keys })
    return loadResult(objectKeys, yield* call("load", () => runScript(redis, luaScripts.load, loadCall)))
  }, retrying)

  /**
   * One object read with CLIENT CACHING yes in front (tracking is OPTIN: only these reads are
   * tracked), so that Redis tells us when it changes; the answer fills the cache unless an
   * invalidation came in meanwhile (trackedCache.ts). When CACHING fails (tracking was lost on
   * this connection), the answer is still right, it just is not kept.
   */
  const trackedRead = (objectKey: string, redisKey: string, tracked: TrackedCache) =>
    retrying(Effect.acquireUseRelease(
      // Per attempt: `object` is what this attempt read, kept only when CLIENT CACHING was accepted.
      Effect.sync(() => ({ ticket: tracked.beginFill(redisKey), object: undefined as Versioned | undefined })),
      (attempt) =>
        Effect.map(
          call("load", async () => {
            const { ticket } = attempt
            if (ticket === undefined) {
              const [v, d] = await redis.hmget(redisKey, "v", "d")
              return versionedFrom(v, d)
            }
            const replies = await redis.pipeline().call("CLIENT", "CACHING", "yes").hmget(redisKey, "v", "d").exec()
            const [cachingError] = replies?.[0] ?? [new Error("empty pipeline reply")]
            const [readError, reply] = replies?.[1] ?? [new Error("empty pipeline reply")]
            if (readError) throw readError
            const [v, d] = reply as Array<string | null>
            const read = versionedFrom(v, d)
            if (!cachingError) attempt.object = read
            return read
          }),
          (read) => snapshotOf(objectKey, read)
        ),
      // Always (failure and interruption included), so that no read in flight is left counted.
      ({ ticket, object }) => Effect.sync(() => ticket && tracked.endFill(ticket, object))
    ))

  /**
   * A cached object is served only after the barrier (invalidationTracking.ts): a PING on the
   * invalidation connection sent after this read arrived, shared by every read waiting for it.
   * Every invalidation for a write acknowledged before the read arrived is then handled, so a
   * hit is never older than such a write (docs/read-cache.md).
   */
  const cachedLoad = (objectKey: string, tracked: ReadCache): Effect.Effect<Snapshot, StoreUnavailable> => {
    const redisKey = keys.object(objectKey)
    if (!tracked.cache.has(redisKey)) {
      tracked.cache.get(redisKey) // counts the miss
      return trackedRead(objectKey, redisKey, tracked.cache)
    }
    return Effect.callback<Snapshot, StoreUnavailable>((resume) => {
      let cancelled = false
      tracked.barrier((ok) => {
        if (cancelled) return
        const object = ok ? tracked.cache.get(redisKey) : undefined
        resume(object === undefined ? trackedRead(objectKey, redisKey, tracked.cache) : Effect.succeed(snapshotOf(objectKey, object)))
      })
      return Effect.sync(() => void (cancelled = true))
    })
  }

  /**
   * Only one object and no idempotency record come from the cache. A load of several objects
   * promises one snapshot (the ledger refuses or plans on it), and the invalidations of one
   * write may arrive split across socket reads: cached entries could mix before and after.
   * No span of its own: the ledger traces it as `Store.load`.
   */
  const load = (objectKeys: ReadonlyArray<string>, idempotencyKey?: string): Effect.Effect<Snapshot, StoreUnavailable> =>
    cache !== undefined && objectKeys.length === 1 && idempotencyKey === undefined
      ? cachedLoad(objectKeys[0]!, cache)
      : loadFromRedis(objectKeys, idempotencyKey)

  const entryPage = Effect.fn("RedisStore.entryPage")(function*(account: AccountRef, afterSeq: number, limit: number) {
    if (limit <= 0) return { entries: [], trimmedThrough: 0 }
    const ledgerCall = luaScripts.ledger.call({ account, afterSeq, limit, keys })
    return ledgerPageResult(yield* call("entries", () => runScript(redis, luaScripts.ledger, ledgerCall)))
  }, retrying)

  const entries = (account: AccountRef, afterSeq: number, limit: number) =>
    Effect.map(entryPage(account, afterSeq, limit), (page) => page.entries)

  const transfers = Effect.fn("RedisStore.transfers")(function*(
    account: AccountRef,
    cursor: string | null,
    limit: number
  ) {
    if (cursor !== null && !LIST_INDEX.test(cursor)) return { items: [], nextCursor: null, floor: 0 } satisfies TransferPage
    const transfersCall = luaScripts.transfers.call({ account, cursor, limit, keys })
    return transferPageResult(yield* call("transfers", () => runScript(redis, luaScripts.transfers, transfersCall)))
  }, retrying)

  const events = Effect.fn("RedisStore.events")(function*(cursor: string | null, limit: number) {
    if (limit <= 0 || (cursor !== null && !STREAM_ID.test(cursor))) {
      return { items: [], nextCursor: null, trimmedThrough: "0" } satisfies EventPage
    }
    // One script: the page, its entries and the trim cursor it is bounded by belong together.
    const eventsCall = luaScripts.events.call({ direction: "desc", from: cursor, count: Math.floor(limit) + 1, detail: "entries", keys })
    const { events: page, trimCursor } = eventsPageResult(yield* call("events", () => runScript(redis, luaScripts.events, eventsCall)))
    const items = page.slice(0, limit)
    const last = items[items.length - 1]
    return { items, nextCursor: last && page.length > items.length ? last.id : null, trimmedThrough: trimCursor } satisfies EventPage
  }, retrying)

  const eventsAfter = Effect.fn("RedisStore.eventsAfter")(function*(afterId: string, limit: number) {
    if (limit <= 0 || !STREAM_ID.test(afterId)) return []
    const eventsCall = luaScripts.events.call({ direction: "asc", from: afterId, count: limit, detail: "entries", keys })
    return eventsPageResult(yield* call("eventsAfter", () => runScript(redis, luaScripts.events, eventsCall))).events
  }, retrying)

  const eventOutlinesAfter = Effect.fn("RedisStore.eventOutlinesAfter")(function*(afterId: string, limit: number) {
    if (limit <= 0 || !STREAM_ID.test(afterId)) return []
    const eventsCall = luaScripts.events.call({ direction: "asc", from: afterId, count: limit, detail: "outline", keys })
    return eventOutlinesResult(yield* call("eventsAfter", () => runScript(redis, luaScripts.events, eventsCall)))
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

  /** INFO memory: what Redis holds against its maxmemory (0: no limit), for the memory gauges. */
  const serverMemory = Effect.fn("RedisStore.serverMemory")(function*() {
    const info = yield* call("info", () => redis.info("memory"))
    const used = /^used_memory:(\d+)/m.exec(info)?.[1]
    if (used === undefined) return yield* new StoreUnavailable({ operation: "info", reason: "INFO memory has no used_memory" })
    return { usedBytes: Number(used), maxBytes: Number(/^maxmemory:(\d+)/m.exec(info)?.[1] ?? 0) }
  })

  const archiverLease = Effect.fn("RedisStore.archiverLease")(function*() {
    // lease.lua's value: "<owner> <token>"; the key expires with the lease.
    const value = yield* call("lease", () => redis.get(keys.archiverLease))
    if (value === null) return null
    const sep = value.indexOf(" ")
    return { owner: value.slice(0, sep), token: Number(value.slice(sep + 1)) } satisfies LeaseHolder
  }, retrying)

  const trimState = Effect.fn("RedisStore.trimState")(function*(accounts: ReadonlyArray<AccountRef>) {
    const reply = yield* call("trimState", () => redis.hmget(keys.trimmed, "cursor", ...accounts.map((a) => `t:${a}`)))
    return {
      cursor: reply[0] ?? "0",
      transfersBase: new Map(accounts.map((a, i) => [a, Number(reply[i + 1] ?? 0)]))
    }
  }, retrying)

  return {
    load,
    entryPage,
    entries,
    transfers,
    events,
    eventsAfter,
    eventOutlinesAfter,
    accounts,
    closedAccounts,
    dueReservations,
    systemBalances,
    stats,
    ping,
    serverMemory,
    archiverLease,
    trimState,
    // Redis holds markers only; their full state is the history store's (TieredStore answers it).
    archivedObject: () => Effect.succeed(null)
  }
}
