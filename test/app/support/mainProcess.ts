import { type ChildProcess, spawn } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { freePort } from "../../../src/childProcess/serverChild.ts"
import { nodeBinary } from "../../chaos/support/serviceProcess.ts"
import { killPrivatePostgres, registerChild } from "../../support/children.ts"

export const ROOT = fileURLToPath(new URL("../../../", import.meta.url))

// biome-ignore lint: log lines are whatever JSON the service printed
export type LogLine = Record<string, any>

export interface MainProcess {
  readonly child: ChildProcess
  readonly dataDir: string
  readonly ports: { readonly http: number; readonly grpc: number; readonly metrics: number }
  /** Everything printed so far. */
  readonly stdout: () => string
  readonly stderr: () => string
  /** The stdout lines so far, each parsed as JSON (a line that is not JSON makes this throw, naming it). */
  readonly jsonLines: () => Array<LogLine>
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  /** SIGTERM, then the exit code (SIGKILL after `graceMs`). */
  readonly stop: (graceMs?: number) => Promise<number | null>
  /** Removes DATA_DIR (after the process exited). */
  readonly cleanup: () => void
}

/** Every stdout line is one JSON object: a line that is not (a banner, a raw library message) fails the test. */
export const parseJsonLines = (stdout: string): Array<LogLine> =>
  stdout.split("\n").filter((line) => line.trim() !== "").map((line) => {
    try {
      return JSON.parse(line) as LogLine
    } catch {
      throw new Error(`stdout has a line that is not JSON: ${line}`)
    }
  })

/**
 * Starts `node src/main.ts` (Node 24) on the memory store, 127.0.0.1, free ports and a fresh
 * DATA_DIR, plus `env` (which wins). Nothing of the developer's environment but PATH and HOME.
 */
export const spawnMain = async (env: Readonly<Record<string, string>> = {}): Promise<MainProcess> => {
  const dataDir = mkdtempSync(join(tmpdir(), "balance-main-"))
  const ports = { http: await freePort(), grpc: await freePort(), metrics: await freePort() }
  const child = spawn(nodeBinary(), ["src/main.ts"], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? "",
      HOME: process.env.HOME ?? "",
      BALANCE_STORE: "memory",
      DATA_DIR: dataDir,
      HOST: "127.0.0.1",
      HTTP_PORT: String(ports.http),
      GRPC_PORT: String(ports.grpc),
      METRICS_PORT: String(ports.metrics),
      ...env
    },
    stdio: ["ignore", "pipe", "pipe"]
  })
  registerChild(child)
  let stdout = ""
  let stderr = ""
  child.stdout!.on("data", (c: Buffer) => stdout += c.toString())
  child.stderr!.on("data", (c: Buffer) => stderr += c.toString())
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal }))
  )
  return {
    child,
    dataDir,
    ports,
    stdout: () => stdout,
    stderr: () => stderr,
    jsonLines: () => parseJsonLines(stdout),
    exited,
    stop: async (graceMs = 20_000) => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM")
      const timer = setTimeout(() => child.kill("SIGKILL"), graceMs)
      const { code } = await exited
      clearTimeout(timer)
      return code
    },
    cleanup: () => {
      killPrivatePostgres(dataDir)
      rmSync(dataDir, { recursive: true, force: true })
    }
  }
}

/**
 * Runs main until it exits on its own (a start that fails); returns what it printed. One that is
 * still running after `timeoutMs` is killed (SIGKILL) and reported with code null.
 */
export const runMainToExit = async (env: Readonly<Record<string, string>>, timeoutMs = 45_000) => {
  const main = await spawnMain(env)
  const timer = setTimeout(() => main.child.kill("SIGKILL"), timeoutMs)
  const { code } = await main.exited
  clearTimeout(timer)
  return { code, stdout: main.stdout(), stderr: main.stderr(), dataDir: main.dataDir, cleanup: main.cleanup }
}
