import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Context, Effect, Layer } from "effect"
import { Redis } from "ioredis"
import {
  type RedisServerProcess,
  spawnRedisServer,
  spawnRedisServerOnFreePort,
  stopRedisServer
} from "../../src/store/redis/redisServerProcess.ts"
import { registerChild } from "./children.ts"
import { serverControls, type ServerControls } from "./serverControls.ts"

/**
 * A real redis-server for one test file: a free port (never 6379), a fresh
 * temp dir, the service's persistence settings (AOF fsync always,
 * noeviction). It can be killed (-9), stopped, restarted on the same port and
 * dir (the AOF is reloaded), and frozen (SIGSTOP) / thawed (SIGCONT), which is
 * how a hung Redis looks to its clients: connections stay open, nothing answers.
 */
export interface TestRedisServer extends ServerControls {
  readonly url: string
  /** The same server's Unix socket (`unix://...`), as the service's private Redis is reached. */
  readonly socketUrl: string
  readonly port: number
  readonly dir: string
  readonly pid: () => number
}

export const startTestRedisServer = async (): Promise<TestRedisServer> => {
  const dir = mkdtempSync(join(tmpdir(), "balance-redis-"))
  let current: RedisServerProcess
  try {
    current = await spawnRedisServerOnFreePort({ dir })
  } catch (e) {
    rmSync(dir, { recursive: true, force: true })
    throw e
  }
  registerChild(current.child)
  const { port, url, socketUrl } = current
  if (socketUrl === undefined) throw new Error(`no Unix socket for ${dir}: the temp dir path is too long`)
  const controls = serverControls(current, {
    root: dir,
    respawn: async (port) => {
      const restarted = await spawnRedisServer({ port, dir })
      registerChild(restarted.child)
      return restarted
    },
    stop: (s, signal = "SIGTERM") => stopRedisServer(s, signal),
    signal: (s, signal) => void s.child.kill(signal)
  })
  return { url, socketUrl, port, dir, pid: () => controls.current().child.pid ?? -1, ...controls }
}

/** The server as a service, so @effect/vitest `layer(...)` starts it once per block and disposes it after. */
export class TestRedis extends Context.Service<TestRedis, TestRedisServer>()("test/TestRedis") {
  static readonly layer = Layer.effect(
    TestRedis,
    Effect.acquireRelease(
      Effect.promise(startTestRedisServer),
      (server) => Effect.promise(server.dispose)
    )
  )

  /**
   * A plain ioredis client on the test server for the scope, for looking (and writing) behind the
   * stores' backs and killing connections; errors are swallowed so that a killed server does not
   * crash the test run.
   */
  static readonly rawClient = Effect.gen(function*() {
    const server = yield* TestRedis
    return yield* Effect.acquireRelease(
      Effect.sync(() => {
        const client = new Redis(server.url, { maxRetriesPerRequest: 1 })
        client.on("error", () => {})
        return client
      }),
      (client) => Effect.promise(() => client.quit().then(() => undefined, () => client.disconnect()))
    )
  })
}
