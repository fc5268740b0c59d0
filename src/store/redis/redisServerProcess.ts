import { mkdirSync } from "node:fs"
import { join, resolve } from "node:path"
import { connect } from "node:net"
import {
  isAlive,
  liveOrphan,
  onFreePort,
  recordOwnerIn,
  type ServerChild,
  spawnUntilReady,
  stopChild,
  waitForExit
} from "../../childProcess/serverChild.ts"

/**
 * A private redis-server child, as plain promises so that both the service
 * (LocalRedisServer) and the test helper use the same settings: AOF with
 * fsync on every write (an acknowledged write survives kill -9), noeviction
 * (an evicted key is lost money), no RDB snapshots, loopback only.
 */
export interface RedisServerProcess extends ServerChild {
  /** TCP on 127.0.0.1. */
  readonly url: string
  /**
   * `unix://<dir>/redis.sock`, when that path fits in a socket address. The service's own
   * connection uses it: on loopback TCP each write also pays for Redis' side of the TCP stack
   * (about a tenth of the service's CPU per call in the game benchmark).
   */
  readonly socketUrl: string | undefined
}

export class RedisServerMissing extends Error {
  constructor(binary: string) {
    super(
      `'${binary}' was not found on PATH. Install Redis (Debian/Ubuntu: apt-get install redis-server; ` +
        "macOS: brew install redis) or set REDIS_URL to an existing Redis."
    )
    this.name = "RedisServerMissing"
  }
}

/** sun_path holds 108 bytes on Linux (104 on macOS), the terminating NUL included. */
const MAX_SOCKET_PATH_BYTES = 100

/** Where the server's Unix socket goes, or undefined when `dir` is too deep for one. */
export const socketPathFor = (dir: string): string | undefined => {
  const path = join(resolve(dir), "redis.sock")
  return Buffer.byteLength(path) <= MAX_SOCKET_PATH_BYTES ? path : undefined
}

export const redisServerArgs = (port: number, dir: string): Array<string> => {
  const socket = socketPathFor(dir)
  return [
    "--port", String(port),
    "--bind", "127.0.0.1",
    ...(socket === undefined ? [] : ["--unixsocket", socket, "--unixsocketperm", "700"]),
    "--dir", dir,
    "--appendonly", "yes",
    "--appendfsync", "always",
    "--maxmemory-policy", "noeviction",
    "--save", "",
    "--daemonize", "no",
    "--loglevel", "warning"
  ]
}

const pingOnce = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const socket = connect({ port, host: "127.0.0.1" })
    let reply = ""
    const done = (ok: boolean) => {
      socket.destroy()
      resolve(ok)
    }
    socket.setTimeout(500, () => done(false))
    socket.on("error", () => done(false))
    socket.on("connect", () => socket.write("PING\r\n"))
    socket.on("data", (chunk) => {
      reply += chunk.toString("utf8")
      if (reply.includes("\r\n")) done(reply.startsWith("+PONG"))
    })
  })

/** Starts redis-server on `port` with data in `dir`; resolves once it answers PING. */
export const spawnRedisServer = async (options: {
  readonly port: number
  readonly dir: string
  readonly binary?: string
  readonly readyTimeoutMs?: number
  /**
   * Its own process group: a signal to the service's group (Ctrl-C at a terminal, `kill -- -pgid`)
   * does not reach it, so it keeps serving while the service drains and is stopped by the service after.
   */
  readonly ownProcessGroup?: boolean
}): Promise<RedisServerProcess> => {
  const binary = options.binary ?? "redis-server"
  mkdirSync(options.dir, { recursive: true })
  const { child, exited } = await spawnUntilReady({
    name: "redis-server",
    command: binary,
    args: redisServerArgs(options.port, options.dir),
    detached: options.ownProcessGroup === true,
    readyTimeoutMs: options.readyTimeoutMs ?? 10_000,
    readiness: "answering PING",
    tooLate: `redis-server on port ${options.port} did not answer PING in time`,
    isReady: () => pingOnce(options.port),
    spawnError: (e) => e.code === "ENOENT" ? new RedisServerMissing(binary) : e,
    kill: (c) => c.kill("SIGKILL")
  })
  const socket = socketPathFor(options.dir)
  return {
    port: options.port,
    dir: options.dir,
    url: `redis://127.0.0.1:${options.port}`,
    socketUrl: socket === undefined ? undefined : `unix://${socket}`,
    child,
    exited
  }
}

/** Picks a free port; retries on the small race where someone else takes it first. */
export const spawnRedisServerOnFreePort = (options: {
  readonly dir: string
  readonly binary?: string
  readonly ownProcessGroup?: boolean
}): Promise<RedisServerProcess> =>
  onFreePort((port) => spawnRedisServer({ ...options, port }), (e) => e instanceof RedisServerMissing)

/** Stops the child with `signal` (SIGKILL after `graceMs`) and waits for it to exit. */
export const stopRedisServer = async (
  server: RedisServerProcess,
  signal: NodeJS.Signals = "SIGTERM",
  graceMs = 10_000
): Promise<void> => {
  await stopChild(server, (s) => server.child.kill(s), signal, graceMs)
}

const ownerFile = (dir: string) => join(dir, "owner.json")

/** Notes which process serves `dir`, so that a later start can find an orphan. */
export const recordOwner = (server: RedisServerProcess): void => {
  recordOwnerIn(ownerFile(server.dir), server)
}

/**
 * If this service was killed without stopping its redis-server, that child
 * still runs on `dir`; a second server on the same AOF would corrupt it. An
 * orphan (recorded pid alive and answering PING on the recorded port) is
 * stopped gracefully first, which also flushes its AOF.
 */
export const stopOrphanedServer = async (dir: string, timeoutMs = 10_000): Promise<boolean> => {
  const orphan = await liveOrphan(ownerFile(dir), isAlive, pingOnce)
  if (orphan === undefined) return false
  // Continued first: a stopped process acts on nothing (stopChild).
  process.kill(orphan.pid, "SIGCONT")
  process.kill(orphan.pid, "SIGTERM")
  await waitForExit(orphan.pid, isAlive, timeoutMs, `orphaned redis-server (pid ${orphan.pid}) on ${dir}`)
  return true
}
