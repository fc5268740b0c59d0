import { type ChildProcess, spawn } from "node:child_process"
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { connect } from "node:net"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { freePort } from "../../../src/childProcess/serverChild.ts"
import { killPrivatePostgres, registerChild } from "../../support/children.ts"
import { eventually, PollAborted } from "../../support/eventually.ts"

const ROOT = fileURLToPath(new URL("../../../", import.meta.url))

/** Node 24 runs src/main.ts directly (type stripping): this runner if it is Node 24, else the pinned binary. */
export const nodeBinary = (): string => {
  if (process.versions.node.startsWith("24.")) return process.execPath
  const pinned = join(ROOT, "node_modules", ".bin", "node")
  if (!existsSync(pinned)) throw new Error("Node 24 not found: run `npm ci` (the `node` devDependency) or run the tests on Node 24")
  return pinned
}

export const ADMIN_KEY = "chaos-admin-key"

// biome-ignore lint: log lines are whatever JSON the service printed
export type LogLine = Record<string, any>

export interface ServiceOptions {
  readonly redisUrl: string
  /** Reuse a DATA_DIR (restart after a crash); a fresh temp dir otherwise. */
  readonly dataDir?: string
  /** Extra environment (overrides the defaults below). */
  readonly env?: Readonly<Record<string, string>>
  /** Where the service's stdout/stderr are copied, for reading after a failure; default DATA_DIR/service.log. */
  readonly logFile?: string
  readonly readyTimeoutMs?: number
  /** Listen on these ports (a restart at the same address, as clients configured with it expect); free ones otherwise. */
  readonly ports?: { readonly http: number; readonly grpc: number; readonly metrics: number }
}

export interface ServiceProcess {
  readonly pid: number
  readonly ports: { readonly http: number; readonly grpc: number; readonly metrics: number }
  readonly httpUrl: string
  readonly grpcAddress: string
  readonly metricsUrl: string
  readonly dataDir: string
  readonly logFile: string
  readonly child: ChildProcess
  /** Every JSON line the service printed so far (stdout), in order. */
  readonly logs: Array<LogLine>
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  /** The first log line matching `match`, waiting up to `timeoutMs` for it. */
  readonly waitForLog: (what: string, match: (line: LogLine) => boolean, timeoutMs: number) => Promise<LogLine>
  readonly kill9: () => Promise<void>
  /** SIGTERM, then waits for the exit (SIGKILL after `graceMs`); resolves with the exit code. */
  readonly terminate: (graceMs?: number) => Promise<number | null>
  /** Prometheus text from METRICS_PORT. */
  readonly metrics: () => Promise<string>
  readonly http: (path: string, init?: RequestInit) => Promise<Response>
}

/** Settings that make a chaos run fail fast and sweep/verify often; each test overrides what it needs. */
const defaults = (ports: { http: number; grpc: number; metrics: number }, redisUrl: string, dataDir: string) => ({
  REDIS_URL: redisUrl,
  HOST: "127.0.0.1",
  HTTP_PORT: String(ports.http),
  GRPC_PORT: String(ports.grpc),
  METRICS_PORT: String(ports.metrics),
  DATA_DIR: dataDir,
  LOG_LEVEL: "Info",
  ADMIN_API_KEY: ADMIN_KEY,
  REDIS_COMMAND_TIMEOUT_MS: "300",
  STORE_RETRY_ATTEMPTS: "1",
  CREDIT_QUEUE_DRAIN_MS: "200",
  RESERVATION_SWEEP_MS: "250",
  LEDGER_VERIFY_INTERVAL_MS: "60000",
  LEDGER_FULL_VERIFY_INTERVAL_MS: "3600000",
  GRPC_SHUTDOWN_TIMEOUT_MS: "2000"
})

