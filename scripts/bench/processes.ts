/**
 * The processes a benchmark run owns: its own redis-server (the service's
 * persistence settings, from the service's own code), the compiled service,
 * the do-nothing baseline, and a no-op OTLP sink. All on 127.0.0.1, free
 * ports, data in a temp dir; each is stopped by its own pid.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process"
import { createWriteStream, existsSync, readdirSync, readFileSync, statSync } from "node:fs"
import { createServer, type Server } from "node:http"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import * as grpc from "@grpc/grpc-js"
import { freePort } from "../../src/childProcess/serverChild.ts"
import {
  type RedisServerProcess,
  spawnRedisServerOnFreePort,
  stopRedisServer
} from "../../src/store/redis/redisServerProcess.ts"
import { BENCH_ADMIN_KEY, loadBalanceClientConstructor, type Message } from "./proto.ts"

export const ROOT = fileURLToPath(new URL("../../", import.meta.url))

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

// ---------------------------------------------------------------------------
// Build
// ---------------------------------------------------------------------------

const newestMtime = (dir: string): number => {
  let newest = 0
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs)
  }
  return newest
}

/** `npm run build` when dist/ is missing or older than anything in src/. */
export const ensureBuilt = (log: (line: string) => void) => {
  const main = join(ROOT, "dist/main.js")
  if (existsSync(main) && newestMtime(join(ROOT, "dist")) >= newestMtime(join(ROOT, "src"))) return
  log("dist/ is stale: npm run build")
  const r = spawnSync("npm", ["run", "build"], { cwd: ROOT, stdio: ["ignore", "inherit", "inherit"] })
  if (r.status !== 0) throw new Error("npm run build failed")
}

// ---------------------------------------------------------------------------
// Redis
// ---------------------------------------------------------------------------

export const startRedis = (dir: string): Promise<RedisServerProcess> => spawnRedisServerOnFreePort({ dir })
export const stopRedis = (redis: RedisServerProcess) => stopRedisServer(redis)

// ---------------------------------------------------------------------------
// Child processes with a readiness probe
// ---------------------------------------------------------------------------

export interface Child {
  readonly name: string
  readonly child: ChildProcess
  readonly pid: number
  readonly exited: Promise<void>
  readonly logFile: string
}

const spawnLogged = (name: string, args: ReadonlyArray<string>, env: NodeJS.ProcessEnv, logFile: string): Child => {
  const log = createWriteStream(logFile)
  const child = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] })
  child.stdout?.pipe(log)
  child.stderr?.pipe(log)
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()))
  if (child.pid === undefined) throw new Error(`${name} did not start`)
  return { name, child, pid: child.pid, exited, logFile }
}

const tail = (file: string) => {
  try {
    return readFileSync(file, "utf8").split("\n").slice(-20).join("\n")
  } catch {
    return ""
  }
}

/** SIGTERM (SIGKILL after the grace period) to this child only, and wait for it. */
export const stopChild = async (c: Child, graceMs = 10_000) => {
  if (c.child.exitCode !== null || c.child.signalCode !== null) return
  c.child.kill("SIGTERM")
  const timer = setTimeout(() => c.child.kill("SIGKILL"), graceMs)
  await c.exited
  clearTimeout(timer)
}

/** Answers once a GetBalance goes through (the service also needs Redis for that). */
const probeGrpc = async (address: string, deadlineMs: number, child: Child) => {
  const Client = loadBalanceClientConstructor()
  const client = new Client(address, grpc.credentials.createInsecure()) as grpc.Client & Message
  try {
    const until = Date.now() + deadlineMs
    for (;;) {
      if (child.child.exitCode !== null) throw new Error(`${child.name} exited early:\n${tail(child.logFile)}`)
      const ok = await new Promise<boolean>((resolve) =>
        client.GetBalance({ account_id: "bench-probe" }, { deadline: Date.now() + 1000 }, (e: grpc.ServiceError | null) => resolve(!e)))
      if (ok) return
      if (Date.now() > until) throw new Error(`${child.name} did not answer on ${address}:\n${tail(child.logFile)}`)
      await sleep(100)
    }
  } finally {
    client.close()
  }
}

// ---------------------------------------------------------------------------
// The service and the baseline
// ---------------------------------------------------------------------------

export interface Service extends Child {
  readonly grpcAddress: string
  readonly metricsUrl: string
  readonly httpUrl: string
  readonly dataDir: string
  /** The postmaster of the PostgreSQL it archives to (the bench's private one), if any. */
  readonly postgresPid?: number | undefined
}

export interface ServiceOptions {
  readonly redisUrl: string
  readonly dataDir: string
  readonly logFile: string
  /** Extra environment (OTEL_EXPORTER_OTLP_ENDPOINT for --tracing). */
  readonly env?: Readonly<Record<string, string>>
  /** Extra node flags (--cpu-prof ...). */
  readonly nodeArgs?: ReadonlyArray<string>
  /** The postmaster of the PostgreSQL it archives to: its CPU is measured with the service's. */
  readonly postgresPid?: number | undefined
}

