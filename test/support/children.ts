import { existsSync, readFileSync } from "node:fs"
import { join } from "node:path"
import type { ChildProcess } from "node:child_process"

/**
 * Every process a chaos test starts. If the test worker exits without its
 * cleanup (a crash, a timeout that tears the worker down), they are killed
 * with it instead of lingering on their ports.
 */
const children = new Set<ChildProcess>()

const killAll = () => {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) {
      try {
        child.kill("SIGKILL")
      } catch {
        // already gone
      }
    }
  }
}
process.once("exit", killAll)

export const registerChild = (child: ChildProcess): void => {
  children.add(child)
  child.once("exit", () => children.delete(child))
}

/**
 * A service started with the archive on and no DATABASE_URL runs a private PostgreSQL under
 * DATA_DIR/postgres in its own process group; a test that killed the service with -9 leaves it
 * running (the service's next start on the same DATA_DIR would stop it). Before a test deletes such
 * a DATA_DIR, this kills that server (nothing of it is kept).
 */
export const killPrivatePostgres = (dataDir: string): void => {
  const ownerFile = join(dataDir, "postgres", "postgres-owner.json")
  if (!existsSync(ownerFile)) return
  try {
    const { pid } = JSON.parse(readFileSync(ownerFile, "utf8")) as { pid?: unknown }
    if (typeof pid === "number" && pid > 1) process.kill(-pid, "SIGKILL")
  } catch {
    // gone already, or a torn file from a process killed while writing it
  }
}
