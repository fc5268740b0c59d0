import { Effect, Schedule, type Scope } from "effect"
import type { ServerChild } from "./serverChild.ts"

export interface Supervised<S extends ServerChild, E extends { readonly reason: string }> {
  /** How the logs name it ("local redis-server"). */
  readonly name: string
  /** Its data directory, for the logs. */
  readonly dir: string
  /** Stops an orphan an earlier run left on the same data; true when there was one. */
  readonly stopOrphan: () => Promise<boolean>
  /** The first start (a free port when the configured one is 0). */
  readonly start: () => Promise<S>
  /** A restart on the port the first start got. */
  readonly restart: (port: number) => Promise<S>
  readonly stop: (server: S) => Promise<void>
  /** Notes the running child, so that the next start finds it if this process dies without stopping it. */
  readonly recordOwner: (server: S) => void
  readonly unavailable: (cause: unknown) => E
}

/**
 * A private server that lives as long as the scope: started (after stopping an orphan), stopped
 * when the scope closes (after the servers drained), and started again on the same port and data
 * whenever it dies before that (OOM killer, kill -9), retrying every second until it comes back.
 * Its own durability (Redis' AOF with fsync always, PostgreSQL's WAL) means a restart loses nothing
 * that was acknowledged. Returns the first server; a restarted one keeps its address.
 */
export const superviseServer = Effect.fn("superviseServer")(function*<S extends ServerChild, E extends { readonly reason: string }>(
  server: Supervised<S, E>
): Effect.fn.Return<S, E, Scope.Scope> {
  if (yield* Effect.tryPromise({ try: server.stopOrphan, catch: server.unavailable })) {
    yield* Effect.logWarning(`stopped an orphaned ${server.name.replace(/^local /, "")} left by an earlier run`).pipe(
      Effect.annotateLogs({ dir: server.dir })
    )
  }
  /** The running child; replaced when the loop below restarts it. */
  let current: S | undefined
  let stopping = false
  const first = yield* Effect.acquireRelease(
    Effect.tryPromise({
      try: async () => {
        const started = await server.start()
        server.recordOwner(started)
        current = started
        return started
      },
      catch: server.unavailable
    }),
    () =>
      Effect.suspend(() => {
        stopping = true
        return current === undefined ? Effect.void : Effect.promise(() => server.stop(current!))
      }).pipe(Effect.tap(() => Effect.logInfo(`${server.name} stopped`)))
  )
  const restartAfterExit = Effect.fnUntraced(function*() {
    for (;;) {
      const running = current!
      yield* Effect.promise(() => running.exited)
      if (stopping) return
      yield* Effect.logError(`${server.name} exited unexpectedly; starting it again`).pipe(
        Effect.annotateLogs({ pid: running.child.pid ?? -1, exitCode: String(running.child.exitCode ?? running.child.signalCode) })
      )
      const restarted = yield* Effect.tryPromise({ try: () => server.restart(running.port), catch: server.unavailable }).pipe(
        Effect.tapError((e) => Effect.logError(`${server.name} restart failed; trying again in 1 s`, e.reason)),
        Effect.retry(Schedule.spaced("1 second")),
        Effect.orDie // unreachable: the retry never gives up
      )
      if (stopping) {
        yield* Effect.promise(() => server.stop(restarted))
        return
      }
      server.recordOwner(restarted)
      current = restarted
      yield* Effect.logInfo(`${server.name} restarted`).pipe(Effect.annotateLogs({ pid: restarted.child.pid ?? -1 }))
    }
  })
  yield* Effect.forkScoped(restartAfterExit())
  return first
})