/** The environment of the child: only what a process needs to run, never the developer's REDIS_* or OTEL_* settings. */
const baseEnv = (): Record<string, string> => {
  const env: Record<string, string> = {}
  for (const k of ["PATH", "HOME", "TMPDIR", "LANG", "TZ"]) {
    const v = process.env[k]
    if (v !== undefined) env[k] = v
  }
  return env
}

/** Whether something accepts TCP connections on 127.0.0.1:port. */
export const portOpen = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const socket = connect({ port, host: "127.0.0.1" })
    const done = (ok: boolean) => {
      socket.destroy()
      resolve(ok)
    }
    socket.setTimeout(1000, () => done(false))
    socket.once("connect", () => done(true))
    socket.once("error", () => done(false))
  })

const startOnce = async (options: ServiceOptions): Promise<ServiceProcess | "bind-failed"> => {
  const ports = options.ports ?? { http: await freePort(), grpc: await freePort(), metrics: await freePort() }
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), "chaos-service-"))
  mkdirSync(dataDir, { recursive: true })
  const env = { ...baseEnv(), ...defaults(ports, options.redisUrl, dataDir), ...options.env }
  const child = spawn(nodeBinary(), ["src/main.ts"], { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] })
  registerChild(child)
  const logs: Array<LogLine> = []
  let stderr = ""
  let partial = ""
  const logFile = options.logFile ?? join(dataDir, "service.log")
  const copy = (text: string) => appendFileSync(logFile, text)
  child.stdout!.setEncoding("utf8")
  child.stdout!.on("data", (chunk: string) => {
    copy(chunk)
    partial += chunk
    const lines = partial.split("\n")
    partial = lines.pop() ?? ""
    for (const raw of lines) {
      if (raw.trim() === "") continue
      try {
        logs.push(JSON.parse(raw) as LogLine)
      } catch {
        logs.push({ message: raw, unparsed: true })
      }
    }
  })
  child.stderr!.setEncoding("utf8")
  child.stderr!.on("data", (chunk: string) => {
    copy(chunk)
    stderr = (stderr + chunk).slice(-4000)
  })
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal }))
  )
  let hasExited = false
  /** Set when the test itself stops the process; any other exit is reported as unexpected. */
  let stopping = false
  void exited.then(({ code, signal }) => {
    hasExited = true
    if (!stopping) console.error(`[chaos] service pid ${child.pid} exited unexpectedly (code ${code}, signal ${signal}); log: ${logFile}`)
  })
  const alive = () => {
    if (hasExited && !stopping) throw new PollAborted(`the service (pid ${child.pid}) exited unexpectedly; log: ${logFile}`)
  }

  const httpUrl = `http://127.0.0.1:${ports.http}`
  const http = (path: string, init?: RequestInit) => {
    alive()
    return fetch(`${httpUrl}${path}`, { ...init, signal: init?.signal ?? AbortSignal.timeout(15_000) })
  }
  const metricsUrl = `http://127.0.0.1:${ports.metrics}/metrics`

  const waitForLog = (what: string, match: (line: LogLine) => boolean, timeoutMs: number) =>
    eventually(what, () => {
      const found = logs.find(match)
      if (found === undefined) alive()
      return found
    }, { timeoutMs, intervalMs: 50 })

  const service: ServiceProcess = {
    pid: child.pid ?? -1,
    ports,
    httpUrl,
    grpcAddress: `127.0.0.1:${ports.grpc}`,
    metricsUrl,
    dataDir,
    logFile,
    child,
    logs,
    exited,
    waitForLog,
    kill9: async () => {
      stopping = true
      if (!hasExited) child.kill("SIGKILL")
      await exited
    },
    terminate: async (graceMs = 20_000) => {
      stopping = true
      if (!hasExited) child.kill("SIGTERM")
      const timer = setTimeout(() => child.kill("SIGKILL"), graceMs)
      const { code } = await exited
      clearTimeout(timer)
      return code
    },
    metrics: async () => {
      alive()
      const r = await fetch(metricsUrl, { signal: AbortSignal.timeout(10_000) })
      if (!r.ok) throw new Error(`GET /metrics: ${r.status}`)
      return r.text()
    },
    http
  }

  // Ready = the gRPC port accepts connections and HTTP says Redis answers; an exit ends the wait at once.
  const readyOrExited = await eventually("the service to be ready", async () => {
    if (hasExited) return "exited" as const
    const grpcUp = await portOpen(ports.grpc)
    const ready = grpcUp && (await http("/api/ready", { signal: AbortSignal.timeout(3000) }).then((r) => r.ok, () => false))
    return ready ? "ready" as const : undefined
  }, { timeoutMs: options.readyTimeoutMs ?? 60_000, intervalMs: 100 }).catch(async (e: unknown) => {
    stopping = true
    child.kill("SIGKILL")
    await exited
    killPrivatePostgres(dataDir)
    throw new Error(`${e instanceof Error ? e.message : String(e)}: ${stderr}\n${logs.slice(-10).map((l) => JSON.stringify(l)).join("\n")}`)
  })
  if (readyOrExited === "ready") return service
  stopping = true
  const bindFailed = /EADDRINUSE|address already in use|No address added/i.test(stderr + JSON.stringify(logs.slice(-5)))
  if (bindFailed) {
    killPrivatePostgres(dataDir)
    if (options.dataDir === undefined) rmSync(dataDir, { recursive: true, force: true })
    return "bind-failed"
  }
  throw new Error(`service exited before it was ready: ${stderr}\n${logs.slice(-10).map((l) => JSON.stringify(l)).join("\n")}`)
}

