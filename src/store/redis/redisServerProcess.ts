import { type ChildProcess, spawn } from "node:child_process"
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { join, resolve } from "node:path"
import { connect, createServer } from "node:net"

/**
 * A private redis-server child, as plain promises so that both the service
 * (LocalRedisServer) and the test helper use the same settings: AOF with
 * fsync on every write (an acknowledged write survives kill -9), noeviction
 * (an evicted key is lost money), no RDB snapshots, loopback only.
 */
export interface RedisServerProcess {
  readonly port: number
  readonly dir: string
  /** TCP on 127.0.0.1. */
  readonly url: string
  /**
   * `unix://<dir>/redis.sock`, when that path fits in a socket address. The service's own
   * connection uses it: on loopback TCP each write also pays for Redis' side of the TCP stack
   * (about a tenth of the service's CPU per call in the game benchmark).
   */
  readonly socketUrl: string | undefined
  readonly child: ChildProcess
  /** Resolves when the process has exited. */
  readonly exited: Promise<void>
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

export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer()
    server.unref()
    server.on("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      server.close(() => resolve(port))
    })
  })

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

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

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
  const child = spawn(binary, redisServerArgs(options.port, options.dir), {
    stdio: ["ignore", "pipe", "pipe"],
    detached: options.ownProcessGroup === true
  })
  let output = ""
  child.stdout?.on("data", (c: Buffer) => void (output = (output + c.toString("utf8")).slice(-4000)))
  child.stderr?.on("data", (c: Buffer) => void (output = (output + c.toString("utf8")).slice(-4000)))
  let failure: Error | undefined
  const exited = new Promise<void>((resolve) => {
    child.once("error", (e: NodeJS.ErrnoException) => {
      failure = e.code === "ENOENT" ? new RedisServerMissing(binary) : e
      resolve()
    })
    child.once("exit", (code, signal) => {
      failure ??= new Error(`redis-server exited (${signal ?? code}) before answering PING: ${output.trim()}`)
      resolve()
    })
  })
  const deadline = Date.now() + (options.readyTimeoutMs ?? 10_000)
  while (Date.now() < deadline) {
    if (failure) throw failure
    if (await pingOnce(options.port)) {
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
    await sleep(25)
  }
  child.kill("SIGKILL")
  await exited
  throw new Error(`redis-server on port ${options.port} did not answer PING in time: ${output.trim()}`)
}

/** Picks a free port; retries on the small race where someone else takes it first. */
export const spawnRedisServerOnFreePort = (options: {
  readonly dir: string
  readonly binary?: string
  readonly ownProcessGroup?: boolean
}): Promise<RedisServerProcess> =>
  onFreePort((port) => spawnRedisServer({ ...options, port }), (e) => e instanceof RedisServerMissing)

/**
 * Starts a server on a free port, three tries: another process may take the port between
 * freePort() and the server's bind. A failure `isFinal` says no retry can fix is thrown at once.
 */
export const onFreePort = async <A>(start: (port: number) => Promise<A>, isFinal: (e: unknown) => boolean): Promise<A> => {
  let last: unknown
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await start(await freePort())
    } catch (e) {
      if (isFinal(e)) throw e
      last = e
    }
  }
  throw last
}

/** Stops the child with `signal` (SIGKILL after `graceMs`) and waits for it to exit. */
export const stopRedisServer = async (
  server: RedisServerProcess,
  signal: NodeJS.Signals = "SIGTERM",
  graceMs = 10_000
): Promise<void> => {
  if (server.child.exitCode !== null || server.child.signalCode !== null) return
  server.child.kill(signal)
  const timer = setTimeout(() => server.child.kill("SIGKILL"), graceMs)
  await server.exited
  clearTimeout(timer)
}

const ownerFile = (dir: string) => join(dir, "owner.json")

/** Whether a process with this pid exists (signal 0 checks without sending anything). */
export const isAlive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/** Notes which process serves `dir`, so that a later start can find an orphan. */
export const recordOwner = (server: RedisServerProcess): void => {
  writeFileSync(ownerFile(server.dir), JSON.stringify({ pid: server.child.pid, port: server.port }))
}

/**
 * If this service was killed without stopping its redis-server, that child
 * still runs on `dir`; a second server on the same AOF would corrupt it. An
 * orphan (recorded pid alive and answering PING on the recorded port) is
 * stopped gracefully first, which also flushes its AOF.
 */
export const stopOrphanedServer = async (dir: string, timeoutMs = 10_000): Promise<boolean> => {
  if (!existsSync(ownerFile(dir))) return false
  let owner: { pid?: unknown; port?: unknown }
  try {
    owner = JSON.parse(readFileSync(ownerFile(dir), "utf8")) as { pid?: unknown; port?: unknown }
  } catch {
    owner = {}
  }
  rmSync(ownerFile(dir), { force: true })
  const { pid, port } = owner
  if (typeof pid !== "number" || typeof port !== "number" || !isAlive(pid) || !(await pingOnce(port))) return false
  process.kill(pid, "SIGTERM")
  const deadline = Date.now() + timeoutMs
  while (isAlive(pid)) {
    if (Date.now() > deadline) throw new Error(`orphaned redis-server (pid ${pid}) on ${dir} did not stop`)
    await sleep(50)
  }
  return true
}
