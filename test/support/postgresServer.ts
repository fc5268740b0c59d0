import { chmodSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Context, Effect, Layer } from "effect"
import {
  type PostgresServerProcess,
  spawnPostgresServer,
  spawnPostgresServerOnFreePort,
  stopPostgresServer
} from "../../src/history/postgresServerProcess.ts"
import { serverControls, type ServerControls } from "./serverControls.ts"

/**
 * A real PostgreSQL server for one test file, from the machine's binaries: a
 * free port (never the 5432 of a system cluster), a fresh cluster in a temp
 * dir, stopped and deleted after the file. It can be killed (-9), restarted on
 * the same port and cluster (crash recovery replays the WAL), and frozen
 * (SIGSTOP of the whole process group) / thawed, which is how a hung database
 * looks to its clients.
 */
export interface TestPostgresServer extends ServerControls {
  readonly url: string
  readonly port: number
  readonly dir: string
}

/** Servers still running when the worker exits (a crash, a torn-down worker) are killed with it. */
const running = new Set<PostgresServerProcess>()
process.once("exit", () => {
  for (const server of running) {
    try {
      if (server.child.pid !== undefined) process.kill(-server.child.pid, "SIGKILL")
    } catch {
      // already gone
    }
  }
})

const track = (server: PostgresServerProcess) => {
  running.add(server)
  void server.exited.then(() => running.delete(server))
  return server
}

export const startTestPostgresServer = async (): Promise<TestPostgresServer> => {
  const root = mkdtempSync(join(tmpdir(), "balance-pg-"))
  // As root the server runs as `postgres`, which must be able to reach the cluster inside.
  chmodSync(root, 0o755)
  const dir = join(root, "data")
  let current: PostgresServerProcess
  try {
    current = track(await spawnPostgresServerOnFreePort({ dir }))
  } catch (e) {
    rmSync(root, { recursive: true, force: true })
    throw e
  }
  const { port, url } = current
  const controls = serverControls(current, {
    root,
    respawn: async (port) => track(await spawnPostgresServer({ port, dir })),
    stop: (s, signal) => stopPostgresServer(s, signal),
    // The whole process group: postgres and its backends freeze and thaw together.
    signal: (s, signal) => {
      if (s.child.pid !== undefined) process.kill(-s.child.pid, signal)
    }
  })
  return { url, port, dir, ...controls }
}

/** The server as a service, so @effect/vitest `layer(...)` starts it once per block and disposes it after. */
export class TestPostgres extends Context.Service<TestPostgres, TestPostgresServer>()("test/TestPostgres") {
  static readonly layer = Layer.effect(
    TestPostgres,
    Effect.acquireRelease(
      Effect.promise(startTestPostgresServer),
      (server) => Effect.promise(server.dispose)
    )
  )
}
