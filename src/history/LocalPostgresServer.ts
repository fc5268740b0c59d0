import { resolve } from "node:path"
import { Context, Effect, Layer, Schedule, Schema } from "effect"
import { AppConfig } from "../config.ts"
import {
  type PostgresServerProcess,
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
      const unavailable = (cause: unknown) =>
        new LocalPostgresUnavailable({ reason: cause instanceof Error ? cause.message : String(cause) })
      if (yield* Effect.tryPromise({ try: () => stopOrphanedPostgres(dir), catch: unavailable })) {
        yield* Effect.logWarning("stopped an orphaned PostgreSQL left by an earlier run").pipe(Effect.annotateLogs({ dir }))
      }
      let current: PostgresServerProcess | undefined
      let stopping = false
      const server = yield* Effect.acquireRelease(
        Effect.tryPromise({
          try: async () => {
            const started = await (port === 0 ? spawnPostgresServerOnFreePort({ dir }) : spawnPostgresServer({ port, dir }))
            recordPostgresOwner(started)
            current = started
            return started
          },
          catch: unavailable
        }),
        () =>
          Effect.suspend(() => {
            stopping = true
            return current === undefined ? Effect.void : Effect.promise(() => stopPostgresServer(current!))
          }).pipe(Effect.tap(() => Effect.logInfo("local PostgreSQL stopped")))
      )
      // A private PostgreSQL that dies is started again on the same port and cluster (crash
      // recovery replays its WAL: every committed batch is there). Meanwhile the archive lags.
      const restartAfterExit: Effect.Effect<void> = Effect.gen(function*() {
        for (;;) {
          const running = current!
          yield* Effect.promise(() => running.exited)
          if (stopping) return
          yield* Effect.logError("local PostgreSQL exited unexpectedly; starting it again").pipe(
            Effect.annotateLogs({ pid: running.child.pid ?? -1 })
          )
          const restarted = yield* Effect.tryPromise({
            try: () => spawnPostgresServer({ port: running.port, dir }),
            catch: unavailable
          }).pipe(
            Effect.tapError((e) => Effect.logError("local PostgreSQL restart failed; trying again in 1 s", e.reason)),
            Effect.retry(Schedule.spaced("1 second")),
            Effect.orDie
          )
          if (stopping) {
            yield* Effect.promise(() => stopPostgresServer(restarted))
            return
          }
          recordPostgresOwner(restarted)
          current = restarted
          yield* Effect.logInfo("local PostgreSQL restarted").pipe(Effect.annotateLogs({ pid: restarted.child.pid ?? -1 }))
        }
      })
      yield* Effect.forkScoped(restartAfterExit)
      yield* Effect.logInfo("local PostgreSQL started").pipe(
        Effect.annotateLogs({ pid: server.child.pid ?? -1, port: server.port, dir: server.dir })
      )
      return LocalPostgresServer.of({ url: server.url, port: server.port, dir: server.dir })
    })
  )
}
