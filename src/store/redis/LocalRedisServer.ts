import { resolve } from "node:path"
import { Context, Effect, Layer, Schema } from "effect"
import { AppConfig } from "../../config.ts"
import {
  type RedisServerProcess,
  spawnRedisServer,
  spawnRedisServerOnFreePort,
  recordOwner,
  stopOrphanedServer,
  stopRedisServer
} from "./redisServerProcess.ts"

/** The private redis-server could not be started; the message says how to fix it. */
export class LocalRedisUnavailable extends Schema.TaggedError<LocalRedisUnavailable>()("LocalRedisUnavailable", {
  reason: Schema.String
}) {
  override get message() {
    return `cannot start the local redis-server: ${this.reason}`
  }
}

/**
 * A private redis-server for `npm start` without REDIS_URL (data under
 * DATA_DIR/redis, AOF fsync always). It lives as long as the layer: the
 * scope's end stops it with SIGTERM and waits for it to exit, so its AOF is
 * closed cleanly. Give `url` (its Unix socket, else TCP) to the store as REDIS_URL.
 */
export class LocalRedisServer extends Context.Service<LocalRedisServer, {
  readonly url: string
  readonly port: number
  readonly dir: string
}>()("balance/LocalRedisServer") {
  static readonly layer = Layer.effect(
    LocalRedisServer,
    Effect.gen(function*() {
      const dir = resolve(yield* AppConfig.dataDir, "redis")
      const port = yield* AppConfig.localRedisPort
      const unavailable = (cause: unknown) =>
        new LocalRedisUnavailable({ reason: cause instanceof Error ? cause.message : String(cause) })
      if (yield* Effect.tryPromise({ try: () => stopOrphanedServer(dir), catch: unavailable })) {
        yield* Effect.logWarning("stopped an orphaned redis-server left by an earlier run").pipe(
          Effect.annotateLogs({ dir })
        )
      }
      const server = yield* Effect.acquireRelease(
        Effect.tryPromise({
          try: async (): Promise<RedisServerProcess> => {
            const server = await (port === 0 ? spawnRedisServerOnFreePort({ dir }) : spawnRedisServer({ port, dir }))
            recordOwner(server)
            return server
          },
          catch: unavailable
        }),
        (s) =>
          Effect.promise(() => stopRedisServer(s)).pipe(
            Effect.tap(() => Effect.logInfo("local redis-server stopped"))
          )
      )
      yield* Effect.logInfo("local redis-server started").pipe(
        Effect.annotateLogs({ url: server.url, socket: server.socketUrl ?? "none (DATA_DIR too deep)", dir: server.dir })
      )
      // The Unix socket when there is one: cheaper per call than loopback TCP. TCP stays open for redis-cli.
      return LocalRedisServer.of({ url: server.socketUrl ?? server.url, port: server.port, dir: server.dir })
    })
  )
}
