import { resolve } from "node:path"
import { Context, Effect, Layer, Schema } from "effect"
import { superviseServer } from "../../childProcess/superviseServer.ts"
import { AppConfig } from "../../config.ts"
import {
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
      // Restarted on the same port and dir, it reloads its AOF, which holds every acknowledged write
      // (fsync always). Meanwhile the store answers UNAVAILABLE, credits queue, and the client reconnects by itself.
      const server = yield* superviseServer({
        name: "local redis-server",
        dir,
        stopOrphan: () => stopOrphanedServer(dir),
        start: () =>
          port === 0
            ? spawnRedisServerOnFreePort({ dir, ownProcessGroup: true })
            : spawnRedisServer({ port, dir, ownProcessGroup: true }),
        restart: (port) => spawnRedisServer({ port, dir, ownProcessGroup: true }),
        stop: (server) => stopRedisServer(server),
        recordOwner,
        unavailable: (cause) => new LocalRedisUnavailable({ reason: cause instanceof Error ? cause.message : String(cause) })
      })
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
