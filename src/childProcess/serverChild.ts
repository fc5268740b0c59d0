import { type ChildProcess, spawn } from "node:child_process"
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { createServer } from "node:net"

/**
 * What the private servers (redis-server, postgres) have in common, as plain promises so that the
 * service's supervisors and the test helpers start them the same way: a child whose last output is
 * kept for the error message, which is ready once a probe says so, and an owner file that lets the
 * next start find an orphan.
 */
export interface ServerChild {
  readonly port: number
  readonly dir: string
  readonly child: ChildProcess
  /** Resolves when the process has exited. */
  readonly exited: Promise<void>
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

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

/** Whether a process with this pid exists (signal 0 checks without sending anything). */
export const isAlive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

export interface SpawnUntilReady {
  /** The server's name in error messages ("redis-server", "postgres"). */
  readonly name: string
  readonly command: string
  readonly args: ReadonlyArray<string>
  /** Its own process group: a signal to the service's group does not reach it (the service stops it after draining). */
  readonly detached: boolean
  readonly readyTimeoutMs: number
  /** What "ready" means, in the words of the error when it exits first ("answering PING"). */
  readonly readiness: string
  /** The error's words when it is not ready in time ("redis-server on port 6379 did not answer PING in time"). */
  readonly tooLate: string
  /** Asked every 25 ms with the output so far until it says yes. */
  readonly isReady: (output: string) => Promise<boolean>
  /** A spawn error (ENOENT: binary missing) as the error to throw. */
  readonly spawnError: (e: NodeJS.ErrnoException) => Error
  /** Kills the child when it did not get ready in time. */
  readonly kill: (child: ChildProcess) => void
}

/** Spawns the child and resolves once `isReady`; rejects with its last output if it exits first or takes too long. */
export const spawnUntilReady = async (options: SpawnUntilReady): Promise<{ readonly child: ChildProcess; readonly exited: Promise<void> }> => {
  const child = spawn(options.command, [...options.args], { stdio: ["ignore", "pipe", "pipe"], detached: options.detached })
  let output = ""
  child.stdout?.on("data", (c: Buffer) => void (output = (output + c.toString("utf8")).slice(-4000)))
  child.stderr?.on("data", (c: Buffer) => void (output = (output + c.toString("utf8")).slice(-4000)))
  let failure: Error | undefined
  const exited = new Promise<void>((resolve) => {
    child.once("error", (e: NodeJS.ErrnoException) => {
      failure = options.spawnError(e)
      resolve()
    })
    child.once("exit", (code, signal) => {
      failure ??= new Error(`${options.name} exited (${signal ?? code}) before ${options.readiness}: ${output.trim()}`)
      resolve()
    })
  })
  const deadline = Date.now() + options.readyTimeoutMs
  while (Date.now() < deadline) {
    if (failure) throw failure
    if (await options.isReady(output)) return { child, exited }
    await sleep(25)
  }
  options.kill(child)
  await exited
  throw new Error(`${options.tooLate}: ${output.trim()}`)
}

/**
 * Signals the child (`kill`), SIGKILL after `graceMs`, and waits for it to exit. SIGCONT first: a
 * stopped (SIGSTOP) server does not act on the signal until it is continued, so the stop of a
 * server frozen by an operator or a chaos run would wait out the grace and kill it.
 */
export const stopChild = async (
  server: ServerChild,
  kill: (signal: NodeJS.Signals) => void,
  signal: NodeJS.Signals,
  graceMs: number
): Promise<void> => {
  if (server.child.exitCode !== null || server.child.signalCode !== null) return
  kill("SIGCONT")
  kill(signal)
  const timer = setTimeout(() => kill("SIGKILL"), graceMs)
  await server.exited
  clearTimeout(timer)
}

/** Notes in `file` which process serves there, so that a later start can find an orphan. */
export const recordOwnerIn = (file: string, server: ServerChild): void => {
  writeFileSync(file, JSON.stringify({ pid: server.child.pid, port: server.port }))
}

/**
 * The owner an earlier run recorded in `file` (the file is removed: this start takes over), when
 * it still looks alive and answers on its port; undefined otherwise.
 */
export const liveOrphan = async (
  file: string,
  alive: (pid: number) => boolean,
  answers: (port: number) => Promise<boolean>
): Promise<{ readonly pid: number; readonly port: number } | undefined> => {
  if (!existsSync(file)) return undefined
  let owner: { pid?: unknown; port?: unknown }
  try {
    owner = JSON.parse(readFileSync(file, "utf8")) as { pid?: unknown; port?: unknown }
  } catch {
    owner = {}
  }
  rmSync(file, { force: true })
  const { pid, port } = owner
  if (typeof pid !== "number" || typeof port !== "number" || !alive(pid) || !(await answers(port))) return undefined
  return { pid, port }
}

/** Waits until `alive(pid)` is false; throws `what` did not stop after `timeoutMs`. */
export const waitForExit = async (pid: number, alive: (pid: number) => boolean, timeoutMs: number, what: string) => {
  const deadline = Date.now() + timeoutMs
  while (alive(pid)) {
    if (Date.now() > deadline) throw new Error(`${what} did not stop`)
    await sleep(50)
  }
}
