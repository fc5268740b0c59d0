import { randomUUID } from "node:crypto"
import { Effect } from "effect"
import { Redis } from "ioredis"
import { redisClientOptions } from "./redisConnectionOptions.ts"
import type { RedisSession } from "./redisSession.ts"
import type { RedisStoreOptions } from "./redisStoreOptions.ts"
import type { TrackedCache } from "./trackedCache.ts"

/** Where Redis publishes invalidations for a RESP2 client that tracking redirects to. */
const INVALIDATE_CHANNEL = "__redis__:invalidate"

/**
 * How soon to try again when tracking could not be established: 250 ms doubling up to 30 s, so
 * that a Redis refusing CLIENT TRACKING (an ACL, a managed service) costs a command now and then,
 * not a stream of them; every read goes to Redis meanwhile (balance_read_cache_live 0).
 */
const retryDelayMs = (failures: number) => Math.min(30_000, 250 * 2 ** Math.min(failures, 7))

/**
 * Barrier PINGs in flight at most (see `barrier`): enough to pipeline one per turn of the event
 * loop over a round trip under load; when Redis is slow, further reads share the next one.
 */
const MAX_BARRIER_PINGS = 4

/**
 * Keeps `cache` live only while Redis is known to tell this instance about every change of the
 * keys it read: CLIENT TRACKING (OPTIN) on the session's connection, redirected to a second
 * connection subscribed to __redis__:invalidate.
 *
 * Why a redirect: ioredis (6.0) speaks RESP3 but drops `invalidate` push frames it does not know;
 * on a RESP2 subscriber they arrive as ordinary pub/sub messages (`messageBuffer`: the key list,
 * or null for FLUSHALL / FLUSHDB, which flushes everything here).
 *
 * RESP2 does not tell the tracked connection when its redirect target goes away, so every event
 * that may lose an invalidation makes the cache not live (and flushes it): either connection
 * closing, a reconnect (a new connection has no tracking, a failover is another server), an
 * error while (re)establishing. Reads then go to Redis until both connections are back, tracking
 * is on again and checked to point at our subscriber on the same server (CLIENT LIST ID shows
 * its unique name: client ids are per server, and after a failover the same id may be someone
 * else's).
 */
