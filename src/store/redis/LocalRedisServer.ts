import { resolve } from "node:path"
import { Context, Effect, Layer, Schedule, Schema } from "effect"
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
 * DATA_DIR/redis, AOF fsync always), in its own process group so that a
 * signal to the service's group does not stop it under the draining service.
 * It lives as long as the layer: the scope's end (after the servers drained)
 * stops it with SIGTERM and waits for it to exit, so its AOF is closed cleanly; if it dies before that, it is started again on the same
 * port and dir. Give `url` (its Unix socket, else TCP) to the store as REDIS_URL.
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
      /** The running child; replaced when the supervisor below restarts it. */
      let current: RedisServerProcess | undefined
      let stopping = false
      const server = yield* Effect.acquireRelease(
        Effect.tryPromise({
          try: async (): Promise<RedisServerProcess> => {
            const server = await (port === 0
              ? spawnRedisServerOnFreePort({ dir, ownProcessGroup: true })
              : spawnRedisServer({ port, dir, ownProcessGroup: true }))
            recordOwner(server)
            current = server
            return server
          },
          catch: unavailable
        }),
        () =>
          Effect.suspend(() => {
            stopping = true
            return current === undefined ? Effect.void : Effect.promise(() => stopRedisServer(current!))
          }).pipe(Effect.tap(() => Effect.logInfo("local redis-server stopped")))
      )
      // Supervision: a private redis-server that dies (OOM killer, kill -9) is started again on the
      // same port and dir; it reloads its AOF, which holds every acknowledged write (fsync always).
      // Meanwhile the store answers UNAVAILABLE, credits queue, and the client reconnects by itself.
      const restartAfterExit: Effect.Effect<void> = Effect.gen(function*() {
        for (;;) {
          const running = current!
          yield* Effect.promise(() => running.exited)
          if (stopping) return
          yield* Effect.logError("local redis-server exited unexpectedly; starting it again").pipe(
            Effect.annotateLogs({ pid: running.child.pid ?? -1, exitCode: String(running.child.exitCode ?? running.child.signalCode) })
          )
          const restarted = yield* Effect.tryPromise({
            try: () => spawnRedisServer({ port: running.port, dir, ownProcessGroup: true }),
            catch: unavailable
          }).pipe(
            Effect.tapError((e) => Effect.logError("local redis-server restart failed; trying again in 1 s", e.reason)),
            Effect.retry(Schedule.spaced("1 second")),
            Effect.orDie // unreachable: the retry never gives up
          )
          if (stopping) {
            yield* Effect.promise(() => stopRedisServer(restarted))
            return
          }
          recordOwner(restarted)
          current = restarted
          yield* Effect.logInfo("local redis-server restarted").pipe(Effect.annotateLogs({ pid: restarted.child.pid ?? -1 }))
        }
      })
      yield* Effect.forkScoped(restartAfterExit)
      yield* Effect.logInfo("local redis-server started").pipe(
        Effect.annotateLogs({
          pid: server.child.pid ?? -1,
          url: server.url,
          socket: server.socketUrl ?? "none (DATA_DIR too deep)",
          dir: server.dir
        })
      )
      // The Unix socket when there is one: cheaper per call than loopback TCP. TCP stays open for redis-cli.
      return LocalRedisServer.of({ url: server.socketUrl ?? server.url, port: server.port, dir: server.dir })
    })
  )
}
