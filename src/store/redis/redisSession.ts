import { Effect, Random } from "effect"
import { Redis } from "ioredis"
import { StoreUnavailable } from "../StoreErrors.ts"
import { redisClientOptions } from "./redisConnectionOptions.ts"
import { ackBudgetMs, type RedisStoreOptions } from "./redisStoreOptions.ts"

/**
 * The store's one connection to Redis and how every call goes over it: connect (bounded, with
 * the reason ioredis only reports as events), a deadline per call, retries of whole store calls
 * on StoreUnavailable, and the Redis clock's offset for apply.lua's deadline.
 */
export interface RedisSession {
  readonly redis: Redis
  /** One Redis call: typed failure (StoreUnavailable), deadline commandTimeoutMs + extraMs. */
  readonly call: <A>(operation: string, run: () => Promise<A>, extraMs?: number) => Effect.Effect<A, StoreUnavailable>
  /** A whole store call again after StoreUnavailable, up to retryAttempts more times. */
  readonly retrying: <A>(effect: Effect.Effect<A, StoreUnavailable>) => Effect.Effect<A, StoreUnavailable>
  /** Now by the Redis clock (ours plus the measured offset), in Unix ms. */
  readonly redisNowMs: () => number
}

export const reasonOf = (cause: unknown): string => (cause instanceof Error ? cause.message : String(cause))

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
      new Promise<Redis>((resolve, reject) => {
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
          resolve(redis)
        }, fail)
      }),
    catch: (cause) => new StoreUnavailable({ operation: "connect", reason: reasonOf(cause) })
  })

/** Connects; the client lives as long as the surrounding scope. */
export const makeRedisSession = Effect.fnUntraced(function*(options: RedisStoreOptions) {
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

  const redis: Redis = yield* Effect.acquireRelease(
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
   * The lower bound, not the midpoint: Redis read its clock somewhere between `sent` and
   * `received`, so the offset is at least TIME - received. A deadline stated with it passes, by
   * the Redis clock, no later than our timer gives up on the call: a script Redis only gets to run
   * after we answered UNAVAILABLE is always late (with the midpoint it could be up to half a round
   * trip early: seen in CI, a withdrawal applied after its caller was told UNAVAILABLE).
   */
  let clockOffsetMs = 0
  const measureClockOffset = async () => {
    const [seconds, micros] = await redis.time()
    const received = Date.now()
    clockOffsetMs = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000) - received
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

  return { redis, call, retrying, redisNowMs: () => Date.now() + clockOffsetMs } satisfies RedisSession
})
