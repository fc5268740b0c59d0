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