export const startService = async (options: ServiceOptions): Promise<Service> => {
  const [httpPort, grpcPort, metricsPort] = [await freePort(), await freePort(), await freePort()]
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    NODE_ENV: "production",
    REDIS_URL: options.redisUrl,
    HOST: "127.0.0.1",
    HTTP_PORT: String(httpPort),
    GRPC_PORT: String(grpcPort),
    METRICS_PORT: String(metricsPort),
    DATA_DIR: options.dataDir,
    ADMIN_API_KEY: BENCH_ADMIN_KEY,
    // Effect's name for the warning level; "Warning" is not one (the service then exits 1 without a word).
    LOG_LEVEL: "Warn",
    ...options.env
  }
  const child = spawnLogged("service", [...(options.nodeArgs ?? []), "dist/main.js"], env, options.logFile)
  const grpcAddress = `127.0.0.1:${grpcPort}`
  try {
    await probeGrpc(grpcAddress, 30_000, child)
  } catch (e) {
    await stopChild(child)
    throw e
  }
  return {
    ...child,
    grpcAddress,
    metricsUrl: `http://127.0.0.1:${metricsPort}/metrics`,
    httpUrl: `http://127.0.0.1:${httpPort}`,
    dataDir: options.dataDir,
    postgresPid: options.postgresPid
  }
}

/**
 * CPU seconds (user + system, with the exited children each one waited for: the postmaster's
 * backends, which end when a pool closes) of process `root` and all its descendants. By
 * descendants, not by process group: PostgreSQL puts each of its children in a process group of
 * its own, so a process-group sum saw only runuser and the postmaster (it reported 0.00 s).
 */
export const processTreeCpuSeconds = (root: number): number => {
  const processes = new Map<number, { readonly parent: number; readonly ticks: number }>()
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8")
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
      processes.set(Number(entry), {
        parent: Number(fields[1]),
        ticks: Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14])
      })
    } catch {
      // gone meanwhile
    }
  }
  const inTree = (pid: number): boolean => {
    for (let at = pid, hops = 0; at > 1 && hops < 64; at = processes.get(at)?.parent ?? 0, hops++) {
      if (at === root) return true
    }
    return false
  }
  let ticks = 0
  for (const [pid, p] of processes) if (inTree(pid)) ticks += p.ticks
  return ticks / 100 // USER_HZ
}

export const startBaseline = async (logFile: string): Promise<Child & { readonly grpcAddress: string }> => {
  const port = await freePort()
  const child = spawnLogged("baseline", [join(ROOT, "scripts/bench/baselineServer.ts"), String(port)], { PATH: process.env.PATH }, logFile)
  const grpcAddress = `127.0.0.1:${port}`
  try {
    await probeGrpc(grpcAddress, 15_000, child)
  } catch (e) {
    await stopChild(child)
    throw e
  }
  return { ...child, grpcAddress }
}

export const scrapeMetrics = async (service: Service): Promise<string> => {
  const response = await fetch(service.metricsUrl)
  if (!response.ok) throw new Error(`GET ${service.metricsUrl}: ${response.status}`)
  return response.text()
}

// ---------------------------------------------------------------------------
// A no-op OTLP/HTTP endpoint for --tracing
// ---------------------------------------------------------------------------

export interface OtlpSink {
  readonly url: string
  readonly requests: () => number
  readonly bytes: () => number
  /** Spans received, and those of them named `grpc.*` (one per gRPC call: the server span). */
  readonly spans: () => { readonly all: number; readonly grpc: number }
  readonly close: () => Promise<void>
}

interface OtlpJsonTraces {
  readonly resourceSpans?: ReadonlyArray<{ readonly scopeSpans?: ReadonlyArray<{ readonly spans?: ReadonlyArray<{ readonly name?: string }> }> }>
}

/** Reads and drops every export; answers 200 with an empty (JSON) partial-success body. */
export const startOtlpSink = async (): Promise<OtlpSink> => {
  let requests = 0
  let bytes = 0
  const spans = { all: 0, grpc: 0 }
  const server: Server = createServer((req, res) => {
    const chunks: Array<Buffer> = []
    req.on("data", (chunk: Buffer) => {
      bytes += chunk.length
      chunks.push(chunk)
    })
    req.on("end", () => {
      requests += 1
      try {
        const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as OtlpJsonTraces
        for (const r of body.resourceSpans ?? []) {
          for (const scope of r.scopeSpans ?? []) {
            for (const span of scope.spans ?? []) {
              spans.all += 1
              if (span.name?.startsWith("grpc.")) spans.grpc += 1
            }
          }
        }
      } catch {
        // not JSON: counted as a request and bytes only
      }
      res.writeHead(200, { "content-type": "application/json" }).end("{}")
    })
  })
  const port = await freePort()
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve))
  return {
    url: `http://127.0.0.1:${port}`,
    requests: () => requests,
    bytes: () => bytes,
    spans: () => ({ ...spans }),
    close: () => new Promise<void>((resolve) => server.close(() => resolve()))
  }
}
