import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import {
  type RedisServerProcess,
  spawnRedisServer,
  spawnRedisServerOnFreePort,
  stopRedisServer
} from "../../../src/store/redis/redisServerProcess.ts"
import { registerChild } from "./children.ts"

/**
 * A real redis-server for a chaos test: free port (never 6379), own temp dir,
 * the service's persistence settings (AOF appendfsync always, noeviction).
 * Besides kill -9 and restart on the same port and dir (the AOF is reloaded),
 * it can be frozen (SIGSTOP) and thawed (SIGCONT), which is how a hung Redis
 * looks to its clients: connections stay open, nothing answers.
 */
export interface ChaosRedis {
  readonly url: string
  readonly port: number
  readonly dir: string
  readonly pid: () => number
  readonly kill9: () => Promise<void>
  readonly stop: () => Promise<void>
  readonly freeze: () => void
  readonly thaw: () => void
  /** Starts a new redis-server on the same port and dir (after kill9/stop). */
  readonly restart: () => Promise<void>
  readonly dispose: () => Promise<void>
}

export const startChaosRedis = async (): Promise<ChaosRedis> => {
  const dir = mkdtempSync(join(tmpdir(), "chaos-redis-"))
  let current: RedisServerProcess
  try {
    current = await spawnRedisServerOnFreePort({ dir })
  } catch (e) {
    rmSync(dir, { recursive: true, force: true })
    throw e
  }
  registerChild(current.child)
  const { port, url } = current
  const signal = (s: NodeJS.Signals) => {
    if (current.child.exitCode === null && current.child.signalCode === null) current.child.kill(s)
  }
  return {
    url,
    port,
    dir,
    pid: () => current.child.pid ?? -1,
    // SIGKILL also ends a frozen process, without letting it run what it had buffered.
    kill9: () => stopRedisServer(current, "SIGKILL"),
    stop: async () => {
      signal("SIGCONT")
      await stopRedisServer(current, "SIGTERM")
    },
    freeze: () => signal("SIGSTOP"),
    thaw: () => signal("SIGCONT"),
    restart: async () => {
      signal("SIGCONT")
      await stopRedisServer(current, "SIGTERM")
      current = await spawnRedisServer({ port, dir })
      registerChild(current.child)
    },
    dispose: async () => {
      signal("SIGCONT")
      await stopRedisServer(current, "SIGTERM")
      rmSync(dir, { recursive: true, force: true })
    }
  }
}
