import { rmSync } from "node:fs"
import type { ServerChild } from "../../src/childProcess/serverChild.ts"

/** What a test does to a real server it started: kill it, stop it, freeze it, start it again, throw it away. */
export interface ServerControls {
  /** SIGKILL, no chance to flush anything beyond what fsync already wrote (also ends a frozen server). */
  readonly kill9: () => Promise<void>
  /** The server's own graceful stop. */
  readonly stop: () => Promise<void>
  readonly freeze: () => void
  readonly thaw: () => void
  /** Starts it again (after kill9/stop) on the same port and data. */
  readonly restart: () => Promise<void>
  /** Stops it and deletes `root`. */
  readonly dispose: () => Promise<void>
  /** The child now running (a restart replaces it). */
  readonly current: () => ServerChild
}

/**
 * The controls over a started server. `signal` reaches what must freeze with it (redis-server
 * itself, postgres' whole process group); a frozen server is thawed before it is stopped.
 */
export const serverControls = <S extends ServerChild>(first: S, server: {
  readonly root: string
  readonly respawn: (port: number) => Promise<S>
  readonly stop: (s: S, signal?: NodeJS.Signals) => Promise<void>
  readonly signal: (s: S, signal: NodeJS.Signals) => void
}): ServerControls => {
  let current = first
  const signal = (s: NodeJS.Signals) => {
    if (current.child.exitCode === null && current.child.signalCode === null) server.signal(current, s)
  }
  const stop = async () => {
    signal("SIGCONT")
    await server.stop(current)
  }
  return {
    kill9: () => server.stop(current, "SIGKILL"),
    stop,
    freeze: () => signal("SIGSTOP"),
    thaw: () => signal("SIGCONT"),
    restart: async () => {
      await stop()
      current = await server.respawn(current.port)
    },
    dispose: async () => {
      await stop()
      rmSync(server.root, { recursive: true, force: true })
    },
    current: () => current
  }
}