export const invalidationTracking = Effect.fnUntraced(function*(
  session: RedisSession,
  options: RedisStoreOptions,
  cache: TrackedCache
) {
  const main = session.redis
  const name = `balance-invalidations-${randomUUID()}`
  const { url, options: clientOptions } = redisClientOptions(options.connection, {
    commandTimeoutMs: options.commandTimeoutMs,
    connectTimeoutMs: Math.max(1000, options.commandTimeoutMs)
  })
  // RESP2: invalidations as pub/sub messages (see above). We subscribe ourselves after CLIENT ID.
  const subscriberOptions = { ...clientOptions, protocol: 2 as const, autoResubscribe: false, connectionName: name }
  const subscriber = url === undefined ? new Redis(subscriberOptions) : new Redis(url, subscriberOptions)
  subscriber.on("error", () => undefined)

  let stopped = false
  /** Our subscriber's client id once it is subscribed on its current connection. */
  let redirectId: string | undefined
  /** Moves on every loss; an attempt to establish that started in an older generation gives up. */
  let generation = 0
  let establishing = false
  let failures = 0
  /** No attempt before this (Date.now() ms): the backoff after a failure, whatever wakes us. */
  let notBefore = 0
  let retryTimer: ReturnType<typeof setTimeout> | undefined

  const lose = () => {
    generation += 1
    cache.setLive(false)
    schedule()
  }
  const schedule = () => {
    if (stopped || retryTimer !== undefined) return
    retryTimer = setTimeout(() => {
      retryTimer = undefined
      void establish()
    }, Math.max(0, notBefore - Date.now()))
  }

  const establish = async () => {
    if (stopped || establishing || cache.isLive) return
    if (main.status !== "ready" || subscriber.status !== "ready") return // their "ready" calls us again
    establishing = true
    const at = generation
    try {
      if (redirectId === undefined) {
        // CLIENT ID first: a RESP2 connection in subscriber mode takes no other commands.
        const id = String(await subscriber.client("ID"))
        await subscriber.subscribe(INVALIDATE_CHANNEL)
        if (at === generation) redirectId = id
      }
      const id = redirectId
      if (id === undefined || at !== generation) return
      await main.client("TRACKING", "OFF")
      await main.client("TRACKING", "ON", "REDIRECT", id, "OPTIN")
      const listed = String(await main.client("LIST", "ID", id))
      if (!listed.includes(` name=${name} `)) throw new Error("the redirect target is not our subscriber")
      if (at === generation && !stopped) {
        failures = 0
        notBefore = 0
        cache.setLive(true)
      }
    } catch {
      // Not live; a connection is down or on another server: drop the subscriber's side and retry.
      if (!stopped && at === generation) {
        notBefore = Date.now() + retryDelayMs(failures++)
        subscriber.disconnect(true)
        schedule()
      }
    } finally {
      establishing = false
      if (!cache.isLive && at !== generation) schedule()
    }
  }

  subscriber.on("messageBuffer", (channel: Buffer, payload: Array<Buffer> | Buffer | null) => {
    if (channel.toString() !== INVALIDATE_CHANNEL) return
    if (payload === null || !Array.isArray(payload)) cache.flush()
    else cache.invalidate(payload.map((key) => key.toString("utf8")))
  })
  const onReady = () => schedule()
  subscriber.on("close", () => {
    redirectId = undefined
    lose()
  })
  subscriber.on("ready", onReady)
  main.on("close", lose)
  main.on("ready", onReady)

  /**
   * The barrier before a hit: a PING on the subscriber, sent after the read arrived. Redis
   * queues every invalidation on that connection in the order it made the writes, so when the
   * PONG is in, every invalidation for a write Redis made before it saw the PING has been
   * handled (ioredis emits the messages synchronously while parsing, before it resolves the
   * PING). Any write acknowledged to anyone before our read arrived is one of those: a hit
   * after the barrier cannot be older than that write (docs/read-cache.md).
   *
   * One PING answers every read that registered before it was sent: the reads of one turn of
   * the event loop share the PING sent at its end (setImmediate), so under load a PING costs
   * Redis and this process a share of one command per batch of reads, not one per read. PINGs
   * of successive turns are pipelined (up to MAX_BARRIER_PINGS in flight), so a hit waits one
   * round trip; beyond that (Redis slow), reads wait for the next PONG and go in the PING sent
   * then. With a single PING in flight, a read arriving while it was out waited for it and
   * then for its own: up to two round trips, and under the benchmark's closed loop that latency
   * was most of a GetBalance's CPU (fewer calls per turn of the event loop).
   * `false`: no answer (the connection dropped or timed out): the caller reads from Redis.
   */
  let waiting: Array<(ok: boolean) => void> = []
  let pingsOut = 0
  let sendScheduled = false
  const sendPing = () => {
    const batch = waiting
    waiting = []
    pingsOut += 1
    const done = (ok: boolean) => {
      pingsOut -= 1
      for (const resume of batch) resume(ok)
      schedulePing()
    }
    subscriber.ping().then(() => done(true), () => done(false))
  }
  const sendAtEndOfTurn = () => {
    sendScheduled = false
    if (waiting.length > 0 && pingsOut < MAX_BARRIER_PINGS) sendPing()
  }
  const schedulePing = () => {
    if (sendScheduled || waiting.length === 0 || pingsOut >= MAX_BARRIER_PINGS) return
    sendScheduled = true
    setImmediate(sendAtEndOfTurn)
  }
  const barrier = (resume: (ok: boolean) => void): void => {
    waiting.push(resume)
    schedulePing()
  }

  yield* Effect.acquireRelease(
    Effect.promise(() => subscriber.connect().then(() => undefined, () => undefined)),
    () =>
      Effect.promise(async () => {
        stopped = true
        if (retryTimer !== undefined) clearTimeout(retryTimer)
        main.off("close", lose)
        main.off("ready", onReady)
        cache.setLive(false)
        await subscriber.quit().then(() => undefined, () => subscriber.disconnect())
      })
  )
  schedule()
  return { barrier }
})