/**
 * Starts `node src/main.ts` as a child process on free ports against
 * `redisUrl` and waits until it is ready. Retries on the small race where a
 * port picked as free was taken before the service bound it.
 */
export const startService = async (options: ServiceOptions): Promise<ServiceProcess> => {
  for (let attempt = 1; ; attempt++) {
    const started = await startOnce(options)
    if (started !== "bind-failed") return started
    if (attempt >= 3) throw new Error("service could not bind its ports three times in a row")
  }
}

/** Parses Prometheus text into `name{labels}` -> value (labels as printed). */
export const parseMetrics = (text: string): Map<string, number> => {
  const out = new Map<string, number>()
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue
    const space = line.lastIndexOf(" ")
    out.set(line.slice(0, space), Number(line.slice(space + 1)))
  }
  return out
}

/** The value of one sample (0 when absent), e.g. metric(m, "balance_credit_queue_total", { event: "queued" }). */
export const metric = (metrics: Map<string, number>, name: string, labels: Readonly<Record<string, string>> = {}): number => {
  const entries = Object.entries(labels)
  for (const [key, value] of metrics) {
    const brace = key.indexOf("{")
    const n = brace === -1 ? key : key.slice(0, brace)
    if (n !== name) continue
    if (entries.every(([k, v]) => key.includes(`${k}="${v}"`))) return value
  }
  return 0
}

/** Sum of every sample of `name` whose labels include `labels`. */
export const metricSum = (metrics: Map<string, number>, name: string, labels: Readonly<Record<string, string>> = {}): number => {
  let sum = 0
  const entries = Object.entries(labels)
  for (const [key, value] of metrics) {
    const brace = key.indexOf("{")
    const n = brace === -1 ? key : key.slice(0, brace)
    if (n === name && entries.every(([k, v]) => key.includes(`${k}="${v}"`))) sum += value
  }
  return sum
}

/**
 * Removes a temp dir a chaos test made, unless CHAOS_KEEP_DIRS is set (to read logs and journals
 * afterwards). A private PostgreSQL a killed service left running there is killed first.
 */
export const removeDir = (dir: string): void => {
  killPrivatePostgres(dir)
  if (process.env.CHAOS_KEEP_DIRS) {
    console.log(`[chaos] kept ${dir}`)
    return
  }
  rmSync(dir, { recursive: true, force: true })
}
