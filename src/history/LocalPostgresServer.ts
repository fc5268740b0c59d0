import { resolve } from "node:path"
import { Context, Effect, Layer, Schema } from "effect"
import { superviseServer } from "../childProcess/superviseServer.ts"
import { AppConfig } from "../config.ts"
import {
  recordPostgresOwner,
  spawnPostgresServer,
  spawnPostgresServerOnFreePort,
  stopOrphanedPostgres,
  stopPostgresServer
} from "./postgresServerProcess.ts"

/** The private PostgreSQL could not be started; the message says how to fix it. */
export class LocalPostgresUnavailable extends Schema.TaggedError<LocalPostgresUnavailable>()("LocalPostgresUnavailable", {
  reason: Schema.String
}) {
  override get message() {
    return `cannot start the local PostgreSQL: ${this.reason}`
  }
}

/**
 * The embedded history store of `npm start` without DATABASE_URL: a private
 * PostgreSQL from the machine's own binaries, cluster under DATA_DIR/postgres,
 * loopback only. Chosen over PGlite (WASM PostgreSQL in this process) by
 * measurement: ~0.9 s initdb once and ~0.25 s per start, ~70 MB, in its own
 * processes, against ~5 s per start and ~480 MB inside the service's event
 * loop; the SQL is the same either way, and the tests need the real server.
 * Like the private redis-server it lives as long as the layer (fast shutdown
 * at the end) and is started again if it dies.
 */
export class LocalPostgresServer extends Context.Service<LocalPostgresServer, {
  readonly url: string
  readonly port: number
  readonly dir: string
}>()("balance/LocalPostgresServer") {
  static readonly layer = Layer.effect(
    LocalPostgresServer,
    Effect.gen(function*() {
      const dir = resolve(yield* AppConfig.dataDir, "postgres", "data")
      const port = yield* AppConfig.localPostgresPort
      // Restarted on the same port and cluster, crash recovery replays its WAL: every committed
      // batch is there. Meanwhile the archive lags.
      const server = yield* superviseServer({
        name: "local PostgreSQL",
        dir,
        stopOrphan: () => stopOrphanedPostgres(dir),
        start: () => port === 0 ? spawnPostgresServerOnFreePort({ dir }) : spawnPostgresServer({ port, dir }),
        restart: (port) => spawnPostgresServer({ port, dir }),
        stop: (server) => stopPostgresServer(server),
        recordOwner: recordPostgresOwner,
        unavailable: (cause) => new LocalPostgresUnavailable({ reason: cause instanceof Error ? cause.message : String(cause) })
      })
      yield* Effect.logInfo("local PostgreSQL started").pipe(
        Effect.annotateLogs({ pid: server.child.pid ?? -1, port: server.port, dir: server.dir })
      )
      return LocalPostgresServer.of({ url: server.url, port: server.port, dir: server.dir })
    })
  )
}
