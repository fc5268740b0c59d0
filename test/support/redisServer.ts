import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Context, Effect, Layer } from "effect"
import {
  type RedisServerProcess,
  spawnRedisServer,
  spawnRedisServerOnFreePort,
  stopRedisServer
} from "../../src/store/redis/redisServerProcess.ts"

/**
 * A real redis-server for one test file: a free port (never 6379), a fresh
 * temp dir, the service's persistence settings (AOF fsync always,
 * noeviction). `restart` reuses port and dir, so the AOF is reloaded.
 */
export interface TestRedisServer {
  readonly url: string
  readonly port: number
  readonly dir: string
  /** SIGKILL, no chance to flush anything beyond what fsync already wrote. */
  readonly kill9: () => Promise<void>
  /** Graceful SIGTERM. */
  readonly stop: () => Promise<void>
  /** Starts it again (after kill9/stop) on the same port and dir. */
  readonly restart: () => Promise<void>
  /** Stops it and deletes the dir. */
  readonly dispose: () => Promise<void>
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
  const { port, url } = current
  return {
    url,
    port,
    dir,
    kill9: () => stopRedisServer(current, "SIGKILL"),
    stop: () => stopRedisServer(current, "SIGTERM"),
    restart: async () => {
      await stopRedisServer(current, "SIGTERM")
      current = await spawnRedisServer({ port, dir })
    },
    dispose: async () => {
      await stopRedisServer(current, "SIGTERM")
      rmSync(dir, { recursive: true, force: true })
    }
  }
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
}
